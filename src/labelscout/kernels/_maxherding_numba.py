"""Greedy facility location over a kNN graph (MaxHerding's selection step), lazy, in numba.

Row c "stands for" itself and its neighbours ``nbr[c]`` (-1 = empty slot) with the
Gaussian kernel ``w(c, i) = exp(-|x_c - x_i|^2 / h^2)``, computed from the vectors when
needed (only the int32 ids are stored, as for ProbCover). The objective is
``F(S) = sum_i max_{s in S} w(s, i)``; a candidate's gain is
``sum over its list of max(0, w(c, i) - best[i])``. Gains only fall as ``best`` grows
(submodularity), so a stored gain bounds the current one: the heap's top is recomputed
and taken if its gain did not change, otherwise it goes back with its current gain.
Ties go to the higher seeded rank, as in the dense reference of the tests.
"""
from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["facility_location_kernel", "gains_after", "kernel_value"]


@nb.njit(cache=True, inline="always")
def kernel_value(X, a, b, inv_h2):
    d2 = 0.0
    for f in range(X.shape[1]):
        t = np.float64(X[a, f]) - np.float64(X[b, f])
        d2 += t * t
    return np.exp(-d2 * inv_h2)


@nb.njit(cache=True)
def _gain(X, nbr, best, c, inv_h2):
    g = max(0.0, 1.0 - best[c])  # w(c, c) = 1
    for t in range(nbr.shape[1]):
        j = nbr[c, t]
        if j < 0:
            break
        w = kernel_value(X, c, j, inv_h2)
        if w > best[j]:
            g += w - best[j]
    return g


@nb.njit(cache=True)
def _take(X, nbr, best, c, inv_h2):
    best[c] = 1.0
    for t in range(nbr.shape[1]):
        j = nbr[c, t]
        if j < 0:
            break
        w = kernel_value(X, c, j, inv_h2)
        if w > best[j]:
            best[j] = w


@nb.njit(cache=True)
def gains_after(X, nbr, best, inv_h2, excluded):
    """Take the ``excluded`` rows into ``best`` (in place), then every row's gain."""
    N = nbr.shape[0]
    for e in range(N):
        if excluded[e]:
            _take(X, nbr, best, e, inv_h2)
    out = np.empty(N)
    for c in range(N):
        out[c] = _gain(X, nbr, best, c, inv_h2)
    return out


@nb.njit(cache=True, inline="always")
def _above(g1, r1, g2, r2):
    return g1 > g2 or (g1 == g2 and r1 > r2)


@nb.njit(cache=True)
def _sift_down(keys, ranks, items, size, pos):
    while True:
        left = 2 * pos + 1
        if left >= size:
            return
        top = left
        right = left + 1
        if right < size and _above(keys[right], ranks[right], keys[left], ranks[left]):
            top = right
        if not _above(keys[top], ranks[top], keys[pos], ranks[pos]):
            return
        keys[pos], keys[top] = keys[top], keys[pos]
        ranks[pos], ranks[top] = ranks[top], ranks[pos]
        items[pos], items[top] = items[top], items[pos]
        pos = top


@nb.njit(cache=True)
def facility_location_kernel(X, nbr, inv_h2, rank, excluded, n, picks, gains):
    """Fill ``picks`` / ``gains`` (length >= n) with n greedy picks over the rows not
    ``excluded`` (whose lists count as taken from the start); return F of all taken rows."""
    N = nbr.shape[0]
    best = np.zeros(N)
    for e in range(N):
        if excluded[e]:
            _take(X, nbr, best, e, inv_h2)
    keys = np.empty(N)
    ranks = np.empty(N, np.int32)  # int32: 4 bytes a row less each, at the memory peak
    items = np.empty(N, np.int32)
    size = 0
    for c in range(N):
        if not excluded[c]:
            keys[size] = _gain(X, nbr, best, c, inv_h2)
            ranks[size] = rank[c]
            items[size] = c
            size += 1
    for pos in range(size // 2 - 1, -1, -1):
        _sift_down(keys, ranks, items, size, pos)
    for t in range(n):
        while True:
            c = items[0]
            g = _gain(X, nbr, best, c, inv_h2)
            if g == keys[0]:
                break
            keys[0] = g
            _sift_down(keys, ranks, items, size, 0)
        picks[t] = c
        gains[t] = g
        _take(X, nbr, best, c, inv_h2)
        size -= 1
        keys[0], ranks[0], items[0] = keys[size], ranks[size], items[size]
        _sift_down(keys, ranks, items, size, 0)
    return best.sum()
