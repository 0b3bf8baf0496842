"""Fisher-kernel matching of a biased pool to a labeled validation set (Gudovskiy et al.,
"Deep Active Learning for Biased Datasets via Fisher Kernel Self-Supervision", CVPR 2020).

On a biased pool (rare classes at 1 %), uncertainty sampling keeps asking about what the
model already finds hard and rarely meets the rare classes. A small *balanced* validation
set says what the test distribution looks like; this strategy picks the pool samples
that the model "sees" like the validation samples, above all like the validation samples
it gets wrong.

The similarity is the practical Fisher kernel of the last layer: each sample has its
penultimate features ``z`` and the gradient of the loss at its pseudo-label with respect
to the logits, ``e = p - onehot(argmax p)``. The gradient with respect to the last
layer's weights is ``e (x) z``, so the kernel between validation sample ``v`` and pool
sample ``j`` is ``R_vj = (z_v . z_j)(e_v . e_j)`` — in matrix form
``R = (Z_v Z^T) o (E_v E^T)``, of shape (n_validation, n_pool). A rare-class validation
image the model calls "dog" and a rare-class pool image it also calls "dog" have aligned
gradients and similar features: a large ``R``. (``validation_targets="labels"`` takes the
validation gradients at the true labels instead.)

Selection is a round-robin match: validation samples take turns, and each turn picks
the remaining pool sample with the largest kernel value for that validation sample. Each
round, a misclassified validation sample (by the model's argmax against its label) takes
``emphasis`` turns before the correctly classified ones take one each; within each group
the order is by loss, largest first. ``R`` is computed in blocks of pool rows keeping only
each validation row's top candidates, so no (n_validation, n_pool) matrix is held when
both are large; a row whose candidates ran out is recomputed exactly.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .._validation import Instance, Interval, Options
from ..errors import ConfigError, InputError
from ..models.logistic_head import unit_rows
from ._base import BUDGET_CONSTRAINT, as_index_array
from ._predictive import HEAD_CONSTRAINTS, PredictiveSelector, onehot_residual
from ._validation_set import accepts_validation, attach_validation  # noqa: F401  (their home before density-match)

__all__ = ["FisherMatchSelector", "accepts_validation", "attach_validation", "fisher_kernel", "fisher_topk",
           "fisher_match_order", "turn_order"]

_BLOCK_ELEMS = 1 << 22  # validation rows x pool rows per kernel block


def fisher_kernel(Zv: np.ndarray, Ev: np.ndarray, Z: np.ndarray, E: np.ndarray) -> np.ndarray:
    """``R = (Zv Z^T) o (Ev E^T)``: (n_validation, n_rows), float64. For blocks of pool rows."""
    return (np.asarray(Zv, np.float64) @ np.asarray(Z, np.float64).T) * (np.asarray(Ev, np.float64) @ np.asarray(E, np.float64).T)


def fisher_topk(Zv, Ev, Z, E, candidates: np.ndarray, k: int, rows: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Each validation row's ``k`` best candidates by ``R`` (value descending, index ascending),
    computed over blocks of pool rows. Returns (indices (m, k), values (m, k)); slots past the
    number of candidates hold -1 / -inf. ``rows``: validation rows to compute (default all)."""
    Zv = np.asarray(Zv, np.float64) if rows is None else np.asarray(Zv, np.float64)[rows]
    Ev = np.asarray(Ev, np.float64) if rows is None else np.asarray(Ev, np.float64)[rows]
    m, N = Zv.shape[0], Z.shape[0]
    k = max(1, int(k))
    best_idx = np.full((m, k), -1, dtype=np.int64)
    best_val = np.full((m, k), -np.inf)
    step = max(256, _BLOCK_ELEMS // max(1, m))
    for s in range(0, N, step):
        e = min(N, s + step)
        block_cand = candidates[s:e]
        if not block_cand.any():
            continue
        R = fisher_kernel(Zv, Ev, Z[s:e], E[s:e])  # (m, block)
        R[:, ~block_cand] = -np.inf
        vals = np.concatenate([best_val, R], axis=1)
        idx = np.concatenate([best_idx, np.broadcast_to(np.arange(s, e), (m, e - s))], axis=1)
        # the kept entries have lower indices than the block's, and ties among them are already
        # in index order: a stable sort by value keeps "value desc, index asc" exactly
        order = np.argsort(-vals, axis=1, kind="stable")[:, :k]
        best_val = np.take_along_axis(vals, order, axis=1)
        best_idx = np.take_along_axis(idx, order, axis=1)
    best_idx[~np.isfinite(best_val)] = -1
    return best_idx, best_val


def turn_order(misclassified: np.ndarray, loss: np.ndarray, emphasis: int) -> np.ndarray:
    """One round of turns: misclassified validation rows (loss descending) ``emphasis`` times
    over, then the correctly classified ones (loss descending) once."""
    order = np.lexsort((np.arange(loss.size), -np.asarray(loss, np.float64)))
    wrong = order[misclassified[order]]
    right = order[~misclassified[order]]
    return np.concatenate([np.tile(wrong, int(emphasis)), right]).astype(np.int64)


def fisher_match_order(Zv, Ev, Z, E, candidates: np.ndarray, turns: np.ndarray, n: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Round-robin matching: turn ``t`` goes to validation row ``turns[t % len(turns)]``,
    which takes its best remaining candidate by ``R``. Returns (picks, kernel value of each
    pick for the row that took it, that validation row)."""
    n_cand = int(candidates.sum())
    if n > n_cand:
        raise InputError(f"Cannot select {n} samples: only {n_cand} candidates.")
    used = np.unique(turns)
    k = min(n_cand, max(16, 2 * math.ceil(n / max(1, used.size)) + 8))
    idx = np.full((Zv.shape[0], k), -1, dtype=np.int64)
    val = np.full((Zv.shape[0], k), -np.inf)
    idx[used], val[used] = fisher_topk(Zv, Ev, Z, E, candidates, k, rows=used)
    ptr = np.zeros(Zv.shape[0], dtype=np.int64)
    free = candidates.copy()
    picks, values, owners = [], [], []
    t = 0
    while len(picks) < n:
        v = int(turns[t % turns.size])
        t += 1
        while ptr[v] < k and (idx[v, ptr[v]] < 0 or not free[idx[v, ptr[v]]]):
            ptr[v] += 1
        if ptr[v] == k:  # every kept candidate was taken by other rows: recompute this row exactly
            ri, rv = fisher_topk(Zv, Ev, Z, E, free, k, rows=np.array([v]))
            idx[v], val[v], ptr[v] = ri[0], rv[0], 0
            if idx[v, 0] < 0:
                continue
        j = int(idx[v, ptr[v]])
        picks.append(j)
        values.append(float(val[v, ptr[v]]))
        owners.append(v)
        free[j] = False
        ptr[v] += 1
    return np.asarray(picks, np.int64), np.asarray(values), np.asarray(owners, np.int64)


class FisherMatchSelector(PredictiveSelector):
    """Pick the pool samples whose Fisher-kernel similarity to a labeled validation set is
    largest, misclassified validation samples first.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    validation_vectors : array-like (n_validation, n_features): validation samples in the
        pool's embedding space, with ``validation_labels`` (one per row).
    validation_probabilities : array-like (n_validation, n_classes): the model's
        probabilities for them (columns as the pool's predictions); needed with
        ``predictions``; without, the fallback head predicts them.
    validation_features : array-like (n_validation, n_model_features): the model's features
        for them, needed when the pool's ``features`` are given.
    validation_ids : instead of vectors, pool samples (ids or indices) that form the
        validation set; their labels come from the pool's labels. They are never picked.
    emphasis : turns a misclassified validation sample takes per round (correct ones: 1).
    validation_targets : "pseudo" (gradients at argmax p, the same map for both sides) or
        "labels" (validation gradients at the true labels).
    seed, head_folds, head_C : the fallback logistic head (see ``uncertainty``).

    Attributes
    ----------
    scores_ : the kernel value of each pick for the validation sample that took it.
    matched_ : validation row that took each pick.
    misclassified_ : bool per validation row.
    """

    name = "fisher-match"
    needs_validation_labels = True  # misclassified validation samples lead
    score_description = "Fisher-kernel match to the validation set"
    prefix_consistent = True  # the turn order does not depend on n, and each turn is exact
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "validation_vectors": [Instance(list, tuple, np.ndarray), None],
        "validation_labels": [Instance(list, tuple, np.ndarray), None],
        "validation_probabilities": [Instance(list, tuple, np.ndarray), None],
        "validation_features": [Instance(list, tuple, np.ndarray), None],
        "validation_ids": [Instance(list, tuple, np.ndarray), None],
        "emphasis": [Interval(numbers.Integral, 1, None)],
        "validation_targets": [Options({"pseudo", "labels"})],
        "seed": [Interval(numbers.Integral, 0, None)],
        **HEAD_CONSTRAINTS,
    }

    def __init__(self, n: int | float | str = 1000, *, validation_vectors: Any = None, validation_labels: Any = None,
                 validation_probabilities: Any = None, validation_features: Any = None, validation_ids: Any = None,
                 emphasis: int = 3, validation_targets: str = "pseudo", seed: int = 0, head_folds: int = 5,
                 head_C: float = 1.0):
        self.n = n
        self.validation_vectors = validation_vectors
        self.validation_labels = validation_labels
        self.validation_probabilities = validation_probabilities
        self.validation_features = validation_features
        self.validation_ids = validation_ids
        self.emphasis = emphasis
        self.validation_targets = validation_targets
        self.seed = seed
        self.head_folds = head_folds
        self.head_C = head_C

    def _validate_params(self) -> None:
        super()._validate_params()
        if (self.validation_ids is None) == (self.validation_vectors is None):
            raise ConfigError("FisherMatchSelector needs a labeled validation set: set exactly one of 'validation_ids' "
                              "(pool samples) and 'validation_vectors' (with 'validation_labels').",
                              hint="On the command line: --validation FOLDER (class folders of labeled images).")
        if self.validation_vectors is not None and self.validation_labels is None:
            raise ConfigError("The 'validation_labels' parameter of FisherMatchSelector is needed with 'validation_vectors' "
                              "(one label per validation row).")

    def candidates(self, pool, excluded):
        cand = super().candidates(pool, excluded)
        if self.validation_ids is not None:
            cand[self._validation_rows(pool)] = False
        return cand

    def _validation_rows(self, pool) -> np.ndarray:
        return as_index_array(self.validation_ids, len(pool), pool.ids, name="validation_ids")

    def validation_view(self, view, pool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Zv, Pv, yv) of the validation set: features, probabilities, class index (-1: unknown class)."""
        index = {c: j for j, c in enumerate(view.class_names)}
        X, labels = pool.vectors, pool.labels
        if self.validation_ids is not None:
            rows = self._validation_rows(pool)
            if labels is None:
                raise InputError("validation_ids need labels: the validation samples' labels come from the pool's labels.")
            vlabels = [labels[i] for i in rows]
            unlabeled = [i for i, lab in zip(rows, vlabels) if lab is None or lab != lab or lab == ""]
            if unlabeled:
                raise InputError(f"{len(unlabeled)} validation sample(s) have no label, e.g. row {unlabeled[0]}.",
                                 hint="Every validation sample needs its label.")
            return view.features[rows], view.probabilities[rows], np.array([index.get(str(v), -1) for v in vlabels])
        V = np.asarray(self.validation_vectors, dtype=np.float32)
        if V.ndim != 2 or V.shape[1] != X.shape[1] or V.shape[0] == 0:
            raise InputError(f"validation_vectors must have shape (n_validation, {X.shape[1]}); got {V.shape}.",
                             hint="Embed the validation images with the same model as the pool.")
        if not np.isfinite(V).all():
            raise InputError(f"validation_vectors (shape {V.shape}) hold NaN or infinite values.")
        vlabels = list(self.validation_labels)
        if len(vlabels) != V.shape[0]:
            raise InputError(f"validation_labels has {len(vlabels)} entries for {V.shape[0]} validation vectors.")
        if self.validation_probabilities is not None:
            Pv = np.asarray(self.validation_probabilities, dtype=np.float64)
            if Pv.shape != (V.shape[0], view.probabilities.shape[1]) or not np.isfinite(Pv).all():
                raise InputError(f"validation_probabilities must be finite with shape ({V.shape[0]}, "
                                 f"{view.probabilities.shape[1]}); got {Pv.shape}.")
        elif view.head is not None:
            Pv = view.head.predict_proba(unit_rows(V))
        else:
            raise InputError("With --predictions, fisher-match also needs the model's predictions for the validation samples.",
                             hint="Add rows for the validation ids to the predictions file, or leave --predictions out "
                                  "so labelscout's head predicts both.")
        if self.validation_features is not None:
            Zv = np.asarray(self.validation_features, dtype=np.float32)
            if Zv.shape != (V.shape[0], view.features.shape[1]):
                raise InputError(f"validation_features must have shape ({V.shape[0]}, {view.features.shape[1]}); got {Zv.shape}.")
        elif pool.features is not None:
            raise InputError("The pool's model features were given; fisher-match needs the validation samples' too.",
                             hint="Give features for the validation samples, or leave the features out.")
        else:
            Zv = unit_rows(V)
        unknown = sorted({str(v) for v in vlabels if str(v) not in index})
        if unknown:
            raise InputError(f"validation label(s) {unknown[:5]} are not among the model's classes {view.class_names[:10]}.",
                             hint="The validation classes must be classes the predictions (or the labeled samples) have.")
        return Zv, Pv, np.array([index[str(v)] for v in vlabels], dtype=np.int64)

    def kernel_inputs(self, view, pool):
        """(Zv, Ev, Z, E, misclassified, loss) for the matching."""
        Zv, Pv, yv = self.validation_view(view, pool)
        Ev = onehot_residual(Pv, yv if self.validation_targets == "labels" else None)
        E = onehot_residual(view.probabilities)
        pred = np.argmax(Pv, axis=1)
        mis = pred != yv
        loss = -np.log(np.clip(Pv[np.arange(yv.size), np.maximum(yv, 0)], 1e-12, None))
        return np.asarray(Zv, np.float64), Ev, np.asarray(view.features, np.float64), E, mis, loss

    def _component(self, view, pool, candidates):
        """Static component scores for ``combine``: each row's best kernel value over the
        validation rows, each row's kernel scaled by its largest candidate value, misclassified
        rows weighted by ``emphasis``."""
        Zv, Ev, Z, E, mis, _ = self.kernel_inputs(view, pool)
        _, top = fisher_topk(Zv, Ev, Z, E, candidates, 1)
        scale = np.where(top[:, 0] > 0, top[:, 0], np.inf)
        w = np.where(mis, float(self.emphasis), 1.0) / scale
        out = np.full(Z.shape[0], -np.inf)
        step = max(256, _BLOCK_ELEMS // max(1, Zv.shape[0]))
        for s in range(0, Z.shape[0], step):
            out[s:s + step] = (fisher_kernel(Zv, Ev, Z[s:s + step], E[s:s + step]) * w[:, None]).max(axis=0)
        return out

    def _select_with(self, view, pool, n, candidates):
        Zv, Ev, Z, E, mis, loss = self.kernel_inputs(view, pool)
        turns = turn_order(mis, loss, self.emphasis)
        picks, values, owners = fisher_match_order(Zv, Ev, Z, E, candidates, turns, n)
        self.matched_ = owners
        self.misclassified_ = mis
        names = view.class_names
        pseudo = np.argmax(view.probabilities, axis=1)
        reasons = [f"Fisher kernel {v:.3g} to validation #{o} ({'misclassified' if mis[o] else 'correct'}); "
                   f"pseudo-label {names[pseudo[j]]}" for j, v, o in zip(picks, values, owners)]
        return picks, values, reasons
