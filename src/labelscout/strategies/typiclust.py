"""TypiClust (Hacohen, Dekel & Weinshall, ICML 2022): typical *and* diverse, for tiny budgets.

Cluster the pool into (budget + already labeled) clusters with k-means, so every pick can
get a cluster that holds no labeled sample yet; visit the uncovered clusters largest
first and take each one's most typical sample (typicality = 1 / mean distance to its
``min(k, size - 1)`` nearest neighbours inside the cluster). If clusters run out, the
least covered (then largest) cluster gives its next most typical sample.

Differences from the reference code: typicality is computed once per cluster over all
its members (the paper's code recomputes it after each pick from the same cluster), and
no minimum cluster size is imposed (their code skips clusters of 5 or fewer samples).
"""
from __future__ import annotations

import heapq
import numbers

import numpy as np

from .._validation import Interval, Options
from ._base import BUDGET_CONSTRAINT, BaseSelector
from ._clustering import kmeans_labels
from .coreset import prepare_metric
from .typicality import knn_typicality

__all__ = ["TypiClustSelector"]


class TypiClustSelector(BaseSelector):
    """Most typical sample of each of the largest uncovered k-means clusters.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    k : neighbours in the within-cluster typicality (the paper uses 20).
    metric : "l2" or "cosine" (L2 on unit-normalised vectors).
    seed : k-means initialisation.

    Attributes
    ----------
    selected_ : picks, largest uncovered cluster first.
    scores_ : within-cluster typicality of each pick.
    cluster_labels_ : cluster of every pool sample (0 = largest).
    """

    name = "typiclust"
    prefix_consistent = False  # the number of clusters follows the budget
    _pool_constraints = {"k": "neighbours"}
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "k": [Interval(numbers.Integral, 1, None)],
        "metric": [Options({"l2", "cosine"})],
        "seed": [Interval(numbers.Integral, 0, None)],
    }

    def __init__(self, n: int | float | str = 1000, *, k: int = 20, metric: str = "cosine", seed: int = 0):
        self.n = n
        self.k = k
        self.metric = metric
        self.seed = seed

    def _select(self, pool, n, excluded):
        X = pool.vectors
        Xm = prepare_metric(X, self.metric)
        clusters = kmeans_labels(Xm, n + excluded.size, seed=self.seed)
        self.cluster_labels_ = clusters
        n_clusters = int(clusters.max()) + 1
        sizes = np.bincount(clusters, minlength=n_clusters)
        covered = np.bincount(clusters[excluded], minlength=n_clusters)
        is_excl = np.zeros(X.shape[0], bool)
        is_excl[excluded] = True
        free = np.bincount(clusters[~is_excl], minlength=n_clusters)
        members_sorted = np.argsort(clusters, kind="stable")
        starts = np.concatenate([[0], np.cumsum(sizes)])
        ranked: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # cluster -> (free members, typicality), most typical first
        taken = np.zeros(n_clusters, np.int64)
        heap = [(int(covered[c]), -int(sizes[c]), c) for c in range(n_clusters) if free[c] > 0]
        heapq.heapify(heap)
        picks, scores, reasons = [], [], []
        for _ in range(n):
            cov, _neg, c = heapq.heappop(heap)
            if c not in ranked:
                idx = members_sorted[starts[c]:starts[c + 1]]
                typ = knn_typicality(Xm[idx], self.k)
                order = np.lexsort((idx, -typ))
                keep = ~is_excl[idx[order]]
                ranked[c] = (idx[order][keep], typ[order][keep])
            idx, typ = ranked[c]
            t = taken[c]
            picks.append(int(idx[t]))
            scores.append(float(typ[t]))
            what = "most typical" if t == 0 else f"next most typical (#{t + 1})"
            extra = f", {cov} already covered" if cov else ""
            reasons.append(f"{what} of cluster {c} (size {sizes[c]}{extra})")
            taken[c] += 1
            if taken[c] < free[c]:
                heapq.heappush(heap, (cov + 1, -int(sizes[c]), c))
        return np.asarray(picks, np.int64), np.asarray(scores), reasons
