"""The slow, obviously-correct greedy farthest-point reference every fast path is tested against.

One full pass over the data per pick, distances computed directly as ``sum((x - c)^2)`` in
float64 in a fixed order (the numba kernel adds in the same order, so the two agree bit
for bit). Not for production sizes: O(N D) work per pick and a
float64 temporary of N values.
"""
from __future__ import annotations

import numpy as np

__all__ = ["farthest_point_sampling_reference", "covering_radius_reference"]

#: the running distance of a point that is itself a centre; below every real distance, so
#: a centre is never picked again (duplicates of it, at distance 0, still can be)
CENTRE = -1.0


def _sq_dist_to(X: np.ndarray, c: np.ndarray) -> np.ndarray:
    """sum((x - c)^2) per row in float64: dimension t goes to accumulator t % 8, and the
    eight accumulators are added pairwise ((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7))."""
    acc = np.zeros((8, X.shape[0]), dtype=np.float64)
    for t in range(X.shape[1]):
        diff = X[:, t].astype(np.float64) - np.float64(c[t])
        acc[t % 8] += diff * diff
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


def farthest_point_sampling_reference(
    X: np.ndarray,
    n: int,
    *,
    initial: np.ndarray | None = None,
    first: int = 0,
    stop_radius: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center: (picks in order, distance of each pick to its nearest earlier centre).

    Same contract as :func:`labelscout.kernels.farthest_point_sampling`: ``initial`` rows are
    existing centres (never picked); without them row ``first`` is the first pick (score
    ``inf``). Ties go to the lowest index. Stops early once the covering radius is at most
    ``stop_radius``.
    """
    X = np.asarray(X, dtype=np.float32)
    N = X.shape[0]
    mind = np.full(N, np.inf, dtype=np.float64)
    picks: list[int] = []
    dists: list[float] = []

    def add_centre(j: int) -> None:
        np.minimum(mind, _sq_dist_to(X, X[j]), out=mind)
        mind[j] = CENTRE

    init = [] if initial is None else [int(i) for i in np.asarray(initial).reshape(-1)]
    for j in init:
        add_centre(j)
    while len(picks) < n:
        if not init and not picks:
            j, r = int(first), float("inf")
        else:
            j = int(np.argmax(mind))  # first maximum = lowest index among ties
            if mind[j] < 0:  # every point is a centre already
                break
            r = float(np.sqrt(mind[j]))
            if stop_radius is not None and r <= stop_radius:
                break
        picks.append(j)
        dists.append(r)
        add_centre(j)
    return np.asarray(picks, dtype=np.int64), np.asarray(dists, dtype=np.float64)


def covering_radius_reference(X: np.ndarray, centres: np.ndarray) -> float:
    """Largest distance of any row of X to its nearest centre (float64, direct)."""
    X = np.asarray(X, dtype=np.float32)
    mind = np.full(X.shape[0], np.inf)
    for j in np.asarray(centres).reshape(-1):
        np.minimum(mind, _sq_dist_to(X, X[j]), out=mind)
    return float(np.sqrt(mind.max())) if len(centres) else float("inf")
