"""Exact greedy farthest-point sampling on the CPU with pruning (numba).

Every point keeps its nearest centre (its *group*) and the squared distance ``d`` to it;
every group keeps its radius (largest ``d`` of its members). When centre ``g`` is added:

* a whole group ``c`` is skipped when ``D(c, g) >= 2 r_c``: for each member x,
  ``d(x, g) >= D(c, g) - d(x, c) >= r_c >= d(x, c)``, so no member can move to ``g``;
* inside a visited group, a point is skipped when ``D(c, g) >= 2 d(x, c)`` (same argument);
* the remaining points are settled by a lower bound of ``d(x, g)`` from an int8 copy of X
  (a quarter of the bytes): row i is ``s_i q_i`` up to a stored error ``e_i``, so
  ``|x - g| >= |s_i q_i - g| - e_i``, the first term summed in float32 (vectorised) with
  its rounding bound taken off. Only points the bound does not settle (the movers, and
  points near the boundary) read X for the exact sum, which stops early once it reaches
  the current distance (partial sums of squares only grow).

The first picks make few, wide groups that prune little, while keeping them costs a pass
of bookkeeping per pick; so large inputs start in a *flat* phase: one parallel pass over
all rows per pick (bound, then exact where needed), which is bound by memory bandwidth
and reads the int8 copy. Every few picks the group sizes and radii are computed; once the
groups would visit less than 1/``_FLAT_LEAVE`` of the rows, the arena is built and
pruning takes over. Then the next pick is the argmax over the group radii (O(k)), not
over all N points; as k grows the groups shrink and the pruning gets sharper, so the cost
per pick falls.

Exactness: distances are summed in float64 in a fixed order (eight accumulators over the
dimensions ``t % 8``, combined pairwise), the same order as the reference
:mod:`labelscout.kernels._reference`, so both produce bit-identical distances and the
same picks, ties included (lowest index wins). The pruning tests carry a 1e-9 relative
margin and the int8 bound four times its worst-case rounding, far above float64
rounding, so a skipped point can never be one the reference moves. ``fastmath`` is on only
in the float32 estimates, whose error bound holds in any summation order.

Layout: the members of every group are a contiguous segment of one index arena, their
distances beside them, so a visit reads the distances sequentially. A visit compacts the
members that stay in place and appends the ones that move as the new group's segment at
the arena's tail; a group visited in several chunks is rewritten at the tail. The arena
(2N slots) is compacted when the next visit might not fit: O(N) after at least N appended
entries. Memory: the int8 copy (D + 8 bytes per point) plus ~100 bytes per point; X is
only read.
"""
from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["fps_numba"]

#: relative safety margin of the pruning tests (rounding in float64 is ~1e-15)
_PRUNE = 1.0 + 1e-9
#: points per task (the unit of a visit) inside one group
_CHUNK = 2048
#: fewest points for the parallel all-rows pass of dense visits (below, one thread is as quick)
_DENSE_MIN = 16384
#: fewest points for the flat phase (below, groups are cheap from the first pick)
_FLAT_MIN = 16384
#: largest coordinate magnitude for the float32 distance bound (its squares must not overflow)
_BOUND_LIMIT = 1e15
#: chunks of the flat pass (enough for the threads to share the work evenly)
_FLAT_CHUNKS = 256
#: picks between two checks whether the groups would prune enough to leave the flat phase
_FLAT_CHECK = 16
#: leave the flat phase once the groups would visit less than 1/_FLAT_LEAVE of the rows
_FLAT_LEAVE = 4


