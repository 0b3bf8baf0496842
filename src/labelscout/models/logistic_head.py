"""Predictions from labelscout itself: a logistic head on the embeddings.

A team with a labeled subset but no model of its own still gets class probabilities for
every sample: a multinomial logistic regression on the (unit-normalised) embeddings,
trained on the labeled samples. Labeled samples are predicted **out of fold** (stratified
``cv_folds``-fold cross-validation), so their probabilities are honest, as a real model's
would be on data it did not see; every other sample is predicted by the head trained on
all labeled samples. The head's input is also its penultimate "feature", so strategies
that need per-sample model features (BADGE's and the Fisher kernel's gradients) get them
from the same place.
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .._validation import Interval, Options, check_embeddings, validate_params
from ..errors import InputError

__all__ = ["HeadPredictions", "LogisticHead", "fit_logistic_head", "unit_rows"]


def unit_rows(X: Any) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


@dataclass
class HeadPredictions:
    """What the head says about every sample.

    probabilities : ndarray of shape (n_samples, n_classes), float64.
    class_names : sorted distinct labels (column order), as strings.
    labeled : bool ndarray of shape (n_samples,), the rows the head trained on.
    labels : int ndarray of shape (n_samples,), class index of labeled rows, -1 elsewhere.
    features : ndarray of shape (n_samples, n_features), the head's input (unit rows).
    head : the head fitted on every labeled row, to predict other samples (validation).
    info : folds, accuracy out of fold, seconds: for run.json.
    """

    probabilities: np.ndarray
    class_names: list[str]
    labeled: np.ndarray
    labels: np.ndarray
    features: np.ndarray
    head: "LogisticHead"
    info: dict[str, Any] = field(default_factory=dict)


class LogisticHead:
    """A multinomial logistic regression on unit-normalised vectors.

    Parameters
    ----------
    C : inverse L2 regularisation strength.
    max_iter : L-BFGS iterations.
    class_weight : None (every sample counts once) or "balanced" (each class weighs the
        same in the loss, so a class with few labels is still predicted: for biased pools).
    """

    _parameter_constraints = {
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None)],
        "class_weight": [Options({"balanced"}), None],
    }

    def __init__(self, *, C: float = 1.0, max_iter: int = 300, class_weight: str | None = None):
        self.C = C
        self.max_iter = max_iter
        self.class_weight = class_weight

    def fit(self, X: np.ndarray, y: np.ndarray, n_classes: int) -> "LogisticHead":
        """``X``: (n, d) head inputs (already unit rows); ``y``: (n,) ints in [0, n_classes)."""
        validate_params("LogisticHead", {"C": self.C, "max_iter": self.max_iter, "class_weight": self.class_weight},
                        self._parameter_constraints)
        from sklearn.linear_model import LogisticRegression

        self.n_classes_ = int(n_classes)
        self.classes_ = np.unique(y)
        if self.classes_.size == 1:  # one class seen: it gets probability 1
            self.model_ = None
            return self
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight=self.class_weight)
        with warnings.catch_warnings():
            # a few labels can leave L-BFGS short of its tolerance; the probabilities are still usable
            warnings.filterwarnings("ignore", message=".*lbfgs failed to converge.*")
            warnings.filterwarnings("ignore", category=UserWarning)
            from sklearn.exceptions import ConvergenceWarning

            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(np.asarray(X, dtype=np.float64), y)  # float64 coefficients: rows sum to 1 exactly
        return self

    def predict_proba(self, X: np.ndarray, block: int = 65536) -> np.ndarray:
        """(n, n_classes) probabilities; a class absent from training gets 0."""
        out = np.zeros((X.shape[0], self.n_classes_), dtype=np.float64)
        if self.model_ is None:
            out[:, self.classes_[0]] = 1.0
            return out
        for s in range(0, X.shape[0], block):
            out[s:s + block, self.classes_] = self.model_.predict_proba(np.asarray(X[s:s + block], dtype=np.float64))
        return out


def fit_logistic_head(embeddings: Any, labels: Sequence[Any], *, labeled: np.ndarray | None = None, cv_folds: int = 5,
                      C: float = 1.0, seed: int = 0, max_iter: int = 300, normalize: bool = True) -> HeadPredictions:
    """Class probabilities for every row of ``embeddings`` from a head trained on the labeled rows.

    ``labels``: one per row; None / "" / NaN = unlabeled. ``labeled``: optional bool mask
    restricting which labeled rows count as the training set (e.g. the already-labeled
    ``--exclude`` set when class folders label everything). Labeled rows are predicted out
    of fold; the rest by the head fitted on all labeled rows.
    """
    validate_params("fit_logistic_head", {"cv_folds": cv_folds, "seed": seed},
                    {"cv_folds": [Interval(numbers.Integral, 2, None)], "seed": [Interval(numbers.Integral, 0, None)]})
    X = check_embeddings(embeddings)
    if len(labels) != X.shape[0]:
        raise InputError(f"labels has {len(labels)} entries for {X.shape[0]} samples (embeddings shape {X.shape}); they must match.")
    has = np.array([lab is not None and lab == lab and lab != "" for lab in labels], dtype=bool)  # lab == lab drops NaN
    if labeled is not None:
        has &= np.asarray(labeled, dtype=bool)
    rows = np.flatnonzero(has)
    names = sorted({str(labels[i]) for i in rows})
    if len(names) < 2:
        raise InputError(f"A prediction head needs labeled samples of at least two classes; got {rows.size} labeled "
                         f"sample(s) of {len(names)} class(es) {names[:3]}.",
                         hint="Label a few samples of each class first (--labels FILE.csv), or pass --predictions FILE.")
    index = {c: i for i, c in enumerate(names)}
    y_all = np.full(X.shape[0], -1, dtype=np.int64)
    y_all[rows] = [index[str(labels[i])] for i in rows]
    F = unit_rows(X) if normalize else np.asarray(X, dtype=np.float32)
    head = LogisticHead(C=C, max_iter=max_iter).fit(F[rows], y_all[rows], len(names))
    P = head.predict_proba(F)
    folds = _out_of_fold(F[rows], y_all[rows], len(names), cv_folds, C, seed, max_iter)
    if folds is not None:
        P[rows] = folds
    oof_acc = float(np.mean(P[rows].argmax(axis=1) == y_all[rows]))
    info = {"trained_on": int(rows.size), "classes": len(names), "cv_folds": cv_folds if folds is not None else 0,
            "out_of_fold_accuracy": round(oof_acc, 4), "C": C, "seed": seed}
    return HeadPredictions(P, names, has, y_all, F, head, info)


def _out_of_fold(X: np.ndarray, y: np.ndarray, n_classes: int, cv_folds: int, C: float, seed: int,
                 max_iter: int) -> np.ndarray | None:
    """Out-of-fold probabilities of the training rows (None when there are too few rows to split)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if y.size < 2:
        return None
    counts = np.bincount(y, minlength=n_classes)
    smallest = int(counts[counts > 0].min())
    if smallest >= 2:
        splitter = StratifiedKFold(min(cv_folds, smallest), shuffle=True, random_state=seed)
    else:  # a class with one sample cannot be stratified; its held-out fold never saw it
        splitter = KFold(min(cv_folds, y.size), shuffle=True, random_state=seed)
    out = np.zeros((y.size, n_classes), dtype=np.float64)
    for train, held in splitter.split(X, y):
        out[held] = LogisticHead(C=C, max_iter=max_iter).fit(X[train], y[train], n_classes).predict_proba(X[held])
    return out
