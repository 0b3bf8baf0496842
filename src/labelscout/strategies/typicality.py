"""Typicality selection: the densest samples first.

Typicality is the inverse of the mean distance to the ``k`` nearest other samples (the
density estimate of TypiClust, Hacohen et al. 2022). Typical samples stand for many
others, which is what a model trained on very few labels needs; in exchange typicality
alone ignores coverage (all picks may come from one dense mode), see ``typiclust`` and
``combine`` for schemes that add diversity.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import Interval, Options
from ..space.knn import knn_graph
from ._base import BUDGET_CONSTRAINT, BaseSelector, ComponentScores
from .coreset import prepare_metric

__all__ = ["TypicalitySelector", "knn_typicality"]

#: below this many rows the kNN search runs single-threaded
SMALL_POOL = 4096


def knn_typicality(X: np.ndarray, k: int, *, method: str = "auto", seed: int = 0) -> np.ndarray:
    """Typicality of every row of X: 1 / mean L2 distance to its ``min(k, n-1)`` nearest other rows.

    Returns float64 of shape (n_samples,); ``inf`` for a row with at least ``k`` exact
    duplicates (mean distance 0), 0 for a lone row (no neighbour to be typical of).
    """
    n = X.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.float64)
    k_eff = min(int(k), n - 1)
    if n < SMALL_POOL:
        # TypiClust calls this once per cluster: for small ones, waking faiss's OpenMP team
        # costs more than the search itself (10 ms a call on a busy 2-core machine)
        import faiss

        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            graph = knn_graph(X, k_eff, method=method, seed=seed)
        finally:
            faiss.omp_set_num_threads(threads)
    else:
        graph = knn_graph(X, k_eff, method=method, seed=seed)
    mean = graph.distances.mean(axis=1, dtype=np.float64)  # no float64 copy of the (n, k) distances
    with np.errstate(divide="ignore"):
        return 1.0 / mean


class TypicalitySelector(BaseSelector):
    """Pick the most typical samples (highest kNN density) first.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    k : neighbours in the density estimate (TypiClust uses 20).
    metric : "l2" or "cosine" (L2 on unit-normalised vectors).

    Attributes
    ----------
    selected_ : pool indices, most typical first (ties by index).
    scores_ : typicality of each pick (1 / mean distance to its k nearest neighbours).
    typicality_ : typicality of every pool sample (excluded ones included; they are data too).
    """

    name = "typicality"
    prefix_consistent = True  # a fixed ranking: a larger budget only appends
    _pool_constraints = {"k": "neighbours"}
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "k": [Interval(numbers.Integral, 1, None)],
        "metric": [Options({"l2", "cosine"})],
    }

    def __init__(self, n: int | float | str = 1000, *, k: int = 20, metric: str = "cosine"):
        self.n = n
        self.k = k
        self.metric = metric

    score_description = "1 / mean distance to the k nearest neighbours"

    def component_scores(self, pool, excluded):
        return ComponentScores(knn_typicality(prepare_metric(pool.vectors, self.metric), self.k))

    def _select(self, pool, n, excluded):
        X = pool.vectors
        Xm = prepare_metric(X, self.metric)
        typ = knn_typicality(Xm, self.k)
        self.typicality_ = typ
        key = -typ
        key[excluded] = np.inf  # excluded samples sort last and are cut off
        order = np.lexsort((np.arange(key.size), key))[:n]
        k_eff = min(self.k, max(X.shape[0] - 1, 1))
        reasons = [f"typicality {typ[i]:.3g} (mean distance to {k_eff} nearest {1 / typ[i] if typ[i] else float('inf'):.3g})"
                   for i in order]
        return order, typ[order], reasons