@nb.njit(cache=True, inline="always")
def _sqdist(A, i, B, j, bound):
    """sum((A[i] - B[j])^2) in float64, in the reference's order; may stop early once >= bound.

    Takes the matrices and row numbers rather than row views (a view costs a reference
    count update of the parent per call)."""
    D = A.shape[1]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    t = 0
    while t + 8 <= D:
        e0 = np.float64(A[i, t]) - np.float64(B[j, t])
        e1 = np.float64(A[i, t + 1]) - np.float64(B[j, t + 1])
        e2 = np.float64(A[i, t + 2]) - np.float64(B[j, t + 2])
        e3 = np.float64(A[i, t + 3]) - np.float64(B[j, t + 3])
        e4 = np.float64(A[i, t + 4]) - np.float64(B[j, t + 4])
        e5 = np.float64(A[i, t + 5]) - np.float64(B[j, t + 5])
        e6 = np.float64(A[i, t + 6]) - np.float64(B[j, t + 6])
        e7 = np.float64(A[i, t + 7]) - np.float64(B[j, t + 7])
        a0 += e0 * e0
        a1 += e1 * e1
        a2 += e2 * e2
        a3 += e3 * e3
        a4 += e4 * e4
        a5 += e5 * e5
        a6 += e6 * e6
        a7 += e7 * e7
        t += 8
        # check every 16 dimensions; a partial tree sum of non-negative terms never
        # exceeds the final one (rounded addition is monotone), so stopping is exact
        if (t & 15) == 0 and t < D:
            if ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) >= bound:
                return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
    r = 0
    while t < D:  # the remainder goes to accumulator t % 8 as in the reference
        e = np.float64(A[i, t]) - np.float64(B[j, t])
        if r == 0:
            a0 += e * e
        elif r == 1:
            a1 += e * e
        elif r == 2:
            a2 += e * e
        elif r == 3:
            a3 += e * e
        elif r == 4:
            a4 += e * e
        elif r == 5:
            a5 += e * e
        elif r == 6:
            a6 += e * e
        t += 1
        r += 1
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


@nb.njit(cache=True, parallel=True)
def _quantize(X, Q, scale, err):
    """Row i of X as ``scale[i] * Q[i]`` with Q in int8 (a quarter of the bytes), and
    ``err[i]`` >= the distance of row i to the vector the flat pass actually uses: the
    exact ``|x - s q|`` (float64, where s q is exact) plus the float32 rounding of each
    product ``s q_t`` (at most u |s q_t| <= u 127 s), rounded up."""
    N, D = X.shape
    for i in nb.prange(N):
        m = np.float32(0.0)
        for t in range(D):
            v = abs(X[i, t])
            if v > m:
                m = v
        s = np.float32(m / np.float32(127.0))
        acc = 0.0
        for t in range(D):
            q = 0
            if s > 0:
                q = int(np.rint(X[i, t] / s))
                q = min(127, max(-127, q))
            Q[i, t] = q
            e = np.float64(X[i, t]) - np.float64(s) * q
            acc += e * e
        scale[i] = s
        bound = np.sqrt(acc) + np.sqrt(np.float64(D)) * 127.0 * np.float64(s) * 2.0**-24
        err[i] = np.float32(bound * (1.0 + 1e-6) + 1e-30)


# not inline="always": numba would inline it at its own IR level, where the caller's flags
# (no fastmath) apply and the loop stays scalar; LLVM inlines it and keeps these flags
@nb.njit(cache=True, fastmath=True)
def _qdist32(Q, i, s, c):
    """sum((y - c)^2) in float32, vectorised, for y = s Q[i] as the products round; its
    relative error is at most (D + 3) u (u = 2^-24) in any summation order, since every
    term is non-negative and each is rounded at most three times."""
    acc = np.float32(0.0)
    for t in range(Q.shape[1]):
        e = s * np.float32(Q[i, t]) - c[t]
        acc += e * e
    return acc


@nb.njit(cache=True, inline="always")
def _settled(S, e, di, errk):
    """True when the int8 estimate S (see _qdist32) of a row with error e shows that the
    row's exact squared distance to the new centre is at least di (it cannot move):
    |x - c| >= |y - c| - e >= sqrt(S (1 - errk)) - e. The 1e-30 covers float32 underflow
    (tiny differences square to subnormals or zero, where the relative bound fails)."""
    lo = np.sqrt(max(np.float64(S) * (1.0 - errk) - 1e-30, 0.0)) - np.float64(e)
    return lo > 0.0 and lo * lo * (1.0 - errk) >= di


