"""Adjacency selection: repeatedly drop one end of the shortest edge until the budget remains.

De-duplication by thinning: the two closest surviving samples are the most redundant
pair, so one of them goes: the one whose second-nearest surviving neighbour is closer
(it stays better represented after the removal); on a tie the larger index goes.
Already-labeled (excluded) samples are never removed and count as neighbours, so what
sits next to them is thinned first. Works best when keeping more than half the pool.

Fast path: a min-heap holds one entry per removable survivor, keyed by the distance to
its nearest surviving neighbour (first alive entry of its sorted kNN list; the initial
entries live in a sorted numpy array, merged with the heap on pop). Removing a
sample is O(1); entries that point at a removed sample are stale lower bounds, refreshed
when they reach the top (lazy invalidation). A list whose entries are all removed is
refilled by an exact search over the survivors, batched over every list waiting for one
(neighbour repair). Memory: the (n_samples, k) lists plus blocks; never O(N^2).

Pick order: the kept samples by distance to their nearest kept neighbour (excluded
samples included), largest first, so a prefix favours the most isolated picks. A smaller
budget removes more, so prefixes are not adjacency selections of their own size.
"""
from __future__ import annotations

import heapq
import numbers

import numpy as np

from .._validation import Interval, Options
from .._memory import release_freed_memory
from ..space.knn import knn_graph
from ._base import BUDGET_CONSTRAINT, BaseSelector
from .coreset import prepare_metric

__all__ = ["AdjacencySelector", "exact_row_distances", "adjacency_thin"]

#: pools up to this size refill used-up neighbour lists by exact search over the survivors
#: (O(n_samples) per batch); larger ones search an IVF index with removed samples filtered out
EXACT_REPAIR_LIMIT = 50_000
IVF_NPROBE = 16


