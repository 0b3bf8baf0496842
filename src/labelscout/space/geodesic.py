"""Geodesic distances: shortest paths along the kNN graph.

On a curved or clustered manifold the straight L2 line between two samples cuts through
empty space; the length of the shortest chain of near neighbours follows the data (the
selection guide's "local neighbourhood graph ... Dijkstra"). The graph is the
symmetrised kNN graph (an edge when either end lists the other), weighted by L2 length.

Distances are computed from a *set of sources* with Dijkstra (scipy.sparse.csgraph),
one (N,) row per source, or one (N,) row of the distance to the nearest source
(``min_only``); all pairs is never built for a large pool. Rows that no path reaches
(another connected component) get ``inf``, and the result says how many components the
graph has and how many rows each source cannot reach.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from ..errors import ConfigError, InputError
from .knn import KnnGraph, knn_graph

__all__ = ["neighbour_graph", "geodesic_distances", "GeodesicResult", "MAX_RESULT_BYTES"]

log = logging.getLogger(__name__)

#: refuse a (n_sources, N) result larger than this; ask for min_only or fewer sources instead
MAX_RESULT_BYTES = 2 * 1024**3

# csgraph drops an edge whose weight is 0 when a sparse matrix is built or symmetrised;
# duplicates (distance 0) must stay connected, so their edges get the smallest positive
# weight, which leaves every path length unchanged to float64 precision
_ZERO_EDGE = np.finfo(np.float64).tiny


def neighbour_graph(graph: KnnGraph) -> csr_matrix:
    """The symmetrised kNN graph as an (N, N) sparse matrix of L2 edge lengths (float64)."""
    n, k = graph.indices.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = graph.indices.ravel()
    w = graph.distances.ravel().astype(np.float64)
    ok = cols >= 0
    rows, cols, w = rows[ok], cols[ok], np.maximum(w[ok], _ZERO_EDGE)
    # both directions; where both ends list each other the two weights agree up to float
    # rounding and the maximum keeps one
    A = coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    A.sum_duplicates()
    return A.maximum(A.T).tocsr()


@dataclass
class GeodesicResult:
    distances: np.ndarray  # (n_sources, N) float64, or (N,) with min_only; inf where unreachable
    sources: np.ndarray  # (n_sources,) int64 rows the paths start from
    nearest_source: np.ndarray | None  # (N,) int64 row of the nearest source with min_only (-1 unreachable)
    n_components: int  # connected components of the neighbour graph
    component: np.ndarray  # (N,) int component label of every row
    unreachable: np.ndarray  # (n_sources,) rows no path from the source reaches; () with min_only: one count

    def summary(self) -> str:
        if self.n_components == 1:
            return "the neighbour graph is connected; every row is reachable"
        sizes = np.bincount(self.component)
        return (f"the neighbour graph has {self.n_components} connected components (sizes {sorted(sizes.tolist(), reverse=True)[:5]}"
                f"{'...' if sizes.size > 5 else ''}); {int(np.max(self.unreachable))} rows are unreachable from "
                f"{'the sources' if self.nearest_source is not None else 'some source'} and have distance inf. "
                "A larger k joins components.")


def geodesic_distances(X_or_graph: np.ndarray | KnnGraph, sources, *, k: int = 10, min_only: bool = False,
                       knn_method: str = "auto", seed: int = 0) -> GeodesicResult:
    """Shortest-path (geodesic) distances on the symmetrised kNN graph from ``sources``.

    ``X_or_graph``: (n_samples, n_features) vectors (a ``k``-NN graph is built with
    :func:`knn_graph`) or a ready :class:`KnnGraph`. ``sources``: row indices.
    ``min_only``: one (N,) row, the distance to the nearest source (one multi-source
    Dijkstra), and which source that is.
    """
    if isinstance(X_or_graph, KnnGraph):
        graph = X_or_graph
    else:
        X = np.asarray(X_or_graph)
        if X.ndim != 2:
            raise InputError(f"geodesic_distances needs 2-D vectors (n_samples, n_features); got shape {X.shape}.")
        graph = knn_graph(X, k, method=knn_method, seed=seed)
    n = graph.indices.shape[0]
    src = np.atleast_1d(np.asarray(sources))
    if src.ndim != 1 or src.size == 0 or not np.issubdtype(src.dtype, np.integer):
        raise ConfigError(f"The 'sources' parameter of geodesic_distances must be a non-empty 1-D sequence of row indices. Got {sources!r} instead.")
    src = src.astype(np.int64)
    if src.min() < 0 or src.max() >= n:
        bad = src[(src < 0) | (src >= n)]
        raise ConfigError(f"The 'sources' parameter of geodesic_distances must hold rows in [0, {n}). Got {bad[:5].tolist()} instead.")
    if not min_only and src.size * n * 8 > MAX_RESULT_BYTES:
        raise ConfigError(f"{src.size} sources x {n} rows of geodesic distances would take {src.size * n * 8 / 1e9:.1f} GB.",
                          hint="Use min_only=True (distance to the nearest source) or fewer sources.")
    A = neighbour_graph(graph)
    n_comp, comp = connected_components(A, directed=False)
    if min_only:
        dist, _, nearest = dijkstra(A, directed=False, indices=src, min_only=True, return_predecessors=True)
        nearest = np.where(np.isfinite(dist), nearest, -1).astype(np.int64)
        unreachable = np.array(int(np.isinf(dist).sum()))
    else:
        dist = dijkstra(A, directed=False, indices=src)
        nearest = None
        unreachable = np.isinf(dist).sum(axis=1)
    dist = np.asarray(dist, dtype=np.float64)
    dist[dist < _ZERO_EDGE * n] = 0.0  # paths made only of duplicate edges are length 0, as they should be
    result = GeodesicResult(dist, src, nearest, int(n_comp), comp, unreachable)
    if n_comp > 1:
        log.warning("geodesic distances: %s", result.summary())
    return result
