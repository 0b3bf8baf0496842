"""k-nearest-neighbour graphs: the shared basis of adjacency, typicality, duplicates,
outliers and geodesic distances.

:func:`knn_graph` returns, for every row, its ``k`` nearest other rows and their
distances (self excluded), as two (n_samples, k) arrays. Exact search (faiss flat, blocks
of inner products) for small pools; HNSW for large ones. Distances are L2 in the given
space (for cosine, pass unit-normalised vectors: L2 = sqrt(2 - 2 cos)).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, InputError

__all__ = ["KnnGraph", "knn_graph", "EXACT_LIMIT"]

log = logging.getLogger(__name__)

#: pools up to this size use exact search under method="auto"
EXACT_LIMIT = 200_000


@dataclass
class KnnGraph:
    indices: np.ndarray  # (n_samples, k) int64, -1 where fewer than k neighbours exist
    distances: np.ndarray  # (n_samples, k) float32, ascending per row; inf where index is -1
    method: str

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])


def _faiss():
    import faiss

    return faiss


def knn_graph(X: np.ndarray, k: int, *, method: str = "auto", hnsw_m: int = 32, ef_search: int = 128,
              ef_construction: int = 80, seed: int = 0) -> KnnGraph:
    """The ``k`` nearest neighbours of every row of X (self excluded).

    ``method``: "exact", "hnsw" or "auto" (exact up to :data:`EXACT_LIMIT` rows).
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"The 'k' parameter of knn_graph must be an int >= 1. Got {k!r} instead.")
    if method not in ("auto", "exact", "hnsw"):
        raise ConfigError(f"The 'method' parameter of knn_graph must be one of {{'auto', 'exact', 'hnsw'}}. Got {method!r} instead.")
    if n < 2:
        raise InputError(f"A kNN graph needs at least 2 samples; got shape {X.shape}.")
    k_eff = min(k, n - 1)
    if method == "auto":
        method = "exact" if n <= EXACT_LIMIT else "hnsw"
    faiss = _faiss()
    d = X.shape[1]
    if method == "exact":
        index = faiss.IndexFlatL2(d)
    else:
        index = faiss.IndexHNSWFlat(d, hnsw_m)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = max(ef_search, k_eff + 1)
    index.add(X)
    # ask for one extra: the point itself is normally its own nearest neighbour
    D, I = index.search(X, k_eff + 1)
    idx, dist = _drop_self(I, D, k_eff)
    dist = np.sqrt(np.maximum(dist, 0.0), dtype=np.float32)
    if k_eff < k:
        pad = k - k_eff
        idx = np.hstack([idx, np.full((n, pad), -1, np.int64)])
        dist = np.hstack([dist, np.full((n, pad), np.inf, np.float32)])
    return KnnGraph(idx, dist, method)


def _drop_self(I: np.ndarray, D: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index from its result list (it may not be first when
    duplicates tie at distance 0), keeping ``k`` neighbours."""
    n = I.shape[0]
    rows = np.arange(n)[:, None]
    is_self = I == rows
    # rows where self was not returned at all: drop the last (farthest) entry instead
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    # stable order of the remaining k entries
    keep = ~is_self
    # guard: if self appears twice (cannot for faiss) keep first k
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    idx = np.take_along_axis(I, order, axis=1).astype(np.int64)
    dist = np.take_along_axis(D, order, axis=1).astype(np.float32)
    return idx, dist