@nb.njit(cache=True, parallel=True)
def _all_qdist32(Q, scale, c, out):
    """_qdist32 of every row, on every core (the dense visits of the pruned phase)."""
    for i in nb.prange(Q.shape[0]):
        out[i] = _qdist32(Q, i, scale[i], c)


@nb.njit(cache=True)
def _flat_threshold(di, e, errk):
    """The float32 T with: estimate S >= T implies _settled(S, e, di, errk), i.e.
    S >= ((e + sqrt(di / (1 - errk)))^2 + 1e-30) / (1 - errk), rounded up. -inf for a centre
    (di < 0: always settled), inf for a row with no centre yet, NaN when the bound is off
    (errk = 2); callers test ``not S >= T`` so NaN settles nothing."""
    if di < 0.0:
        return np.float32(-np.inf)
    t = ((e + np.sqrt(di / (1.0 - errk))) ** 2 + 1e-30) / (1.0 - errk)
    return np.float32(t * (1.0 + 1e-6))


@nb.njit(cache=True, parallel=True)
def _flat_pass(X, Q, scale, err, thr, cvec, Cm, g, mind, assign, errk, cbest, carg):
    """One pick of the flat phase (see _fps_kernel), on every core. Every row gets an
    estimate of its distance to the new centre from its int8 copy (a quarter of the memory
    traffic of X) and compares it with its precomputed threshold ``thr`` (_flat_threshold:
    the int8 bound in one float32 comparison). Only rows the bound does not settle read X
    for the exact float64 distance; a row that moves gets a new threshold.

    ``cbest`` / ``carg`` hold every chunk's largest distance and its row (the lowest among
    ties) across picks: distances only fall, so a chunk's maximum changes only when the
    row holding it changed (it moved, or it is the new centre, set to -1 before the pass),
    and only then is the chunk rescanned. (No triangle test per row: while the groups are
    wide it rules out few rows, and its branch and gather cost more than it saves.)"""
    N = X.shape[0]
    nch = cbest.shape[0]
    size = (N + nch - 1) // nch
    for ch in nb.prange(nch):
        lo = ch * size
        hi = min(N, (ch + 1) * size)
        if lo >= hi:
            continue
        for i in range(lo, hi):
            S = _qdist32(Q, i, scale[i], cvec)
            if not S >= thr[i]:
                di = mind[i]
                acc = _sqdist(X, i, Cm, g, di)
                if acc < di:
                    mind[i] = acc
                    assign[i] = g
                    thr[i] = _flat_threshold(acc, np.float64(err[i]), errk)
        if mind[carg[ch]] != cbest[ch]:
            best = -np.inf
            bi = N
            for i in range(lo, hi):
                if mind[i] > best:
                    best = mind[i]
                    bi = i
            cbest[ch] = best
            carg[ch] = bi


@nb.njit(cache=True, fastmath=True)
def _rowdist32(A, i, c):
    """sum((A[i] - c)^2) in float32, vectorised; relative error at most (D + 2) u in any
    summation order (see _qdist32)."""
    acc = np.float32(0.0)
    for t in range(A.shape[1]):
        e = A[i, t] - c[t]
        acc += e * e
    return acc


@nb.njit(cache=True, inline="always")
def _centre_gap(c, Cm, cvec, rad2, D2, errk):
    """D2[c]: a lower bound of the squared distance of centre c to the new centre (cvec)
    from the float32 sum minus its rounding bound. A lower bound is all the pruning tests
    need (a smaller gap only skips fewer points), and the vectorised float32 sum is several
    times quicker than the float64 one over the k centres of every pick."""
    if c == 0 or rad2[c] < 0.0:
        D2[c] = 0.0  # the virtual group has no centre; a group of centres is never visited
    else:
        D2[c] = max(np.float64(_rowdist32(Cm, c, cvec)) * (1.0 - errk) - 1e-30, 0.0)


