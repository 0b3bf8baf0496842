"""What prediction-based strategies share: the model's view of the pool.

A prediction-based strategy needs class probabilities for every candidate and, for the
gradient-based ones, per-sample model features. They come from, in this order:

1. ``predictions`` given to ``fit`` (an (n_samples, n_classes) array, or a loaded
   :class:`~labelscout.sources.predictions.Predictions`), with ``features`` when given,
   else the unit-normalised embeddings as the features;
2. else labelscout's own logistic head (:mod:`labelscout.models.logistic_head`) trained
   on the samples that have a label, predicted out of fold for them; its input is the
   feature.

Which samples are "labeled": those with a label. When every sample has one (class
folders), the head trains on all of them (out of fold) and only ``exclude`` limits the
candidates; otherwise labeled samples are already labeled and are never picked either.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Sequence

import numpy as np

from .._validation import Interval
from ..errors import InputError
from ..models.logistic_head import HeadPredictions, LogisticHead, fit_logistic_head, unit_rows
from ..pool import Pool
from ._base import BaseSelector, ComponentScores, as_pool

__all__ = ["ModelView", "PredictiveSelector", "model_view", "HEAD_CONSTRAINTS", "gradient_factors", "onehot_residual", "top_n"]

#: parameters of the fallback head, shared by every prediction-based strategy
HEAD_CONSTRAINTS = {
    "head_folds": [Interval(numbers.Integral, 2, None)],
    "head_C": [Interval(numbers.Real, 0, None, closed="neither")],
}


@dataclass
class ModelView:
    """probabilities (n, C) float64; features (n, L) float32; labeled bool (n,);
    labels (n,) class index or -1; class_names; head: the fitted head or None;
    source: "predictions" or "head"; info: for run.json."""

    probabilities: np.ndarray
    features: np.ndarray
    labeled: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    head: LogisticHead | None = None
    source: str = "predictions"
    info: dict[str, Any] = field(default_factory=dict)

    def head_input(self, vectors: np.ndarray) -> np.ndarray:
        """Outside vectors (e.g. a validation set) as the head's input."""
        return unit_rows(vectors)


def uses_predictions(selector: Any) -> bool:
    """A prediction-based strategy, or a combination with such a component: what gets a
    model's predictions (a file's, or a head's from the labels) and a validation set."""
    from . import STRATEGIES

    return bool(getattr(selector, "uses_predictions", False)) or any(
        getattr(STRATEGIES.get(c), "uses_predictions", False) for c in (getattr(selector, "strategies", None) or {}))


def _has_label(labels: Sequence[Any] | None, n: int) -> np.ndarray:
    if labels is None:
        return np.zeros(n, dtype=bool)
    return np.array([lab is not None and lab == lab and lab != "" for lab in labels], dtype=bool)


