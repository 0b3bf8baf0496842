"""Greedy max coverage of balls (ProbCover's selection step) as a lazy max-heap in numba.

Ball i is row i plus the ids in ``nbr[i]`` (-1 = empty slot). The gain of a ball is the
number of its members not yet covered. Gains only fall as picks cover samples, so a gain
stored in the heap is an upper bound of the current one: the popped top is recomputed,
and if it still equals its bound it is the true maximum (every other entry's current
gain is at most its stored bound, which is at most this one); otherwise it goes back
with its current gain. Heap keys are ``gain * N + rank`` (rank: a seeded random order),
so ties go to the higher rank, exactly as in the dense reference of the tests.
"""
from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["greedy_cover_kernel"]


@nb.njit(cache=True, inline="always")
def _gain(nbr, covered, i):
    g = 0 if covered[i] else 1
    for t in range(nbr.shape[1]):
        j = nbr[i, t]
        if j < 0:
            break
        if not covered[j]:
            g += 1
    return g


@nb.njit(cache=True, inline="always")
def _sift_down(keys, items, size, pos):
    while True:
        left = 2 * pos + 1
        if left >= size:
            return
        best = left
        right = left + 1
        if right < size and keys[right] > keys[left]:
            best = right
        if keys[best] <= keys[pos]:
            return
        keys[pos], keys[best] = keys[best], keys[pos]
        items[pos], items[best] = items[best], items[pos]
        pos = best


@nb.njit(cache=True, inline="always")
def _sift_up(keys, items, pos):
    while pos > 0:
        parent = (pos - 1) // 2
        if keys[parent] >= keys[pos]:
            return
        keys[pos], keys[parent] = keys[parent], keys[pos]
        items[pos], items[parent] = items[parent], items[pos]
        pos = parent


@nb.njit(cache=True)
def _build_heap(nbr, covered, blocked, rank, keys, items):
    N = nbr.shape[0]
    size = 0
    for i in range(N):
        if not blocked[i]:
            keys[size] = _gain(nbr, covered, i) * N + rank[i]
            items[size] = i
            size += 1
    for pos in range(size // 2 - 1, -1, -1):
        _sift_down(keys, items, size, pos)
    return size


@nb.njit(cache=True)
def _cover(nbr, covered, i):
    """Mark ball i covered; return how many members were newly covered."""
    new = 0
    if not covered[i]:
        covered[i] = True
        new += 1
    for t in range(nbr.shape[1]):
        j = nbr[i, t]
        if j < 0:
            break
        if not covered[j]:
            covered[j] = True
            new += 1
    return new


@nb.njit(cache=True)
def greedy_cover_kernel(nbr, rank, excluded, n, picks, gains, rounds):
    """Fill ``picks``, ``gains``, ``rounds`` (length >= n) with n greedy picks; return the
    number of samples covered in the last round when it ended (excluded balls included)."""
    N = nbr.shape[0]
    covered = np.zeros(N, np.bool_)
    blocked = excluded.copy()  # excluded or already picked: never a candidate
    labeled = excluded.copy()
    n_covered = 0
    for e in range(N):
        if excluded[e]:
            n_covered += _cover(nbr, covered, e)
    keys = np.empty(N, np.int64)
    items = np.empty(N, np.int64)
    size = _build_heap(nbr, covered, blocked, rank, keys, items)
    rnd = 0
    for t in range(n):
        while True:
            key = keys[0]
            i = items[0]
            g = _gain(nbr, covered, i)
            stored = key // N
            if g == stored:
                break
            keys[0] = g * N + rank[i]  # replace the top by its current gain and restore the heap
            _sift_down(keys, items, size, 0)
        if g == 0:
            # every sample is covered: start a new round in which only labeled samples count as covered
            rnd += 1
            n_covered = 0
            for j in range(N):
                covered[j] = labeled[j]
                if labeled[j]:
                    n_covered += 1
            size = _build_heap(nbr, covered, blocked, rank, keys, items)
            i = items[0]
            g = _gain(nbr, covered, i)
        picks[t] = i
        gains[t] = g
        rounds[t] = rnd
        n_covered += _cover(nbr, covered, i)
        blocked[i] = True
        labeled[i] = True
        # remove the top: move the last entry up and sift it down
        size -= 1
        keys[0] = keys[size]
        items[0] = items[size]
        _sift_down(keys, items, size, 0)
    return n_covered
