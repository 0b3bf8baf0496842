"""Exact greedy farthest-point sampling on the CPU with triangle-inequality pruning (numba).

Every point keeps its nearest centre (its *group*) and the squared distance ``d`` to it;
every group keeps its radius (largest ``d`` of its members). When centre ``g`` is added:

* a whole group ``c`` is skipped when ``D(c, g) >= 2 r_c``: for each member x,
  ``d(x, g) >= D(c, g) - d(x, c) >= r_c >= d(x, c)``, so no member can move to ``g``;
* inside a visited group, a point is skipped when ``D(c, g) >= 2 d(x, c)`` (same argument);
* the remaining points are settled by ``|x|^2 - 2 x.c + |c|^2`` with ``x.c`` from float32
  BLAS (one pass over all rows when most points are visited, a gathered tile otherwise)
  minus a rigorous bound on its rounding error; only points within that bound of their
  current distance get the exact sum, which stops early once it reaches that distance
  (partial sums of squares only grow).

The next pick is the argmax over the group radii (O(k)), not over all N points. As k grows
the groups shrink and the pruning gets sharper, so the cost per pick falls.

Exactness: distances are summed in float64 in a fixed order (eight accumulators over the
dimensions ``t % 8``, combined pairwise), the same order as the reference
:mod:`labelscout.kernels._reference`, so both produce bit-identical distances and the
same picks, ties included (lowest index wins). The pruning tests carry a 1e-9 relative
margin, far above float64 rounding, so a skipped point can never be one the reference
moves. ``fastmath`` stays off: reassociation would break the bit-identity.

Layout: the members of every group are a contiguous segment of one index arena, their
distances beside them, so a visit reads the distances sequentially. A visit compacts the
members that stay in place and appends the ones that move as the new group's segment at
the arena's tail; a group visited in several chunks is rewritten at the tail. A working
copy of X is re-ordered group by group whenever k doubles, so visits read nearby rows
(memory: X plus that copy plus ~110 bytes per point). The arena (2N slots) is compacted when the tail runs out: O(N) after at least N units of work.
"""
from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["fps_numba"]

#: relative safety margin of the pruning tests (rounding in float64 is ~1e-15)
_PRUNE = 1.0 + 1e-9
#: points per task (the unit of a visit) inside one group
_CHUNK = 2048
#: fewest points for the BLAS pass of dense visits (below, the exact loop is as cheap)
_DENSE_MIN = 16384
#: fewest rows a sparse visit of one chunk gathers for BLAS (below: the exact loop only)
_GATHER_MIN = 32


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


@nb.njit(cache=True, inline="always")
def _centre_gap(c, g, Cm, rad2, D2):
    """D2[c]: squared distance of centre c to the new centre g, or a lower bound of it that
    already shows the group is skipped (the sum stops early once it reaches 4 r_c^2)."""
    if c == 0 or rad2[c] < 0.0:
        D2[c] = 0.0  # the virtual group has no centre; a group of centres is never visited
    else:
        D2[c] = _sqdist(Cm, c, Cm, g, 4.0 * rad2[c] * _PRUNE)


