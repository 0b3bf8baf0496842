"""k-nearest-neighbour graphs: the shared basis of adjacency, typicality, duplicates,
outliers and geodesic distances.

:func:`knn_graph` returns, for every row, its ``k`` nearest other rows and their
distances (self excluded), as two (n_samples, k) arrays. Distances are L2 in the given
space (for cosine, pass unit-normalised vectors: L2 = sqrt(2 - 2 cos); see
:mod:`labelscout.space.transform`). Methods (faiss):

* ``exact`` - brute-force search (``faiss.knn``, no copy of X), queries in blocks so
  scratch memory stays bounded;
* ``hnsw``  - a navigable small-world graph (IndexHNSWFlat): no training, high recall;
* ``ivf``   - an inverted file with ``nlist`` ~ 4 sqrt(N) k-means cells, searching the
  ``nprobe`` nearest cells per query. The cells hold 8-bit scalar-quantised codes (a
  quarter of the memory of a float copy of X), and each query's 2(k+1) best candidates
  are re-ranked by their exact float32 distances computed from X, so the codes' rounding
  costs no recall;
* ``auto``  - exact up to :data:`EXACT_LIMIT` rows, IVF above (at 1M x 64 on 2 cores IVF
  reached recall@10 0.9945 faster than a light HNSW reached 0.93; docs/benchmarks.md).

Results are written block by block into the final arrays (no full-size temporaries), so
the working memory is the (n_samples, k) result plus the index (none for exact, the
codes for ivf, a float copy plus links for hnsw).

Approximate graphs can report their recall: :func:`measure_recall` checks a random
sample of rows against exact search, and ``knn_graph(..., recall_sample=1000)`` stores
the result on the graph.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from .._memory import release_freed_memory
from ..errors import ConfigError, InputError

__all__ = ["KnnGraph", "KnnCache", "knn_graph", "knn_blocks", "measure_recall", "exact_neighbours", "EXACT_LIMIT", "METHODS"]

log = logging.getLogger(__name__)

#: pools up to this size use exact search under method="auto"
EXACT_LIMIT = 200_000
METHODS = ("auto", "exact", "hnsw", "ivf")
#: query rows per block: faiss's flat search keeps a (block, N) distance tile in flight
#: only per internal sub-block, but the result arrays of a block are ours
_QUERY_BLOCK = 65_536
#: bytes of gathered candidate vectors per block when IVF results are re-ranked
_RERANK_BYTES = 16 << 20


@dataclass
class KnnGraph:
    indices: np.ndarray  # (n_samples, k) int64, -1 where fewer than k neighbours exist
    distances: np.ndarray  # (n_samples, k) float32, ascending per row; inf where index is -1
    method: str
    params: dict[str, Any] = field(default_factory=dict)  # index parameters actually used
    recall: float | None = None  # measured recall@k against exact search, when asked
    seconds: float | None = None  # build + search wall time

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def describe(self) -> dict[str, Any]:
        """What run.json records about the graph."""
        return {"method": self.method, "k": self.k, "params": self.params, "recall": self.recall,
                "seconds": None if self.seconds is None else round(self.seconds, 4)}



class KnnCache:
    """kNN graphs of one pool, shared by the consumers of one run (``inspect``'s detectors).

    The graph of a (space key, method) pair is built once, for the largest ``k`` asked so far
    (at least ``k_min``, so the first request can already serve the later, larger ones), and
    smaller requests get its first ``k`` columns: rows are sorted by distance, so those are
    the k-nearest-neighbour graph. ``key`` names how the vectors were prepared (e.g. "cosine"
    for unit rows): only requests on the same vectors may share a graph.
    """

    def __init__(self, k_min: int = 1):
        self.k_min = k_min
        self.built = 0  # graphs built, for tests and run records
        self._graphs: dict[tuple[str, str], KnnGraph] = {}

    def graph(self, key: str, X: np.ndarray, k: int, *, method: str = "auto") -> KnnGraph:
        g = self._graphs.get((key, method))
        if g is None or g.k < k:
            g = knn_graph(X, max(k, self.k_min), method=method)
            self._graphs[(key, method)] = g
            self.built += 1
        if g.k == k:
            return g
        # recall was measured (if at all) for the full width, not for this slice
        return KnnGraph(g.indices[:, :k], g.distances[:, :k], g.method, dict(g.params), None, g.seconds)


def _faiss():
    import faiss

    return faiss


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"The '{name}' parameter of knn_graph must be an int in [{low}, inf). Got {value!r} instead.")


def _check_args(k, method, hnsw_m, ef_search, ef_construction, nprobe, nlist) -> None:
    _check_int("k", k, 1)
    if method not in METHODS:
        raise ConfigError(f"The 'method' parameter of knn_graph must be one of {{{', '.join(repr(m) for m in METHODS)}}}. "
                          f"Got {method!r} instead.")
    for name, value in (("hnsw_m", hnsw_m), ("ef_search", ef_search), ("ef_construction", ef_construction), ("nprobe", nprobe)):
        _check_int(name, value, 1)
    if nlist is not None:
        _check_int("nlist", nlist, 1)


def _check_matrix(X: np.ndarray) -> np.ndarray:
    """X as C-contiguous float32 (n_samples >= 2, n_features), finite."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise InputError(f"A kNN graph needs 2-D vectors (n_samples, n_features); got shape {X.shape}.")
    if X.shape[0] < 2:
        raise InputError(f"A kNN graph needs at least 2 samples; got shape {X.shape}.")
    if not np.isfinite(X).all():
        bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
        raise InputError(f"A kNN graph needs finite vectors; rows {bad[:5].tolist()} hold NaN or inf ({bad.size} rows).")
    return X


def knn_graph(X: np.ndarray, k: int, *, method: str = "auto", hnsw_m: int = 32, ef_search: int = 128,
              ef_construction: int = 80, nlist: int | None = None, nprobe: int = 16, seed: int = 0,
              recall_sample: int | None = None) -> KnnGraph:
    """The ``k`` nearest neighbours of every row of X (self excluded).

    ``method``: "exact", "hnsw", "ivf" or "auto" (exact up to :data:`EXACT_LIMIT` rows,
    else ivf). ``hnsw_m`` / ``ef_construction`` / ``ef_search`` tune HNSW; ``nlist``
    (default ~4 sqrt(N)) / ``nprobe`` tune IVF. ``recall_sample``: measure recall@k of the
    graph on that many random rows against exact search (:func:`measure_recall`) and
    store it in ``graph.recall`` (exact graphs record 1.0 without measuring).
    """
    _check_args(k, method, hnsw_m, ef_search, ef_construction, nprobe, nlist)
    if recall_sample is not None:
        _check_int("recall_sample", recall_sample, 1)
    t0 = time.perf_counter()
    X = _check_matrix(X)
    params: dict[str, Any] = {}
    blocks = knn_blocks(X, k, method=method, hnsw_m=hnsw_m, ef_search=ef_search, ef_construction=ef_construction,
                        nlist=nlist, nprobe=nprobe, seed=seed, info=params)
    n = X.shape[0]
    idx = np.empty((n, k), np.int64)
    dist = np.empty((n, k), np.float32)
    for s, I, D in blocks:
        idx[s:s + I.shape[0]], dist[s:s + I.shape[0]] = I, D
    method = params.pop("method")
    graph = KnnGraph(idx, dist, method, params, seconds=time.perf_counter() - t0)
    if recall_sample is not None:
        graph.recall = 1.0 if method == "exact" else measure_recall(X, graph, sample=recall_sample, seed=seed)
    return graph


def knn_blocks(X: np.ndarray, k: int, *, method: str = "auto", hnsw_m: int = 32, ef_search: int = 128,
               ef_construction: int = 80, nlist: int | None = None, nprobe: int = 16, seed: int = 0,
               info: dict[str, Any] | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The rows of :func:`knn_graph`, block by block: yields ``(start, indices, distances)``
    with (block, k) int64 indices and float32 L2 distances of rows ``start...``.

    For consumers that keep less than the whole graph (ProbCover keeps int32 neighbours
    within its radius): no (n_samples, k) array is ever allocated here. ``info`` (a dict)
    receives the resolved ``method`` and the index parameters. Arguments as for
    :func:`knn_graph`; they are validated before the first block is searched.
    """
    _check_args(k, method, hnsw_m, ef_search, ef_construction, nprobe, nlist)
    X = _check_matrix(X)  # now, not at the first next(): a generator body runs late
    return _search_blocks(X, k, method, hnsw_m, ef_search, ef_construction, nlist, nprobe, seed, info)


def _search_blocks(X, k, method, hnsw_m, ef_search, ef_construction, nlist, nprobe, seed, info):
    n = X.shape[0]
    k_eff = min(int(k), n - 1)
    if method == "auto":
        method = "exact" if n <= EXACT_LIMIT else "ivf"
    faiss = _faiss()
    d = X.shape[1]
    params: dict[str, Any] = {}
    index = None
    rerank = False
    if method == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = max(ef_search, k_eff + 1)
        params = {"M": hnsw_m, "ef_construction": ef_construction, "ef_search": int(index.hnsw.efSearch)}
    elif method == "ivf":
        index, params = _ivf_index(faiss, X, nlist, nprobe, seed)
        rerank = True
    if info is not None:
        info.update(params, method=method)
    if index is not None:
        # in blocks: an IVF index encodes (and assigns) everything it is given at once
        for s in range(0, n, _QUERY_BLOCK):
            index.add(X[s:s + _QUERY_BLOCK])
    # ask for one extra: the point itself is normally its own nearest neighbour
    want = k_eff + 1
    cand = min(n, 2 * want) if rerank else want
    block = _QUERY_BLOCK if not rerank else max(256, min(_QUERY_BLOCK, _RERANK_BYTES // (cand * d * 4)))
    for s in range(0, n, block):
        Q = X[s:s + block]
        if index is None:
            D, I = faiss.knn(Q, X, want)
        else:
            D, I = index.search(Q, cand)
            if rerank:
                D, I = _rerank(X, Q, I, want)
        bi, bd = _drop_self(I, D, k_eff, self_ids=np.arange(s, s + Q.shape[0]))
        np.sqrt(np.maximum(bd, 0.0, out=bd), out=bd)
        if k_eff < k:  # fewer other rows than k: pad with "no neighbour"
            pad = k - k_eff
            bi = np.hstack([bi, np.full((bi.shape[0], pad), -1, np.int64)])
            bd = np.hstack([bd, np.full((bd.shape[0], pad), np.inf, np.float32)])
        yield s, bi, bd
    del index
    release_freed_memory()


def _ivf_index(faiss, X: np.ndarray, nlist: int | None, nprobe: int, seed: int):
    """An IVF-flat index trained on a sample of X. ~4 sqrt(N) cells balances the cost of
    finding the cells (nlist distances per query) against scanning them (nprobe N / nlist)."""
    n, d = X.shape
    if nlist is None:
        nlist = max(1, int(round(4 * math.sqrt(n))))
    # k-means needs points to place its centroids; faiss wants >= 39 per cell
    nlist = max(1, min(nlist, n // 39 if n >= 39 else 1))
    quantizer = faiss.IndexFlatL2(d)
    index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_L2)
    # train on 64 points per cell at most: centroids settle long before all of a large pool is used
    n_train = min(n, 64 * nlist)
    rows = np.sort(np.random.default_rng(seed).choice(n, n_train, replace=False)) if n_train < n else slice(None)
    index.cp.seed = seed
    index.cp.niter = 10
    index.train(X[rows])
    index.nprobe = min(nprobe, nlist)
    return index, {"nlist": nlist, "nprobe": int(index.nprobe), "n_train": int(n_train), "codes": "SQ8",
                   "rerank": "exact float32, 2(k+1) candidates"}


def _rerank(X: np.ndarray, Q: np.ndarray, I: np.ndarray, want: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``want`` nearest of each query's candidates ``I`` (-1: none) by exact squared
    float32 distances from X, ascending (ties in candidate order)."""
    valid = I >= 0
    diff = X[np.where(valid, I, 0)]
    diff -= Q[:, None, :]
    D = np.einsum("bkd,bkd->bk", diff, diff)
    D[~valid] = np.inf
    order = np.argsort(D, axis=1, kind="stable")[:, :want]
    return np.take_along_axis(D, order, axis=1), np.take_along_axis(I, order, axis=1)


def exact_neighbours(X: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest other rows of X for the query ``rows`` (self excluded):
    (len(rows), k) indices and L2 distances, by brute force (``faiss.knn``)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    faiss = _faiss()
    k_eff = min(k, X.shape[0] - 1)
    D, I = faiss.knn(X[rows], X, k_eff + 1)
    # _drop_self expects row i to be query i; map through rows
    idx, dist = _drop_self(I, D, k_eff, self_ids=rows)
    return idx, np.sqrt(np.maximum(dist, 0.0))


def measure_recall(X: np.ndarray, graph: KnnGraph, sample: int = 1000, seed: int = 0) -> float:
    """recall@k of ``graph`` on ``sample`` random rows of X, against exact search.

    A returned neighbour counts as correct when it is no farther than the exact k-th
    neighbour (within float32 rounding), so ties at the k-th distance (duplicates) are not
    counted as misses. Returns the mean fraction over the sampled rows."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    _check_int("sample", sample, 1)
    k = graph.k
    k_eff = min(k, n - 1)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, min(sample, n), replace=False))
    _, true_d = exact_neighbours(X, rows, k_eff)
    kth = true_d[:, k_eff - 1:k_eff]  # (m, 1)
    got_i = graph.indices[rows, :k_eff]
    valid = got_i >= 0
    # recompute the returned neighbours' distances exactly, so the check does not trust the index
    diff = X[np.where(valid, got_i, 0)] - X[rows][:, None, :]
    got_d = np.sqrt((diff.astype(np.float64) ** 2).sum(-1))
    tol = 1e-4 * np.maximum(kth, 1e-3)
    ok = valid & (got_d <= kth + tol) & (got_i != rows[:, None])
    # a neighbour listed twice would count twice: count unique ids only
    hits = np.array([np.unique(r[m]).size for r, m in zip(got_i, ok)])
    return float(hits.mean() / k_eff)


def _drop_self(I: np.ndarray, D: np.ndarray, k: int, self_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index from its result list (it may not be first when
    duplicates tie at distance 0), keeping ``k`` neighbours. ``self_ids[i]`` is row i's own
    index (default: i)."""
    n = I.shape[0]
    own = np.arange(n) if self_ids is None else np.asarray(self_ids)
    is_self = I == own[:, None]
    # rows where self was not returned at all: drop the last (farthest) entry instead
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    # an approximate index can return -1 (no result) for some slots: those sort last too
    keep = ~is_self
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    idx = np.take_along_axis(I, order, axis=1).astype(np.int64)
    dist = np.take_along_axis(D, order, axis=1).astype(np.float32)
    dist[idx < 0] = np.inf
    return idx, dist