@nb.njit(cache=True, inline="always")
def _visit_chunk(ta, X, Q, qscale, qerr, Cm, g, p, D2, arena, ad, assign, mv, mvd, t_grp, t_lo, t_hi, t_nst, t_nmv, t_bs, t_as, t_bm, t_am, dense, dnew, errk, cvec):
    """Phase A for one chunk of a visited group (see _fps_kernel). Arena entries are rows
    of X (point indices, which break ties). ``dense``: ``dnew`` holds the int8 estimate
    of every row's distance to the new centre already."""
    N = X.shape[0]
    a_bnd = D2[t_grp[ta]]
    lo = t_lo[ta]
    w = lo
    a_nmv = 0
    a_bs = -np.inf
    a_as = N
    a_bm = -np.inf
    a_am = N
    for qa in range(lo, t_hi[ta]):
        ia = arena[qa]
        a_di = ad[qa]
        a_moved = False
        if ia == p:
            a_di = -1.0  # the new centre: below every distance, never picked again
        elif a_bnd < 4.0 * a_di * _PRUNE:
            # the int8 bound settles most points; the exact float64 sum is needed only for
            # movers and points near the boundary
            if dense:
                est = dnew[ia]
            else:
                est = _qdist32(Q, ia, qscale[ia], cvec)
            if not _settled(est, qerr[ia], a_di, errk):
                a_acc = _sqdist(X, ia, Cm, g, a_di)
                if a_acc < a_di:
                    a_di = a_acc
                    a_moved = True
        if a_moved:
            assign[ia] = g
            mv[lo + a_nmv] = ia
            mvd[lo + a_nmv] = a_di
            a_nmv += 1
            if a_di > a_bm or (a_di == a_bm and ia < a_am):
                a_bm = a_di
                a_am = ia
        else:
            arena[w] = ia
            ad[w] = a_di
            w += 1
            if a_di > a_bs or (a_di == a_bs and ia < a_as):
                a_bs = a_di
                a_as = ia
    t_nst[ta] = w - lo
    t_nmv[ta] = a_nmv
    t_bs[ta] = a_bs
    t_as[ta] = a_as
    t_bm[ta] = a_bm
    t_am[ta] = a_am


@nb.njit(cache=True, inline="always")
def _scatter_chunk(tc, gs, arena, ad, mv, mvd, t_lo, t_nst, t_nmv, t_sto, t_mvo):
    """Phase C for one chunk (see _fps_kernel)."""
    c_lo = t_lo[tc]
    c_mo = gs + t_mvo[tc]
    for qc in range(t_nmv[tc]):
        arena[c_mo + qc] = mv[c_lo + qc]
        ad[c_mo + qc] = mvd[c_lo + qc]
    c_so = t_sto[tc]
    if c_so >= 0:
        for qc in range(t_nst[tc]):
            arena[c_so + qc] = arena[c_lo + qc]
            ad[c_so + qc] = ad[c_lo + qc]


