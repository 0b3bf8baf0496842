"""Divide and conquer: cluster the pool, then run another strategy inside each cluster.

Clusters come from k-means, spectral clustering of the kNN graph, or the labels. Each
cluster gets a budget in proportion to its size or an equal share, never more than it
has left to give (the excess goes to the others; shares are rounded by largest
remainder). The final order interleaves the clusters round-robin (largest cluster first
in each round), so any prefix stays spread over the clusters.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._validation import Instance, Interval, Options
from ..errors import ConfigError, InputError
from ._base import BUDGET_CONSTRAINT, BaseSelector
from ._clustering import by_size, kmeans_labels, spectral_labels
from .coreset import prepare_metric

__all__ = ["DivideAndConquerSelector", "allocate"]


def allocate(n: int, weights: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Integer budgets summing to ``n`` (<= capacity.sum()), proportional to ``weights``.

    A group whose share exceeds its capacity gets its capacity and the rest is shared among
    the others again (water-filling); fractional shares are rounded by largest remainder,
    ties to the lower group index.
    """
    weights = np.asarray(weights, np.float64)
    capacity = np.asarray(capacity, np.int64)
    quota = np.zeros(weights.size, np.int64)
    active = capacity > 0
    remaining = int(n)
    while True:
        w = np.where(active, weights, 0.0)
        if remaining <= 0 or w.sum() <= 0:
            break
        share = remaining * w / w.sum()
        over = active & (share >= capacity)
        if not over.any():
            base = np.floor(share).astype(np.int64)
            frac = share - base
            left = remaining - int(base.sum())
            order = np.lexsort((np.arange(weights.size), -frac))
            base[order[:left]] += 1
            quota += np.where(active, base, 0)
            break
        quota[over] = capacity[over]
        remaining -= int(capacity[over].sum())
        active &= ~over
    return quota


class DivideAndConquerSelector(BaseSelector):
    """Run ``inner`` within each cluster with proportional or balanced budgets.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    inner : registered strategy to run per cluster (e.g. "coreset", "typicality").
    inner_params : its parameters (``n`` is set per cluster; ``metric`` and ``seed`` default
        to this selector's when the inner strategy has them).
    within : "kmeans", "spectral" (on the kNN graph) or "labels".
    n_clusters : clusters for k-means / spectral.
    allocation : "proportional" (to cluster size) or "balanced" (equal shares).
    metric, seed : geometry for clustering; clustering seed.

    Attributes
    ----------
    cluster_labels_ : cluster of every pool sample (0 = largest; for "labels", by label size).
    budgets_ : picks per cluster.
    """

    name = "divide-and-conquer"
    prefix_consistent = False  # the budgets follow n
    _pool_constraints = {"n_clusters": "clusters"}
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "inner": [Instance(str)],
        "inner_params": [Instance(dict), None],
        "within": [Options({"kmeans", "spectral", "labels"})],
        "n_clusters": [Interval(numbers.Integral, 1, None)],
        "allocation": [Options({"proportional", "balanced"})],
        "metric": [Options({"l2", "cosine"})],
        "seed": [Interval(numbers.Integral, 0, None)],
    }

    def __init__(self, n: int | float | str = 1000, *, inner: str = "coreset", inner_params: dict | None = None,
                 within: str = "kmeans", n_clusters: int = 10, allocation: str = "proportional",
                 metric: str = "cosine", seed: int = 0):
        self.n = n
        self.inner = inner
        self.inner_params = inner_params
        self.within = within
        self.n_clusters = n_clusters
        self.allocation = allocation
        self.metric = metric
        self.seed = seed

    def _inner_selector(self, n: int) -> BaseSelector:
        from . import STRATEGIES

        if self.inner not in STRATEGIES:
            raise ConfigError(f"The 'inner' parameter of DivideAndConquerSelector must be one of "
                              f"{{{', '.join(repr(s) for s in sorted(STRATEGIES))}}}. Got {self.inner!r} instead.")
        cls = STRATEGIES[self.inner]
        params: dict[str, Any] = dict(self.inner_params or {})
        if "n" in params:
            raise ConfigError("The 'inner_params' parameter of DivideAndConquerSelector must not set 'n': "
                              "each cluster's budget comes from the allocation.")
        if params.get("query_ids") is not None:
            raise ConfigError("The 'inner_params' parameter of DivideAndConquerSelector cannot hold 'query_ids': each "
                              "cluster sees only its own samples. Pass the query as 'query_vectors' instead.")
        for name in ("metric", "seed"):
            if name in cls._param_names():
                params.setdefault(name, getattr(self, name))
        return cls(n=n, **params)

    def _validate_params(self) -> None:
        super()._validate_params()
        self._inner_selector(1)._validate_params()  # a bad inner parameter fails before clustering

    def _clusters(self, X: np.ndarray, labels) -> tuple[np.ndarray, list[str]]:
        if self.within == "labels":
            if labels is None:
                raise InputError("divide-and-conquer with within='labels' needs labels (one per sample); none were given.",
                                 hint="Pass labels from class folders or --labels FILE.csv, or use within='kmeans'.")
            values = list(labels)
            uniq = sorted(set(values), key=lambda v: (str(type(v)), str(v)))
            pos = {v: i for i, v in enumerate(uniq)}
            raw = np.fromiter((pos[v] for v in values), np.int64, len(values))
            clusters = by_size(raw)
            names = [""] * len(uniq)
            for v, i in pos.items():
                names[clusters[np.flatnonzero(raw == i)[0]]] = f"label {v!r}"
            return clusters, names
        Xm = prepare_metric(X, self.metric)
        fn = kmeans_labels if self.within == "kmeans" else spectral_labels
        clusters = fn(Xm, self.n_clusters, seed=self.seed)
        return clusters, [f"cluster {c}" for c in range(int(clusters.max()) + 1)]

    def _select(self, pool, n, excluded):
        X, labels = pool.vectors, pool.labels
        clusters, names = self._clusters(X, labels)
        self.cluster_labels_ = clusters
        n_clusters = len(names)
        sizes = np.bincount(clusters, minlength=n_clusters)
        is_excl = np.zeros(X.shape[0], bool)
        is_excl[excluded] = True
        free = np.bincount(clusters[~is_excl], minlength=n_clusters)
        weights = sizes.astype(np.float64) if self.allocation == "proportional" else np.ones(n_clusters)
        budgets = allocate(n, weights, free)
        self.budgets_ = budgets
        order = np.argsort(clusters, kind="stable")
        starts = np.concatenate([[0], np.cumsum(sizes)])
        per_cluster = []
        for c in range(n_clusters):
            if budgets[c] == 0:
                per_cluster.append(([], [], []))
                continue
            idx = order[starts[c]:starts[c + 1]]
            local_excl = np.flatnonzero(is_excl[idx])
            # the cluster's own pool (ids, labels, predictions... kept aligned)
            sel = self._inner_selector(int(budgets[c])).fit(pool.subset(idx), exclude=local_excl if local_excl.size else None)
            per_cluster.append((idx[sel.selected_], sel.scores_, sel.reasons_))
        picks, scores, reasons = [], [], []
        for r in range(int(budgets.max()) if n_clusters else 0):
            for c in range(n_clusters):  # round-robin, largest cluster first
                p, s, why = per_cluster[c]
                if r < len(p):
                    picks.append(int(p[r]))
                    scores.append(float(s[r]))
                    reasons.append(f"{self.inner} within {names[c]}: {why[r]}")
        return np.asarray(picks, np.int64), np.asarray(scores), reasons