def onehot_residual(P: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """``p - onehot(y)`` per row, with ``y`` = argmax p (pseudo-labels) where not given or -1:
    the gradient of the cross-entropy with respect to the logits, (n, C)."""
    P = np.asarray(P, dtype=np.float64)
    target = np.argmax(P, axis=1) if y is None else np.where(np.asarray(y) >= 0, y, np.argmax(P, axis=1))
    A = P.copy()
    A[np.arange(P.shape[0]), target] -= 1.0
    return A


def gradient_factors(P: np.ndarray, Z: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The two factors of the last-layer gradient embedding ``g_i = a_i (x) z_i`` (outer
    product, C * L values): ``A = p - onehot(y)`` (n, C) and ``Z`` (n, L) as float64.

    ``<g_i, g_j> = (a_i . a_j)(z_i . z_j)``, so nothing of size C * L is ever built."""
    return onehot_residual(P, y), np.asarray(Z, dtype=np.float64)


def model_view(X: np.ndarray, labels: Sequence[Any] | None, *, predictions: Any = None, features: Any = None,
               needed: np.ndarray | None = None, ids: Sequence[str] | None = None, head_folds: int = 5,
               head_C: float = 1.0, seed: int = 0) -> ModelView:
    """The model's view of every pool row (see the module docs). ``needed``: rows that must
    have predictions (the candidates); a missing one is an error naming it."""
    n = X.shape[0]
    has = _has_label(labels, n)
    if predictions is None:
        if not has.any():
            raise InputError("Prediction-based strategies need a model's predictions or labeled samples; got neither.",
                             hint="Pass --predictions FILE (one probability column per class), or --labels FILE.csv "
                                  "with the labeled samples so labelscout trains a head on the embeddings.")
        hp: HeadPredictions = fit_logistic_head(X, labels, cv_folds=head_folds, C=head_C, seed=seed)
        Z = hp.features if features is None else _features(features, n)
        return ModelView(hp.probabilities, Z, hp.labeled, hp.labels, hp.class_names, hp.head, "head", hp.info)
    names = None
    if hasattr(predictions, "probabilities"):
        names = getattr(predictions, "class_names", None) or getattr(predictions, "classes", None)
        predictions = predictions.probabilities
    P = np.asarray(predictions, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != n:
        raise InputError(f"predictions must have shape ({n}, n_classes) for a pool of {n} samples; got {P.shape}.")
    names = [str(c) for c in names] if names is not None else [str(j) for j in range(P.shape[1])]
    rows = np.arange(n) if needed is None else np.asarray(needed)
    bad = rows[~np.isfinite(P[rows]).all(axis=1)]
    if bad.size:
        shown = ", ".join(repr(ids[i]) if ids is not None else f"row {i}" for i in bad[:5])
        raise InputError(f"{bad.size} candidate sample(s) have no (finite) predictions, e.g. {shown}.",
                         hint="Add their rows to the predictions file, or --exclude them.")
    P = np.where(np.isfinite(P), P, 0.0)
    y = np.full(n, -1, dtype=np.int64)
    if labels is not None and has.any():
        index = {c: j for j, c in enumerate(names)}
        for i in np.flatnonzero(has):
            y[i] = index.get(str(labels[i]), -1)
    Z = unit_rows(X) if features is None else _features(features, n)
    return ModelView(P, Z, has, y, names, None, "predictions", {})


def _features(features: Any, n: int) -> np.ndarray:
    F = getattr(features, "features", features)
    F = np.asarray(F, dtype=np.float32)
    if F.ndim != 2 or F.shape[0] != n:
        raise InputError(f"features must have shape ({n}, n_features) for a pool of {n} samples; got {F.shape}.")
    return np.where(np.isfinite(F), F, 0.0).astype(np.float32)


class PredictiveSelector(BaseSelector):
    """Base of prediction-based strategies. The model's view comes from the
    :class:`~labelscout.pool.Pool`: its ``predictions`` and ``features`` when present, else
    the logistic head on its labeled samples. Subclasses implement
    ``_select_with(view, pool, n, candidates)`` (``candidates``: bool mask) and
    ``_component(view, pool, candidates)`` (per-row scores for ``combine``)."""

    uses_predictions: ClassVar[bool] = True
    score_description = "model-based score"

    def fit(self, embeddings: Any, *, exclude: Any = None, ids: Sequence[str] | None = None,
            labels: Sequence[Any] | None = None, predictions: Any = None, features: Any = None) -> "PredictiveSelector":
        """Select from a Pool, or from ``embeddings`` (n_samples, n_features) with
        ``predictions`` ((n_samples, n_classes) probabilities or loaded Predictions) and
        ``features`` (n_samples, n_model_features) beside them."""
        pool = _with_model(as_pool(embeddings, ids=ids, labels=labels), predictions, features)
        return super().fit(pool, exclude=exclude)

    def _check_requirements(self, pool: Pool) -> None:
        super()._check_requirements(pool)
        if not self.needs_model:
            return
        if pool.predictions is None and not _has_label(pool.labels, len(pool)).any():
            raise InputError(f"{type(self).__name__} needs a model's predictions or labeled samples; got neither.",
                             hint="Pass --predictions FILE (one probability column per class), or --labels FILE.csv "
                                  "with the labeled samples so labelscout trains a head on the embeddings.")

    needs_model: ClassVar[bool] = True

    def candidates(self, pool: Pool, excluded: np.ndarray) -> np.ndarray:
        """Bool mask of pickable rows: not excluded, not already labeled (unless all are)."""
        cand = np.ones(len(pool), dtype=bool)
        cand[excluded] = False
        has = _has_label(pool.labels, len(pool))
        if has.any() and not has.all():
            cand &= ~has
        return cand

    def view(self, pool: Pool, candidates: np.ndarray) -> ModelView:
        view = model_view(np.asarray(pool.vectors), pool.labels, predictions=pool.predictions, features=pool.features,
                          needed=np.flatnonzero(candidates), ids=pool.ids, head_folds=self.head_folds,
                          head_C=self.head_C, seed=getattr(self, "seed", 0))
        self.model_source_ = view.source
        self.head_info_ = view.info
        return view

    def _select(self, pool, n, excluded):
        cand = self.candidates(pool, excluded)
        available = int(cand.sum())
        if n > available:
            raise InputError(f"Cannot select {n} samples: {len(pool) - available} of the {len(pool)} are excluded or "
                             f"already labeled, so at most {available} can be selected.",
                             hint=f"Use -n {available} or less.")
        return self._select_with(self.view(pool, cand), pool, n, cand)

    def component_scores(self, pool, excluded):
        cand = self.candidates(pool, excluded)
        return ComponentScores(self._component(self.view(pool, cand), pool, cand), blocked=np.flatnonzero(~cand))

    def _select_with(self, view: ModelView, pool: Pool, n: int, candidates: np.ndarray):
        raise NotImplementedError

    def _component(self, view: ModelView, pool: Pool, candidates: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _with_model(pool: Pool, predictions: Any, features: Any) -> Pool:
    if predictions is None and features is None:
        return pool
    if predictions is not None and not hasattr(predictions, "probabilities"):
        P = np.asarray(predictions, dtype=np.float64)
        if P.ndim != 2:
            raise InputError(f"predictions must have shape (n_samples, n_classes); got {P.shape}.")
        predictions = _ArrayPredictions(P, [str(j) for j in range(P.shape[1])])
    return replace(pool, predictions=predictions if predictions is not None else pool.predictions,
                   features=np.asarray(getattr(features, "features", features)) if features is not None else pool.features)


@dataclass
class _ArrayPredictions:
    """Bare probabilities given as an array (class names are the column numbers)."""

    probabilities: np.ndarray
    class_names: list[str]


def top_n(scores: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` candidates with the highest scores, ties to the lower index."""
    key = np.where(candidates, -np.asarray(scores, dtype=np.float64), np.inf)
    return np.lexsort((np.arange(key.size), key))[:n]
