"""Exact greedy farthest-point (k-center) sampling: the vectorised baseline kernel.

Distances are computed block by block (``||x||^2 - 2 x.c + ||c||^2``) so no N x N matrix
is built; the running minimum distance to the chosen centres is kept for every point.
"""
from __future__ import annotations

import numpy as np

__all__ = ["farthest_point_sampling", "min_sq_dist_to_centres"]


def _sq_norms(X: np.ndarray, block: int) -> np.ndarray:
    out = np.empty(X.shape[0], dtype=np.float32)
    for s in range(0, X.shape[0], block):
        xb = np.asarray(X[s : s + block], dtype=np.float32)
        out[s : s + block] = np.einsum("ij,ij->i", xb, xb)
    return out


def min_sq_dist_to_centres(X: np.ndarray, centres: np.ndarray, x_sq: np.ndarray | None = None, block: int = 16384) -> np.ndarray:
    """Squared L2 distance of every row of X to its nearest row of ``centres`` (blockwise)."""
    X = np.asarray(X, dtype=np.float32)
    C = np.asarray(centres, dtype=np.float32)
    x_sq = _sq_norms(X, block) if x_sq is None else x_sq
    c_sq = np.einsum("ij,ij->i", C, C)
    out = np.full(X.shape[0], np.inf, dtype=np.float32)
    for cs in range(0, C.shape[0], 4096):
        cb, cb_sq = C[cs : cs + 4096], c_sq[cs : cs + 4096]
        for s in range(0, X.shape[0], block):
            d = x_sq[s : s + block, None] - 2.0 * (X[s : s + block] @ cb.T) + cb_sq[None, :]
            np.minimum(out[s : s + block], d.min(axis=1), out=out[s : s + block])
    np.maximum(out, 0.0, out=out)
    return out


def farthest_point_sampling(
    X: np.ndarray,
    n: int,
    *,
    initial: np.ndarray | None = None,
    first: int = 0,
    stop_radius: float | None = None,
    block: int = 65536,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``n`` rows of X greedily, each the farthest from all centres so far.

    ``initial``: indices of existing centres (already-labeled samples); when empty, row
    ``first`` is the first pick. Ties go to the lowest index. Returns (picks in order,
    distance of each pick to its nearest earlier centre; ``inf`` for a first pick with no
    earlier centre). With ``stop_radius``, stops early once the covering radius (the
    largest distance of any point to its nearest centre) falls to ``stop_radius`` or below.
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    N = X.shape[0]
    x_sq = _sq_norms(X, block)
    picks = np.empty(n, dtype=np.int64)
    dists = np.empty(n, dtype=np.float64)
    if initial is not None and len(initial):
        mind = min_sq_dist_to_centres(X, X[np.asarray(initial)], x_sq)
        mind[np.asarray(initial)] = 0.0
        start = 0
    else:
        mind = np.full(N, np.inf, dtype=np.float32)
        picks[0], dists[0] = first, np.inf
        mind[first] = 0.0
        _update(X, x_sq, first, mind, block)
        start = 1
    k = start
    for k in range(start, n):
        j = int(np.argmax(mind))
        r = float(np.sqrt(mind[j]))
        if stop_radius is not None and r <= stop_radius:
            return picks[:k], dists[:k]
        picks[k], dists[k] = j, r
        _update(X, x_sq, j, mind, block)
        mind[j] = 0.0
    return picks, dists


def _update(X: np.ndarray, x_sq: np.ndarray, j: int, mind: np.ndarray, block: int) -> None:
    c = X[j]
    c_sq = x_sq[j]
    for s in range(0, X.shape[0], block):
        d = x_sq[s : s + block] - 2.0 * (X[s : s + block] @ c) + c_sq
        np.minimum(mind[s : s + block], d, out=mind[s : s + block])
    np.maximum(mind, 0.0, out=mind)
