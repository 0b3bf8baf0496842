"""Outliers: samples far from everything else, by their mean distance to ``k`` neighbours.

The mean kNN distance is the classic distance-based outlier score (Ramaswamy et al.
2000 use the k-th distance; the mean over the k is steadier). It is made comparable
across datasets and models by its rank: ``score`` is the fraction of other samples with
a smaller mean distance (0 for the most central, 1 for the most isolated; ties share
their average rank). The ``contamination`` fraction with the largest mean distance is
flagged, or, with ``threshold``, every sample whose mean distance reaches it.

Every sample gets a row (the report ranks them). A group of exact duplicates far from
the rest looks central to each other at small ``k``; they are the duplicate detectors'
business, and a ``k`` larger than the group restores their isolation.
"""
from __future__ import annotations

import math
import numbers
from typing import ClassVar

import numpy as np

from .._validation import Interval, Options
from ..pool import Pool
from ..results import Issues
from ..space.metric import unit_rows
from ._base import BaseDetector

__all__ = ["OutlierDetector", "rank_scores"]


def rank_scores(values: np.ndarray) -> np.ndarray:
    """(average rank - 1) / (n - 1) per value, in [0, 1]; 0 for a single value."""
    from scipy.stats import rankdata

    n = values.size
    if n <= 1:
        return np.zeros(n)
    return (rankdata(values, method="average") - 1.0) / (n - 1.0)


class OutlierDetector(BaseDetector):
    """Score every sample by its mean distance to its ``k`` nearest neighbours.

    Parameters
    ----------
    k : neighbours averaged.
    metric : "cosine" (``1 - cos``) or "l2".
    contamination : fraction of samples flagged (the most isolated), when ``threshold`` is None.
    threshold : flag samples whose mean kNN distance is at least this instead.
    method : kNN search, "auto" (exact up to 200k samples, IVF above), "exact", "ivf" or "hnsw".

    Attributes
    ----------
    knn_mean_ : ndarray of shape (n_samples,), mean distance to the k neighbours.
    nearest_ : ndarray of shape (n_samples,), nearest neighbour row.
    nearest_distance_ : ndarray of shape (n_samples,), its distance.
    scores_ : ndarray of shape (n_samples,), rank of ``knn_mean_`` scaled to [0, 1].
    flags_ : ndarray of shape (n_samples,), bool.
    issues_ : one ``outlier`` row per sample.
    """

    name: ClassVar[str] = "outliers"
    shares_knn_graph: ClassVar[bool] = True
    issue: ClassVar[str] = "outlier"
    description: ClassVar[str] = "Samples far from their nearest neighbours (mean kNN distance, ranked)."
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "k": [Interval(numbers.Integral, 1, None)],
        "metric": [Options({"cosine", "l2"})],
        "contamination": [Interval(numbers.Real, 0, 0.5)],
        "threshold": [Interval(numbers.Real, 0, None), None],
        "method": [Options({"auto", "exact", "ivf", "hnsw"})],
    }

    def __init__(self, *, k: int = 10, metric: str = "cosine", contamination: float = 0.01, threshold: float | None = None,
                 method: str = "auto"):
        self.k = k
        self.metric = metric
        self.contamination = contamination
        self.threshold = threshold
        self.method = method

    def _fit(self, pool: Pool) -> None:
        X, ids = pool.vectors, pool.ids
        n = X.shape[0]
        if n < 2:  # a lone sample has no neighbours: nothing to compare it with
            knn_mean, nearest, nearest_d = np.zeros(n), np.full(n, -1, np.int64), np.full(n, np.nan)
        else:
            Z = unit_rows(X) if self.metric == "cosine" else np.ascontiguousarray(X, dtype=np.float32)
            g = self._knn_graph(Z, self.k, self.method, key=self.metric)
            valid = g.indices >= 0
            D = g.distances.astype(np.float64)
            if self.metric == "cosine":
                D = 0.5 * np.square(D)  # unit vectors: 1 - cos = |a - b|^2 / 2
            knn_mean = np.where(valid, D, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
            nearest, nearest_d = g.indices[:, 0], D[:, 0]
        scores = rank_scores(knn_mean)
        if self.threshold is not None:
            flags = knn_mean >= self.threshold
        else:
            n_flag = int(math.floor(self.contamination * n + 1e-9))
            flags = np.zeros(n, dtype=bool)
            if n_flag:
                # largest mean distance first; ties to the lower row, so the count is exact
                flags[np.lexsort((np.arange(n), -knn_mean))[:n_flag]] = True
        self.knn_mean_, self.nearest_, self.nearest_distance_ = knn_mean, nearest, nearest_d
        self.scores_, self.flags_ = scores, flags
        evidence = [{"nearest": ids[j] if j >= 0 else None, "distance": round(float(dj), 6), "knn_mean": round(float(m), 6)}
                    for j, dj, m in zip(nearest.tolist(), nearest_d.tolist(), knn_mean.tolist())]
        self.issues_ = Issues.from_rows(self.issue, ids, scores, flags, evidence)