@nb.njit(cache=True, inline="always")
def _visit_chunk(ta, Xs, order, Cm, g, prow, D2, arena, ad, assign, mv, mvd, t_grp, t_lo, t_hi, t_nst, t_nmv, t_bs, t_as, t_bm, t_am, dense, dots, xsq, csq, errk, cvec, cbuf, pdot):
    """Phase A for one chunk of a visited group (see _fps_kernel). Arena entries are rows
    of Xs; ``order`` maps them to point indices, which break ties."""
    N = Xs.shape[0]
    a_bnd = D2[t_grp[ta]]
    lo = t_lo[ta]
    w = lo
    a_nmv = 0
    a_bs = -np.inf
    a_as = N
    a_bm = -np.inf
    a_am = N
    gathered = False
    if not dense:
        # sparse visit: gather the rows the triangle test leaves into a tile and get their
        # x.c from BLAS (streaming copy + gemv beat a scalar float64 loop per row)
        D = Xs.shape[1]
        nc = 0
        for qa in range(lo, t_hi[ta]):
            if arena[qa] != prow and a_bnd < 4.0 * ad[qa] * _PRUNE:
                cbuf[lo + nc] = qa
                nc += 1
        if nc >= _GATHER_MIN:
            tile = np.empty((nc, D), np.float32)
            for r in range(nc):
                src = arena[cbuf[lo + r]]
                for u in range(D):
                    tile[r, u] = Xs[src, u]
            pd = np.dot(tile, cvec)
            for r in range(nc):
                pdot[cbuf[lo + r]] = pd[r]
            gathered = True
    for qa in range(lo, t_hi[ta]):
        ia = arena[qa]
        a_di = ad[qa]
        a_moved = False
        if ia == prow:
            a_di = -1.0  # the new centre: below every distance, never picked again
        elif a_bnd < 4.0 * a_di * _PRUNE:
            # x.c from BLAS (float32): |x|^2 - 2 x.c + |c|^2 minus its rounding bound
            # settles most points; the exact sum is needed only near the boundary
            if dense:
                xc = np.float64(dots[ia])
            elif gathered:
                xc = np.float64(pdot[qa])
            else:
                xc = np.nan
            if (dense or gathered) and (xsq[ia] - 2.0 * xc + csq - errk * (xsq[ia] + csq) - 1e-30) >= a_di:
                pass
            else:
                a_acc = _sqdist(Xs, ia, Cm, g, a_di)
                if a_acc < a_di:
                    a_di = a_acc
                    a_moved = True
        if a_moved:
            assign[ia] = g
            mv[lo + a_nmv] = ia
            mvd[lo + a_nmv] = a_di
            a_nmv += 1
            if a_di > a_bm or (a_di == a_bm and order[ia] < a_am):
                a_bm = a_di
                a_am = order[ia]
        else:
            arena[w] = ia
            ad[w] = a_di
            w += 1
            if a_di > a_bs or (a_di == a_bs and order[ia] < a_as):
                a_bs = a_di
                a_as = order[ia]
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


@nb.njit(cache=True)
def _row_sq_norms(A, out):
    for i in range(A.shape[0]):
        acc = 0.0
        for u in range(A.shape[1]):
            acc += np.float64(A[i, u]) * np.float64(A[i, u])
        out[i] = acc


