"""Similarity selection: the samples nearest to (or farthest from) a query set.

The query is pool samples (``query_ids``: ids or indices) and/or outside vectors
(``query_vectors``, already in the embedding space, e.g. embeddings of a folder of
examples). A positive ``strength`` picks the closest samples first ("more like these"),
a negative one the farthest ("unlike anything we have"). Pool samples that are queries
are never picked: they are already known.
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from .._validation import Instance, Interval, Options
from ..errors import ConfigError, InputError
from ._base import BUDGET_CONSTRAINT, BaseSelector, ComponentScores, as_index_array
from .coreset import prepare_metric

__all__ = ["SimilaritySelector", "query_distances"]


def query_distances(X: np.ndarray, Q: np.ndarray, block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """For every row of X: L2 distance to its nearest row of Q and that row's position.

    Exact, in blocks of X rows so memory stays O(block * n_queries).
    """
    X = np.asarray(X, dtype=np.float32)
    Q = np.asarray(Q, dtype=np.float32)
    q_sq = (Q.astype(np.float64) ** 2).sum(axis=1)
    dist = np.empty(X.shape[0], dtype=np.float64)
    which = np.empty(X.shape[0], dtype=np.int64)
    step = max(1, min(block, (1 << 24) // max(1, Q.shape[0])))
    for start in range(0, X.shape[0], step):
        xb = X[start:start + step].astype(np.float64)
        d2 = (xb ** 2).sum(axis=1)[:, None] - 2.0 * (xb @ Q.T.astype(np.float64)) + q_sq[None, :]  # (block, n_queries)
        j = d2.argmin(axis=1)
        which[start:start + step] = j
        # the expanded form loses digits for near-equal vectors; recompute the winner exactly
        dist[start:start + step] = np.linalg.norm(xb - Q[j].astype(np.float64), axis=1)
    return dist, which


class SimilaritySelector(BaseSelector):
    """Pick by distance to the nearest query: closest first, or farthest first for ``strength < 0``.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    query_ids : pool samples that form the query (sample ids or indices).
    query_vectors : array-like of shape (n_queries, n_features): outside query vectors.
    strength : sign chooses the direction (> 0 nearest, < 0 farthest); the magnitude is
        its weight when combined with other strategies (see ``combine``).
    metric : "l2" or "cosine" (L2 on unit-normalised vectors; queries are normalised too).

    Attributes
    ----------
    scores_ : distance of each pick to its nearest query.
    query_indices_ : pool indices of the query samples.
    """

    name = "similarity"
    prefix_consistent = True  # a fixed ranking
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "query_ids": [Instance(list, tuple, np.ndarray), None],
        "query_vectors": [Instance(list, tuple, np.ndarray), None],
        "strength": [Interval(numbers.Real, None, None)],
        "metric": [Options({"l2", "cosine"})],
    }

    def __init__(self, n: int | float | str = 1000, *, query_ids: Sequence[Any] | None = None,
                 query_vectors: Any = None, strength: float = 1.0, metric: str = "cosine"):
        self.n = n
        self.query_ids = query_ids
        self.query_vectors = query_vectors
        self.strength = strength
        self.metric = metric

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.strength == 0:
            raise ConfigError("The 'strength' parameter of SimilaritySelector must be a non-zero float "
                              "(> 0: nearest first, < 0: farthest first). Got 0 instead.")
        if self.query_ids is None and self.query_vectors is None:
            raise ConfigError("SimilaritySelector needs a query: set 'query_ids' (pool ids or indices) or 'query_vectors'.")

    def query_scores(self, X: np.ndarray, ids: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(distance to nearest query, query pool indices, query names) for every row of X."""
        Xm = prepare_metric(X, self.metric)
        q_idx = as_index_array(self.query_ids, X.shape[0], ids, name="query_ids") if self.query_ids is not None else \
            np.empty(0, np.int64)
        names = [(ids[i] if ids is not None else f"#{i}") for i in q_idx]
        parts = [Xm[q_idx]] if q_idx.size else []
        if self.query_vectors is not None:
            V = np.asarray(self.query_vectors, dtype=np.float32)
            if V.ndim == 1:
                V = V[None, :]
            if V.ndim != 2 or V.shape[1] != X.shape[1]:
                raise InputError(f"query_vectors must have shape (n_queries, {X.shape[1]}); got {V.shape}.")
            if not np.isfinite(V).all():
                raise InputError(f"query_vectors (shape {V.shape}) holds NaN or infinite values.")
            parts.append(prepare_metric(V, self.metric))
            names += [f"vector {j}" for j in range(V.shape[0])]
        Q = np.concatenate(parts) if parts else np.empty((0, X.shape[1]), np.float32)
        if Q.shape[0] == 0:
            raise InputError("The query is empty: query_ids and query_vectors hold no samples.")
        dist, which = query_distances(Xm, Q)
        self.query_indices_ = q_idx
        return dist, which, names

    score_description = "closeness to the query (farthest first for strength < 0)"

    def component_scores(self, pool, excluded):
        dist, _, _ = self.query_scores(pool.vectors, pool.ids)
        # the queries are known already: never picked
        return ComponentScores(-dist if self.strength > 0 else dist, blocked=self.query_indices_)

    def _select(self, pool, n, excluded):
        X = pool.vectors
        dist, which, names = self.query_scores(X, pool.ids)
        key = dist.copy() if self.strength > 0 else -dist
        blocked = np.union1d(excluded, self.query_indices_)
        key[blocked] = np.inf
        available = X.shape[0] - blocked.size
        if n > available:
            raise InputError(f"Cannot select {n} samples: {blocked.size} of the {X.shape[0]} are excluded or queries, "
                             f"so at most {available} can be selected.")
        order = np.lexsort((np.arange(key.size), key))[:n]
        word = "nearest" if self.strength > 0 else "farthest: nearest"
        reasons = [f"{word} query {names[which[i]]} d={dist[i]:.3g}" for i in order]
        return order, dist[order], reasons