# the pruned phase is serial on purpose: measured on the 2-core machine, a parallel build
# of it (prange chunks) ran 2x slower per thread (the parfor lowering loses the tight
# loop's optimisations) and 2-5x slower in wall time when other processes share the cores
# (a barrier per pick waits for a descheduled thread). The flat phase and the dense visits
# are single passes over all rows, bound by memory bandwidth: those use every core.
# nogil: one call runs every pick (minutes at scale); without it no other Python thread runs
# meanwhile, so Ctrl-C's watchdog (labelscout.cli._watch_interrupts) could not end the run
@nb.njit(cache=True, nogil=True)
def _fps_kernel(X, n, initial, first, stop_radius, has_stop, use_bound):  # pragma: no cover - compiled
    N, D = X.shape
    m = initial.shape[0]
    G = m + n + 1  # group 0 is a virtual "no centre yet" group holding every point
    picks = np.empty(n, np.int64)
    dists = np.empty(n, np.float64)
    assign = np.zeros(N, np.int32)  # group of every point (to find a new centre's group)
    # the arena: members of every group as a contiguous segment, with their squared
    # distance beside them (read sequentially, not gathered); -1 marks a centre
    cap = 2 * N + _CHUNK
    arena = np.empty(cap, np.int32)
    ad = np.empty(cap, np.float64)
    mv = np.empty(cap, np.int32)  # movers of the task starting at position lo, at [lo, lo + nmv)
    mvd = np.empty(cap, np.float64)
    scratch = np.empty(N, np.int32)
    scratch_d = np.empty(N, np.float64)
    # the int8 copy of X the distance bounds are computed from (see _quantize)
    Q = np.empty((N, D), np.int8)
    qscale = np.empty(N, np.float32)
    qerr = np.empty(N, np.float32)
    _quantize(X, Q, qscale, qerr)
    # dense visits: the estimate of every row's distance to the new centre, from one
    # parallel pass; errk: the relative rounding bound of an estimate (_qdist32), doubled
    # twice for room
    cvec = np.empty(D, np.float32)
    dnew = np.empty(N if N >= _DENSE_MIN else 1, np.float32)
    errk = 4.0 * (D + 4) * 2.0**-24
    if not use_bound:
        errk = 2.0  # the bound then settles nothing (see fps_numba)
    for i in range(N):
        arena[i] = i
        ad[i] = np.inf
    Cm = np.empty((G, D), np.float32)  # centre coordinates, contiguous for the D(c, g) pass
    rad2 = np.full(G, -1.0)  # max d of the members that are not centres; -1 = none
    rarg = np.zeros(G, np.int64)  # lowest index attaining rad2
    gstart = np.zeros(G, np.int64)
    glen = np.zeros(G, np.int64)
    D2 = np.empty(G, np.float64)
    newstart = np.zeros(G, np.int64)
    glen[0] = N
    rad2[0] = np.inf
    ngroups = 1
    tail = N
    maxtasks = N // _CHUNK + G + 2
    t_grp = np.empty(maxtasks, np.int64)
    t_lo = np.empty(maxtasks, np.int64)
    t_hi = np.empty(maxtasks, np.int64)
    t_nst = np.empty(maxtasks, np.int64)
    t_nmv = np.empty(maxtasks, np.int64)
    t_bs = np.empty(maxtasks, np.float64)
    t_as = np.empty(maxtasks, np.int64)
    t_bm = np.empty(maxtasks, np.float64)
    t_am = np.empty(maxtasks, np.int64)
    t_sto = np.empty(maxtasks, np.int64)  # where a split group's stayers go (-1: stay put)
    t_mvo = np.empty(maxtasks, np.int64)
    # the flat phase (see the module docstring): ad[i] is row i's distance, assign[i] its
    # group, until the groups would leave less than 1/_FLAT_LEAVE of the rows to visit
    flat = N >= _FLAT_MIN
    cbest = np.full(_FLAT_CHUNKS, -np.inf)  # every chunk's largest distance and its row
    carg = np.zeros(_FLAT_CHUNKS, np.int64)
    csize = (N + _FLAT_CHUNKS - 1) // _FLAT_CHUNKS
    for ch in range(_FLAT_CHUNKS):
        if ch * csize < N:
            cbest[ch] = np.inf  # no centre yet: every row is at inf, the first is the maximum
            carg[ch] = ch * csize
    thr = np.full(N if flat else 1, np.float32(np.inf))  # see _flat_threshold
    fbest = np.inf  # the flat phase's largest distance and its row (the next pick)
    fbi = N
    out = 0
    radius2 = np.inf
    finished = True
    for step in range(m + n):
        r = 0.0
        # ---- choose the next centre p
        if step < m:
            p = np.int64(initial[step])
        else:
            if m == 0 and out == 0:
                p = np.int64(first)
                r = np.inf
            else:
                best = fbest
                bi = fbi
                if not flat:
                    best = -np.inf
                    bi = N
                    for c in range(ngroups):
                        v = rad2[c]
                        if v > best or (v == best and rarg[c] < bi):
                            best = v
                            bi = rarg[c]
                radius2 = best
                if best < 0.0:  # every point is a centre
                    finished = False
                    break
                r = np.sqrt(best)
                if has_stop and r <= stop_radius:
                    finished = False
                    break
                p = bi
            picks[out] = p
            dists[out] = r
            out += 1
        if flat:
            g = ngroups
            ngroups += 1
            for u in range(D):
                Cm[g, u] = X[p, u]
                cvec[u] = Cm[g, u]
            cold = assign[p]
            ad[p] = -1.0  # the new centre: below every distance, never picked again
            thr[p] = -np.inf
            _flat_pass(X, Q, qscale, qerr, thr, cvec, Cm, g, ad, assign, errk, cbest, carg)
            fbest = -np.inf
            fbi = N
            for ch in range(_FLAT_CHUNKS):  # chunks in row order: the lowest row wins ties
                if cbest[ch] > fbest:
                    fbest = cbest[ch]
                    fbi = carg[ch]
            if (step + 1) % _FLAT_CHECK == 0 and step + 1 < m + n:
                # group sizes and radii; would the groups have pruned this pick enough?
                D2[0] = 0.0  # the virtual group has no centre (its rows are at inf)
                for c0 in range(1, g):
                    D2[c0] = _sqdist(Cm, c0, Cm, g, np.inf)
                for c in range(ngroups):
                    glen[c] = 0
                    rad2[c] = -1.0
                    rarg[c] = N
                for i in range(N):
                    c = assign[i]
                    glen[c] += 1
                    if ad[i] > rad2[c]:
                        rad2[c] = ad[i]
                        rarg[c] = i
                work = 0
                for c in range(g):
                    if glen[c] > 0 and (c == cold or D2[c] < 4.0 * rad2[c] * _PRUNE):
                        work += glen[c]
                if work * _FLAT_LEAVE < N:
                    # leave the flat phase: the arena, group by group (rows ascending within
                    # a group)
                    off = 0
                    for c in range(ngroups):
                        gstart[c] = off
                        newstart[c] = off
                        off += glen[c]
                    for i in range(N):
                        c = assign[i]
                        q = newstart[c]
                        scratch[q] = i
                        scratch_d[q] = ad[i]
                        newstart[c] = q + 1
                    for q in range(N):
                        arena[q] = scratch[q]
                        ad[q] = scratch_d[q]
                    tail = N
                    flat = False
                    thr = np.empty(1, np.float32)  # frees the thresholds
            continue
        # ---- insert p as the centre of new group g; find the groups it can take points from
        g = ngroups
        ngroups += 1
        for u in range(D):
            Cm[g, u] = X[p, u]
            cvec[u] = Cm[g, u]
        cold = assign[p]
        for c0 in range(g):
            _centre_gap(c0, Cm, cvec, rad2, D2, errk)
        work = 0
        for c in range(g):
            if glen[c] > 0 and (c == cold or D2[c] < 4.0 * rad2[c] * _PRUNE):
                work += glen[c]
        # ---- compact the arena when this visit might not fit at the tail (a visit appends
        # at most its own size; after a compaction the tail has room for N, so compactions
        # cost O(1) per appended entry)
        if tail + work > cap:
            off = 0
            for c in range(ngroups):
                newstart[c] = off
                off += glen[c]
            for cc in range(ngroups):
                src, dst = gstart[cc], newstart[cc]
                for qq in range(glen[cc]):
                    scratch[dst + qq] = arena[src + qq]
                    scratch_d[dst + qq] = ad[src + qq]
            for ii in range(N):
                arena[ii] = scratch[ii]
                ad[ii] = scratch_d[ii]
            for c in range(ngroups):
                gstart[c] = newstart[c]
            tail = N
        nt = 0
        for c in range(g):
            L = glen[c]
            if L == 0:
                continue
            if c != cold and not D2[c] < 4.0 * rad2[c] * _PRUNE:
                continue  # no member can be closer to g than to c
            s = gstart[c]
            for lo in range(s, s + L, _CHUNK):
                t_grp[nt] = c
                t_lo[nt] = lo
                t_hi[nt] = min(lo + _CHUNK, s + L)
                nt += 1
        # phase A, chunk by chunk over the visited groups: new distances; the
        # stayers are compacted to the front of the chunk in place (stable), the movers
        # set aside in mv at the chunk's own positions
        # when pruning leaves most points to visit (few, wide groups: the first picks, or
        # data where all distances are alike), one parallel pass over all rows is quicker
        # than estimating the visited ones one by one
        dense = work * 4 >= N and N >= _DENSE_MIN
        if dense:
            _all_qdist32(Q, qscale, cvec, dnew)
        for ta in range(nt):
            _visit_chunk(ta, X, Q, qscale, qerr, Cm, g, p, D2, arena, ad, assign, mv, mvd, t_grp, t_lo, t_hi, t_nst, t_nmv, t_bs, t_as, t_bm, t_am, dense, dnew, errk, cvec)
        # phase B (serial, O(tasks)): group radii; a group visited in one chunk keeps its
        # compacted segment, one split into chunks gets a fresh segment at the tail
        nmove = 0
        bm = -1.0
        am = N
        t = 0
        while t < nt:
            c = t_grp[t]
            t0 = t
            off = 0
            bs = -1.0
            as_ = N
            while t < nt and t_grp[t] == c:
                t_sto[t] = off
                off += t_nst[t]
                t_mvo[t] = nmove
                nmove += t_nmv[t]
                if t_nst[t] > 0 and (t_bs[t] > bs or (t_bs[t] == bs and t_as[t] < as_)):
                    bs = t_bs[t]
                    as_ = t_as[t]
                if t_nmv[t] > 0 and (t_bm[t] > bm or (t_bm[t] == bm and t_am[t] < am)):
                    bm = t_bm[t]
                    am = t_am[t]
                t += 1
            if t - t0 == 1:
                t_sto[t0] = -1
            else:
                for tt in range(t0, t):
                    t_sto[tt] += tail
                gstart[c] = tail
                tail += off
            glen[c] = off
            rad2[c] = bs
            rarg[c] = as_
        gstart[g] = tail
        glen[g] = nmove
        rad2[g] = bm
        rarg[g] = am
        tail += nmove
        # phase C: movers to the new group's segment, split groups' stayers to theirs
        gs = gstart[g]
        for tc in range(nt):
            _scatter_chunk(tc, gs, arena, ad, mv, mvd, t_lo, t_nst, t_nmv, t_sto, t_mvo)
    if finished:
        # the loop ran to the end: the covering radius after the last centre
        if flat:
            radius2 = fbest
        else:
            radius2 = -1.0
            for c in range(ngroups):
                if rad2[c] > radius2:
                    radius2 = rad2[c]
    return picks[:out], dists[:out], radius2


def fps_numba(
    X: np.ndarray, n: int, initial: np.ndarray, first: int, stop_radius: float | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Input already validated. Returns (picks, distances, covering radius after the picks)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.shape[0] >= 2**31 - 1:  # the arena holds int32 indices
        raise ValueError("the numba kernel handles at most 2**31 - 2 points; use backend='torch'")
    init = np.ascontiguousarray(initial, dtype=np.int64)
    # float32 sums of squares overflow beyond ~1e17 per coordinate: there the int8 bound
    # is switched off and every visited point gets the exact float64 sum (slower, same result)
    use_bound = bool(max(float(X.max()), -float(X.min())) < _BOUND_LIMIT)
    picks, dists, r2 = _fps_kernel(X, int(n), init, int(first), float(stop_radius or 0.0), stop_radius is not None,
                                   use_bound)
    return picks, dists, float(np.sqrt(r2)) if r2 > 0 else 0.0