# serial on purpose: measured on the 2-core machine, the parallel build (prange chunks)
# ran 2x slower per thread (the parfor lowering loses the tight loop's optimisations) and
# 2-5x slower in wall time when other processes share the cores (a barrier per pick waits
# for a descheduled thread). The dense passes still use every core through BLAS.
@nb.njit(cache=True)
def _fps_kernel(X, n, initial, first, stop_radius, has_stop):  # pragma: no cover - compiled
    N, D = X.shape
    m = initial.shape[0]
    G = m + n + 1  # group 0 is a virtual "no centre yet" group holding every point
    picks = np.empty(n, np.int64)
    dists = np.empty(n, np.float64)
    assign = np.zeros(N, np.int32)  # group of every row of Xs (to find a new centre's group)
    # the arena: members of every group as a contiguous segment, with their squared
    # distance beside them (read sequentially, not gathered); -1 marks a centre
    cap = 2 * N + _CHUNK
    arena = np.empty(cap, np.int32)
    ad = np.empty(cap, np.float64)
    mv = np.empty(cap, np.int32)  # movers of the task starting at position lo, at [lo, lo + nmv)
    mvd = np.empty(cap, np.float64)
    scratch = np.empty(N, np.int32)
    scratch_d = np.empty(N, np.float64)
    # a working copy of X whose rows are re-ordered group by group now and then, so a
    # visit reads nearby memory instead of gathering rows from all over X
    Xs = X.copy()
    order = np.empty(N, np.int32)  # point index of every row of Xs
    rowof = np.empty(N, np.int32)  # row of Xs of every point
    tmp_i = np.empty(N, np.int32)
    done = np.zeros(N, np.bool_)
    row = np.empty(D, np.float32)
    next_perm = 16
    # for dense visits: float64 |x|^2 of every row of Xs, the new centre, its x.c values
    # (float32 BLAS) and the relative bound on the error of |x|^2 - 2 x.c + |c|^2:
    # |fl(x.c) - x.c| <= D u |x||c| <= D u (|x|^2 + |c|^2) / 2 (u = 2^-24), doubled, and
    # doubled again for room
    xsq = np.empty(N, np.float64)
    _row_sq_norms(Xs, xsq)
    cvec = np.empty(D, np.float32)
    dots0 = np.empty(1, np.float32)
    cbuf = np.empty(cap, np.int64)  # sparse visits: positions left by the triangle test
    pdot = np.empty(cap, np.float32)  # ... and their x.c
    errk = 4.0 * (D + 4) * 2.0**-24
    for i in range(N):
        arena[i] = i
        ad[i] = np.inf
        order[i] = i
        rowof[i] = i
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
        # ---- compact the arena when a full visit might not fit at the tail
        if tail + N > cap or step >= next_perm:
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
            if step >= next_perm:
                # re-order Xs so that row q holds the point at arena position q: follow the
                # cycles of the permutation, one row in hand (no second copy of X)
                next_perm *= 2
                for q0 in range(N):
                    done[q0] = False
                for q0 in range(N):
                    if done[q0] or arena[q0] == q0:
                        continue
                    for u in range(D):
                        row[u] = Xs[q0, u]
                    q = q0
                    while True:
                        done[q] = True
                        src = arena[q]
                        if src == q0:
                            for u in range(D):
                                Xs[q, u] = row[u]
                            break
                        for u in range(D):
                            Xs[q, u] = Xs[src, u]
                        q = src
                for q in range(N):
                    tmp_i[q] = order[arena[q]]
                for q in range(N):
                    order[q] = tmp_i[q]
                    rowof[tmp_i[q]] = q
                for q in range(N):
                    tmp_i[q] = assign[arena[q]]
                for q in range(N):
                    assign[q] = tmp_i[q]
                    arena[q] = q
                _row_sq_norms(Xs, xsq)
        # ---- insert p as the centre of new group g
        g = ngroups
        ngroups += 1
        for u in range(D):
            Cm[g, u] = X[p, u]
        prow = rowof[p]
        cold = assign[prow]
        for c0 in range(g):
            _centre_gap(c0, g, Cm, rad2, D2)
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
        work = 0
        for t in range(nt):
            work += t_hi[t] - t_lo[t]
        # when pruning leaves most points to visit (few, wide groups: the first picks, or
        # data where all distances are alike), one BLAS matrix-vector pass is the cheapest
        # way to rule points out; the exact sum is then needed only near the boundary
        dense = work * 4 >= N and N >= _DENSE_MIN
        for u in range(D):
            cvec[u] = Cm[g, u]
        csq = 0.0
        for u in range(D):
            csq += np.float64(cvec[u]) * np.float64(cvec[u])
        if dense:
            dots = np.dot(Xs, cvec)
        else:
            dots = dots0
        for ta in range(nt):
            _visit_chunk(ta, Xs, order, Cm, g, prow, D2, arena, ad, assign, mv, mvd, t_grp, t_lo, t_hi, t_nst, t_nmv, t_bs, t_as, t_bm, t_am, dense, dots, xsq, csq, errk, cvec, cbuf, pdot)
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
    picks, dists, r2 = _fps_kernel(X, int(n), init, int(first), float(stop_radius or 0.0), stop_radius is not None)
    return picks, dists, float(np.sqrt(r2)) if r2 > 0 else 0.0
