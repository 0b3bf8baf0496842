"""The distances that explain a selection, in the space the selection was made in.

All functions take vectors already mapped to the selection's metric (unit-normalised for
cosine; :func:`labelscout.space.metric.prepare_metric`) and return L2 distances in
that space, the same numbers the coreset strategy reports as its scores and radius.

* :func:`nearest_in`: each query row's nearest rows of a reference set (exact, faiss flat).
* :func:`nn_distance_within`: each row's distance to its nearest *other* row of the same set
  (:func:`nn_distance_of` for some rows of it, :func:`sample_rows` to pick them).
* :func:`coverage`: each pool row's nearest centre (selected or already labeled) and distance.
* :func:`neighbours_of_kept`: for some kept rows, the nearest rows that were not kept.
* :func:`histogram`: shared bins for several distance series.
"""
from __future__ import annotations

import numpy as np

from ..space.knn import knn_graph

__all__ = ["nearest_in", "nn_distance_within", "nn_distance_of", "sample_rows", "coverage", "neighbours_of_kept", "histogram", "pick_kept_examples"]


def nearest_in(queries: np.ndarray, reference: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into ``reference``) and distances of the ``k`` nearest reference rows of each
    query row: two (n_queries, k) arrays, ascending; -1 / inf where the reference is short."""
    import faiss

    q = np.ascontiguousarray(queries, dtype=np.float32)
    r = np.ascontiguousarray(reference, dtype=np.float32)
    n = q.shape[0]
    if n == 0 or r.shape[0] == 0:
        return np.full((n, k), -1, np.int64), np.full((n, k), np.inf, np.float32)
    index = faiss.IndexFlatL2(r.shape[1])
    index.add(r)
    d2, idx = index.search(q, min(k, r.shape[0]))
    dist = np.sqrt(np.maximum(d2, 0.0)).astype(np.float32)
    if idx.shape[1] < k:  # fewer reference rows than k
        pad = k - idx.shape[1]
        idx = np.hstack([idx, np.full((n, pad), -1, np.int64)])
        dist = np.hstack([dist, np.full((n, pad), np.inf, np.float32)])
    return idx.astype(np.int64), dist


def nn_distance_within(X: np.ndarray) -> np.ndarray:
    """(n,) distance of each row to its nearest other row; empty for fewer than 2 rows."""
    if X.shape[0] < 2:
        return np.empty(0, np.float32)
    return knn_graph(X, 1).distances[:, 0]


def sample_rows(n: int, cap: int | None, seed: int = 0) -> np.ndarray:
    """All rows, or ``cap`` of them drawn at random (sorted) when there are more: the
    histograms of a large pool are estimated from a sample, which is exact in distribution
    and saves a pool-by-pool search."""
    if cap is None or n <= cap:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


def nn_distance_of(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(len(rows),) distance of each given row of X to its nearest *other* row of X."""
    rows = np.asarray(rows, dtype=np.int64)
    if X.shape[0] < 2 or rows.size == 0:
        return np.empty(0, np.float32)
    if rows.size == X.shape[0]:
        return nn_distance_within(X)[rows]
    idx, dist = nearest_in(X[rows], X, 2)
    # the row itself is normally first; with an exact duplicate either may come first, and
    # then the other one is at distance 0 too
    return np.where(idx[:, 0] == rows, dist[:, 1], dist[:, 0]).astype(np.float32)


def coverage(X: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every row of X: the position (in ``centres``) of its nearest centre row, and
    the distance to it. ``centres`` are row indices of X (selected and labeled samples);
    a centre is its own nearest centre at distance 0."""
    centres = np.asarray(centres, dtype=np.int64)
    if centres.size == 0:
        return np.full(X.shape[0], -1, np.int64), np.full(X.shape[0], np.inf, np.float32)
    idx, dist = nearest_in(X, X[centres], 1)
    pos, dist = idx[:, 0], dist[:, 0]
    # exact ties (duplicates of a centre) may resolve to another centre: a centre covers itself
    pos[centres] = np.arange(centres.size)
    dist[centres] = 0.0
    return pos, dist


def neighbours_of_kept(X: np.ndarray, kept_rows: np.ndarray, removed_rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each kept row, its ``k`` nearest removed rows: pool indices and distances,
    two (len(kept_rows), k) arrays (-1 / inf where fewer than k were removed)."""
    kept_rows = np.asarray(kept_rows, dtype=np.int64)
    removed_rows = np.asarray(removed_rows, dtype=np.int64)
    idx, dist = nearest_in(X[kept_rows], X[removed_rows], k)
    pool_idx = np.full(idx.shape, -1, np.int64)
    found = idx >= 0
    pool_idx[found] = removed_rows[idx[found]]
    return pool_idx, dist


def pick_kept_examples(cell_sizes: np.ndarray, n_examples: int, seed: int = 0) -> np.ndarray:
    """Which kept samples to explain: half those that stand for the most pool samples, half
    drawn at random from the rest (so the page also shows typical picks), largest first.
    ``cell_sizes[j]`` is how many pool samples have kept sample ``j`` as nearest centre.
    Returns positions into ``cell_sizes``."""
    m = cell_sizes.size
    if m <= n_examples:
        return np.argsort(-cell_sizes, kind="stable")
    order = np.argsort(-cell_sizes, kind="stable")
    top = order[: n_examples // 2]
    rest = order[n_examples // 2 :]
    rng = np.random.default_rng(seed)
    extra = rng.choice(rest, size=n_examples - top.size, replace=False)
    chosen = np.concatenate([top, extra])
    return chosen[np.argsort(-cell_sizes[chosen], kind="stable")]


def histogram(series: list[np.ndarray], bins: int = 40) -> tuple[np.ndarray, list[np.ndarray]]:
    """Counts of each series over one shared set of bin edges from 0 to the largest finite
    value of any series. Non-finite values are left out."""
    finite = [s[np.isfinite(s)] for s in series]
    top = max((float(s.max()) for s in finite if s.size), default=1.0)
    top = top if top > 0 else 1.0
    edges = np.linspace(0.0, top, bins + 1)
    return edges, [np.histogram(s, bins=edges)[0] for s in finite]