def exact_row_distances(X: np.ndarray, rows: np.ndarray, cols: np.ndarray, budget: int = 1 << 20) -> np.ndarray:
    """float32 of the float64 distance ||X[rows[i]] - X[cols[i, j]]||; inf where cols is -1.

    Computed from differences (not ||x||^2 - 2xy + ||y||^2) so that equal pairs get equal
    values wherever they are computed; ties are then decided by index, not by rounding.
    """
    m, k = cols.shape
    out = np.full((m, k), np.inf, dtype=np.float32)
    step = max(1, budget // max(1, k * X.shape[1]))
    for s in range(0, m, step):
        c = cols[s:s + step]
        valid = c >= 0
        diff = X[rows[s:s + step]].astype(np.float64)[:, None, :] - X[np.where(valid, c, 0)].astype(np.float64)  # (B, k, D)
        d = np.sqrt(np.einsum("bkd,bkd->bk", diff, diff)).astype(np.float32)
        out[s:s + step] = np.where(valid, d, np.inf)
    return out


def _edge_key(u: int, j: int, n: int) -> int:
    """One non-negative int ordered like (min(u, j), max(u, j), u): the tie-break among heap
    entries at the same distance. Used-up lists use ``u - n`` (negative: they come first)."""
    lo, hi = (u, j) if u < j else (j, u)
    return ((lo * n + hi) << 1) | (u == hi)


def _owner_neighbour(key: int, n: int) -> tuple[int, int]:
    if key < 0:
        return key + n, -1
    lo, hi = divmod(key >> 1, n)
    return (hi, lo) if key & 1 else (lo, hi)


def _sort_rows(cols: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order each row by (distance, index), missing entries (-1) last."""
    key_idx = np.where(cols >= 0, cols, np.iinfo(np.int64).max)
    order = np.lexsort((key_idx, dist), axis=-1)
    return np.take_along_axis(cols, order, -1), np.take_along_axis(dist, order, -1)


class _Lists:
    """Sorted neighbour lists with a cursor per row, over a shrinking set of survivors."""

    def __init__(self, X: np.ndarray, nbr: np.ndarray, alive: np.ndarray):
        self.X = X
        self.alive = alive
        self.k = nbr.shape[1]
        rows = np.arange(X.shape[0])
        dist = np.empty(nbr.shape, np.float32)
        step = 65536
        for s in range(0, X.shape[0], step):  # exact distances and (distance, index) order, in blocks
            c = nbr[s:s + step]
            d = exact_row_distances(X, rows[s:s + step], c)
            nbr[s:s + step], dist[s:s + step] = _sort_rows(c, d)
        self.nbr = nbr.astype(np.int32)
        self.dist = dist
        self.ptr = np.zeros(X.shape[0], np.int32)
        self.x_sq = None
        self.index = None
        self.repairs = 0  # rows refilled
        self.repair_batches = 0

    def first(self, u: int) -> int:
        """Position of the first surviving entry of u's list, or -1 if the list is used up."""
        p, row, alive, k = int(self.ptr[u]), self.nbr[u], self.alive, self.k
        while p < k and row[p] >= 0 and not alive[row[p]]:
            p += 1
        self.ptr[u] = p
        return p if p < k and row[p] >= 0 else -1

    def next_after(self, u: int, p: int) -> int:
        row, alive, k = self.nbr[u], self.alive, self.k
        p += 1
        while p < k and row[p] >= 0 and not alive[row[p]]:
            p += 1
        return p if p < k and row[p] >= 0 else -1

    def repair(self, nodes: np.ndarray) -> None:
        """Refill the lists of ``nodes`` with their k nearest survivors (in (distance, index) order)."""
        nodes = np.asarray(nodes, np.int64)
        if self.X.shape[0] <= EXACT_REPAIR_LIMIT:
            best_i = self._search_exact(nodes)
        else:
            best_i = self._search_ivf(nodes)
        d = exact_row_distances(self.X, nodes, best_i)
        cols, dist = _sort_rows(best_i, d)
        self.nbr[nodes] = cols
        self.dist[nodes] = dist
        self.ptr[nodes] = 0
        self.repairs += nodes.size
        self.repair_batches += 1

    def _search_ivf(self, nodes: np.ndarray) -> np.ndarray:
        """k nearest survivors from an IVF index over the whole pool, removed samples filtered
        out by a bitmap. 8-bit codes (a quarter of the matrix) only rank candidates; their
        distances are recomputed exactly. Approximate: a true neighbour in an unprobed cell
        is missed."""
        import faiss

        X, k, N = self.X, self.k, self.X.shape[0]
        if self.index is None:
            nlist = int(np.sqrt(N))
            quantizer = faiss.IndexFlatL2(X.shape[1])
            index = faiss.IndexIVFScalarQuantizer(quantizer, X.shape[1], nlist, faiss.ScalarQuantizer.QT_8bit)
            sample = np.random.default_rng(0).choice(N, min(N, 40 * nlist), replace=False)
            index.train(np.ascontiguousarray(X[np.sort(sample)]))
            for s in range(0, N, 1 << 16):
                index.add(np.ascontiguousarray(X[s:s + (1 << 16)]))
            self.index, self.quantizer = index, quantizer
        bitmap = np.packbits(self.alive, bitorder="little")
        params = faiss.SearchParametersIVF(sel=faiss.IDSelectorBitmap(N, faiss.swig_ptr(bitmap)), nprobe=IVF_NPROBE)
        # a handful of queries costs less than waking the OpenMP team (which dominates on a busy machine)
        threads = faiss.omp_get_max_threads()
        if nodes.size < 64:
            faiss.omp_set_num_threads(1)
        try:
            _, I = self.index.search(np.ascontiguousarray(X[nodes]), k + 1, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        I = I.astype(np.int64)
        I[I == nodes[:, None]] = -1  # not its own neighbour
        keep = np.argsort(I < 0, axis=1, kind="stable")[:, :k]  # valid entries first
        I = np.take_along_axis(I, keep, 1)
        # probed cells with too few survivors: exact search for those rows, so a short list
        # always means "no more survivors exist" (the repair loop relies on it)
        short = (I >= 0).sum(axis=1) < min(k, int(self.alive.sum()) - 1)
        if short.any():
            I[short] = self._search_exact(nodes[short])
        return I

    def _search_exact(self, nodes: np.ndarray) -> np.ndarray:
        """k nearest survivors by brute force over the survivors, in blocks."""
        X, k = self.X, self.k
        if self.x_sq is None:
            self.x_sq = np.einsum("ij,ij->i", X, X, dtype=np.float64).astype(np.float32)
        cand = np.flatnonzero(self.alive)
        m = nodes.size
        best_i = np.full((m, k), -1, np.int64)
        best_d = np.full((m, k), np.inf, np.float32)
        Q = X[nodes]
        step = max(1024, (1 << 23) // max(1, m))
        for s in range(0, cand.size, step):
            c = cand[s:s + step]
            d2 = self.x_sq[nodes][:, None] - 2.0 * (Q @ X[c].T) + self.x_sq[c][None, :]  # (m, block)
            d2[nodes[:, None] == c[None, :]] = np.inf  # not its own neighbour
            all_d = np.concatenate([best_d, d2], axis=1)
            all_i = np.concatenate([best_i, np.broadcast_to(c, d2.shape)], axis=1)
            kk = min(k, all_d.shape[1] - 1)
            part = np.argpartition(all_d, kk, axis=1)[:, :k] if all_d.shape[1] > k else np.argsort(all_d, axis=1)[:, :k]
            best_d = np.take_along_axis(all_d, part, 1)
            best_i = np.take_along_axis(all_i, part, 1)
        return np.where(np.isfinite(best_d), best_i, -1)


def adjacency_thin(X: np.ndarray, n_keep: int, excluded: np.ndarray, k: int = 10, *, method: str = "auto",
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, _Lists]:
    """Remove samples of X (never ``excluded`` ones) until ``n_keep`` removable ones survive.

    Returns (kept removable indices sorted, their distance to the nearest survivor, lists).
    X is the geometry (L2); input already validated.
    """
    N = X.shape[0]
    alive = np.ones(N, bool)
    is_excl = np.zeros(N, bool)
    is_excl[excluded] = True
    if N >= 2:
        # two neighbours at least: the removal rule compares second-nearest distances
        graph = knn_graph(X, min(max(k, 2), N - 1), method=method, seed=seed)
        nbr = graph.indices
        del graph
    else:
        nbr = np.full((N, 1), -1, np.int64)
    lists = _Lists(X, nbr, alive)
    del nbr  # the lists hold an int32 copy
    release_freed_memory()  # the graph's and the sort's scratch, before the loop allocates
    free_alive = N - int(is_excl.sum())
    # heap entries are (distance, key): the order of (distance, low end, high end, owner,
    # neighbour) packed into one int (see _edge_key), half the memory of a 5-tuple
    heap: list[tuple[float, int]] = []
    pending: set[int] = set()  # owners whose list is used up; their entry is a lower bound

    def push(u: int) -> None:
        p = lists.first(u)
        if p >= 0:
            heapq.heappush(heap, (float(lists.dist[u, p]), _edge_key(u, int(lists.nbr[u, p]), N)))
        else:  # every listed neighbour is gone: the nearest survivor is at least as far as the last one
            finite = lists.dist[u][np.isfinite(lists.dist[u])]
            bound = float(finite[-1]) if finite.size else 0.0
            pending.add(u)
            heapq.heappush(heap, (bound, u - N))  # before every edge at the same distance, by owner

    def second(u: int) -> tuple[float, bool]:
        """Distance from u to its second-nearest survivor (inf if none) and whether it is
        exact; when u's list has run out it is only a lower bound (its last distance)."""
        p = lists.first(u)
        q = lists.next_after(u, p) if p >= 0 else -1
        if q >= 0:
            return float(lists.dist[u, q]), True
        finite = lists.dist[u][np.isfinite(lists.dist[u])]
        if lists.nbr[u, -1] < 0:  # a padded list held every other sample that existed when it was filled
            return float("inf"), True
        return (float(finite[-1]) if finite.size else 0.0), False

    def second_exact(u: int) -> float:
        d, exact = second(u)
        if exact:
            return d
        batch = np.fromiter({u} | {v for v in pending if alive[v]}, np.int64)
        pending.clear()
        lists.repair(batch)
        for v in batch:
            if v != u:
                push(int(v))
        return second(u)[0]

    def redundant(u: int, j: int) -> int:
        """Which of the closest pair to drop: the one with the nearer second neighbour
        (larger index on a tie). Lower bounds settle most cases without a repair."""
        su, eu = second(u)
        sj, ej = second(j)
        if not (eu and ej):
            if eu and su < sj:  # sj >= its bound > su
                return u
            if ej and sj < su:
                return j
            su, sj = second_exact(u), second_exact(j)
        if su != sj:
            return u if su < sj else j
        return max(u, j)

    # Every removable sample's first entry, sorted once in numpy (20 bytes a sample instead of
    # a ~110-byte heap entry); the heap then holds only entries pushed since. Popping takes the
    # smaller head of the two.
    first_u = np.flatnonzero(~is_excl) if free_alive > n_keep and lists.k and N > 1 else np.empty(0, np.int64)
    first_j = lists.nbr[first_u, 0].astype(np.int64)
    first_d = lists.dist[first_u, 0]
    lo, hi = np.minimum(first_u, first_j), np.maximum(first_u, first_j)
    order = np.lexsort((hi, lo, first_d))
    first_u, first_j, first_d = first_u[order], first_j[order], first_d[order]
    del order, lo, hi
    sp = 0

    def pop() -> tuple[float, int, int]:
        """(distance, owner, neighbour) of the smallest entry; neighbour -1 for a used-up list."""
        nonlocal sp
        if sp < first_u.size:
            head = (float(first_d[sp]), _edge_key(int(first_u[sp]), int(first_j[sp]), N))
            if not heap or head < heap[0]:
                sp += 1
                return (head[0], *_owner_neighbour(head[1], N))
        d, key = heapq.heappop(heap)
        return (d, *_owner_neighbour(key, N))

    while free_alive > n_keep:
        d, u, j = pop()
        if not alive[u]:
            continue
        if j < 0:  # a used-up list reached the top: refill it and every other waiting one at once
            if u in pending:
                batch = np.fromiter((v for v in pending if alive[v]), np.int64)
                pending.clear()
                lists.repair(batch)
                for v in batch:
                    push(int(v))
            continue
        if not alive[j]:  # stale: u's nearest neighbour was removed since
            push(u)
            continue
        drop = u if is_excl[j] else redundant(u, j)
        alive[drop] = False
        free_alive -= 1
        keep = j if drop == u else u
        if not is_excl[keep]:
            push(keep)  # its nearest neighbour just went
    kept = np.flatnonzero(alive & ~is_excl)
    # distance to the nearest kept neighbour (excluded included), repairing used-up lists once
    nn = np.full(kept.size, np.inf)
    used_up = []
    for t, u in enumerate(kept):
        p = lists.first(int(u))
        if p >= 0:
            nn[t] = lists.dist[u, p]
        else:
            used_up.append(t)
    if used_up and int(alive.sum()) > 1:
        lists.repair(kept[used_up])
        for t in used_up:
            p = lists.first(int(kept[t]))
            nn[t] = lists.dist[kept[t], p] if p >= 0 else np.inf
    return kept, nn, lists


class AdjacencySelector(BaseSelector):
    """Thin the pool by repeatedly removing one end of its shortest edge.

    Parameters
    ----------
    n : budget (count, fraction or "P%"): how many removable samples to keep.
    k : neighbours per kNN list; more means fewer repairs and more memory.
    metric : "l2" or "cosine" (L2 on unit-normalised vectors).
    knn_method : "auto", "exact", "ivf" or "hnsw" (see :func:`labelscout.space.knn_graph`).
    seed : for approximate kNN construction.

    Attributes
    ----------
    selected_ : kept samples, largest distance to the nearest kept neighbour first.
    scores_ : that distance.
    n_repairs_ : neighbour lists refilled by exact search.
    """

    name = "adjacency"
    prefix_consistent = False
    # no pool bound on k: it sizes the kNN lists (memory vs repairs), the result does not
    # depend on it, so a k above the pool is simply all the neighbours there are
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "k": [Interval(numbers.Integral, 1, None)],
        "metric": [Options({"l2", "cosine"})],
        "knn_method": [Options({"auto", "exact", "ivf", "hnsw"})],
        "seed": [Interval(numbers.Integral, 0, None)],
    }

    def __init__(self, n: int | float | str = 1000, *, k: int = 10, metric: str = "cosine", knn_method: str = "auto",
                 seed: int = 0):
        self.n = n
        self.k = k
        self.metric = metric
        self.knn_method = knn_method
        self.seed = seed

    def _select(self, pool, n, excluded):
        X = pool.vectors
        Xm = prepare_metric(X, self.metric)
        kept, nn, lists = adjacency_thin(Xm, n, excluded, self.k, method=self.knn_method, seed=self.seed)
        self.n_repairs_ = lists.repairs
        self.n_repair_batches_ = lists.repair_batches
        order = np.lexsort((kept, -nn))
        picks, dist = kept[order], nn[order]
        reasons = [f"nearest kept neighbour d={d:.3g}" if np.isfinite(d) else "only sample kept" for d in dist]
        return picks, dist, reasons
