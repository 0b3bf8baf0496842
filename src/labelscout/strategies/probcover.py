"""ProbCover (Yehuda, Dekel, Hacohen & Weinshall, NeurIPS 2022): greedy max coverage of delta-balls.

Every sample stands for the ball of radius ``delta`` around it (unit vectors, so cosine
geometry). Each pick is the sample whose ball holds the most samples that no earlier pick
(or already-labeled sample) covers yet; its ball then counts as covered. At low budgets
this takes dense, typical samples that together cover the pool, where farthest point
takes outliers.

**delta without labels.** The paper picks the largest delta whose balls are still
"pure" (95 % of balls hold one class), measured with labels or k-means pseudo-labels.
Here delta follows the budget instead: it is the median distance from a sample to its
``ceil(N / n)``-th nearest neighbour, so a typical ball holds about ``N / n`` samples
and ``n`` balls could cover the pool once if they did not overlap. A small budget gets
wide balls (each pick stands for many samples, the regime where ProbCover is strongest);
a large budget gets tight ones, which is what the paper's own analysis asks for as the
budget grows (their delta search shrinks delta as coverage saturates). The distances
come from exact neighbours of a seeded sample of rows, so no label and no clustering is
involved. ``delta=FLOAT`` fixes it.

**At scale.** Balls are read from a kNN graph built block by block
(:func:`labelscout.space.knn.knn_blocks`): only the int32 ids of the up to ``k``
neighbours within delta are kept, ``4 k`` bytes per sample (``k`` is capped at half the
row's float count, so the graph never exceeds half the matrix). A ball larger than
``k`` + 1 is truncated to its ``k`` nearest members; the cap is recorded
(``truncated_``). The greedy step is a lazy max-heap in numba: coverage only grows, so a
ball's stored gain is an upper bound, and a popped ball whose recomputed gain still
equals its bound is the true maximum (ties broken by a seeded random order).

**When everything is covered** before the budget is spent, a new round starts: every
unlabeled sample counts as uncovered again (labeled ones stay covered), so later picks
cover the pool a second time instead of falling back to random picks. Picks are made in
order, so every prefix of a selection is the selection of that size *for the same
delta*; with ``delta="auto"`` delta depends on the budget.

**In a combination** (``combine``) ProbCover scores every row by the samples its ball
would newly cover (:class:`CoverageScores`, updated after every pick, a new round once
everything is covered), so coverage can be weighed against a model's uncertainty; the
automatic delta then follows the combination's budget.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .._validation import Interval, Options, resolve_n
from ..space.knn import exact_neighbours, knn_blocks
from ._base import BUDGET_CONSTRAINT, BaseSelector, ComponentScores
from .coreset import prepare_metric

__all__ = ["ProbCoverSelector", "CoverageScores", "auto_delta", "ball_graph", "greedy_cover", "radius_and_k", "seeded_rank"]

#: rows whose exact neighbour distances estimate delta (median of a sample)
DELTA_SAMPLE = 2000


def _k_cap(n_features: int) -> int:
    # int32 neighbour ids: 4 k bytes a row, at most half of the row's 4 D bytes
    return max(16, min(256, n_features // 2))


def auto_delta(X: np.ndarray, n_budget: int, *, k: int, seed: int = 0, sample: int = DELTA_SAMPLE) -> tuple[float, int]:
    """(delta, m): the median distance of a sample row to its ``m``-th nearest neighbour,
    m = ceil(N / n_budget) capped at ``k`` (and at N - 1). X: unit rows (float32)."""
    n = X.shape[0]
    m = int(min(max(1, math.ceil(n / max(n_budget, 1))), k, n - 1))
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, min(sample, n), replace=False))
    _, dist = exact_neighbours(X, rows, m)
    return float(np.median(dist[:, m - 1])), m


#: pools up to this size keep their last kNN search (ids + distances, 8 k bytes a row) for
#: the next fit on the same vectors: repeated fits at other budgets or seeds (a benchmark,
#: a user trying budgets) then only re-threshold it. Larger pools never keep it, so the
#: memory bound at scale is untouched.
GRAPH_CACHE_LIMIT = 200_000
_last_search: dict[str, Any] = {}


def _fingerprint(X: np.ndarray) -> str:
    import hashlib

    return hashlib.blake2b(np.ascontiguousarray(X).view(np.uint8).reshape(-1), digest_size=16).hexdigest()


def _blocks(X: np.ndarray, k: int, method: str, seed: int):
    if X.shape[0] > GRAPH_CACHE_LIMIT:
        yield from knn_blocks(X, k, method=method, seed=seed)
        return
    # exact search (auto below the cache limit) does not depend on the seed
    key = (_fingerprint(X), X.shape, method, None if method in ("auto", "exact") else seed)
    hit = _last_search.get("key")
    if hit is None or hit[:-1] != key or hit[-1] < k:
        I = np.empty((X.shape[0], k), np.int32)
        D = np.empty((X.shape[0], k), np.float32)
        for s, bi, bd in knn_blocks(X, k, method=method, seed=seed):
            I[s:s + bi.shape[0]], D[s:s + bi.shape[0]] = bi, bd
        _last_search.update(key=(*key, k), I=I, D=D)
    yield 0, _last_search["I"][:, :k], _last_search["D"][:, :k]


def ball_graph(X: np.ndarray, delta: float, k: int, *, method: str = "auto", seed: int = 0) -> tuple[np.ndarray, int]:
    """(neighbours, truncated): (N, k) int32 ids of each row's nearest other rows within
    ``delta`` (ascending, -1 after the last), and how many rows had all k within delta
    (balls that may be cut at k)."""
    n = X.shape[0]
    k = int(min(k, n - 1))
    nbr = np.full((n, k), -1, np.int32)
    truncated = 0
    for s, I, D in _blocks(X, k, method, seed):
        inside = D <= delta
        nbr[s:s + I.shape[0]] = np.where(inside, I, -1).astype(np.int32)
        truncated += int(inside[:, -1].sum())
    return nbr, truncated


def seeded_rank(N: int, seed: int) -> np.ndarray:
    """A seeded random order of the rows as int32 ranks, the tie-break of the greedy kernels."""
    rank = np.empty(N, np.int32)
    rank[np.random.default_rng(seed).permutation(N)] = np.arange(N, dtype=np.int32)
    return rank


def radius_and_k(Xm: np.ndarray, n_total: int, delta: float | str, k: int | None, seed: int) -> tuple[float, int | None, int]:
    """(radius, m, k): the neighbour lists' width ``k`` (given, or the cap for the row
    width) and the radius, ``delta`` as given or by the auto rule for a budget of ``n_total``
    (then ``m`` is the neighbour it was read at, else None). ProbCover's balls and
    MaxHerding's kernel width follow the same rule."""
    k = int(min(k if k is not None else _k_cap(Xm.shape[1]), Xm.shape[0] - 1))
    if delta == "auto":
        radius, m = auto_delta(Xm, n_total, k=k, seed=seed)
        return radius, m, k
    return float(delta), None, k


def greedy_cover(nbr: np.ndarray, n: int, excluded: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(picks, gains, rounds, covered): ``n`` greedy max-coverage picks over the balls
    ``nbr`` (row i's ball = i and its ids in ``nbr[i]``), never an ``excluded`` row; their
    balls start covered. ``gains``: samples newly covered by each pick; ``rounds``: the
    coverage round each pick was made in (0 = first); ``covered``: samples covered at the
    end of the last round."""
    from ..kernels._probcover_numba import greedy_cover_kernel

    N = nbr.shape[0]
    rank = seeded_rank(N, seed)  # tie-break order
    is_excl = np.zeros(N, np.bool_)
    is_excl[excluded] = True
    picks = np.empty(n, np.int64)
    gains = np.empty(n, np.int64)
    rounds = np.empty(n, np.int64)
    covered = greedy_cover_kernel(np.ascontiguousarray(nbr, np.int32), rank, is_excl, n, picks, gains, rounds)
    return picks, gains, rounds, int(covered)


class ProbCoverSelector(BaseSelector):
    """Greedy max coverage of delta-balls (ProbCover).

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    delta : ball radius (L2 in the strategy's space; on unit vectors sqrt(2 - 2 cos)), or
        "auto": the median distance to the ceil(N / n)-th nearest neighbour (see the module).
    k : most neighbours a ball holds besides its centre (None: half the feature count,
        between 16 and 256; memory is 4 k bytes a sample).
    metric : "cosine" (unit vectors, the paper's space) or "l2" (the vectors as given).
    seed : the sample delta is estimated on, and the order among equally good balls.
    knn_method : how the kNN graph is searched ("auto", "exact", "ivf", "hnsw").

    Attributes
    ----------
    selected_ : picks in order.
    scores_ : samples newly covered by each pick.
    delta_ : the radius used; ``delta_neighbour_`` the m of the auto rule (None when given).
    coverage_ : fraction of the pool covered after the last pick (in its round).
    rounds_ : coverage rounds started (1 = the pool was never fully covered).
    truncated_ : samples whose ball was cut at k neighbours.
    """

    name = "probcover"
    prefix_consistent = False  # delta="auto" follows the budget
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "delta": [Interval(numbers.Real, 0, None, closed="neither"), Options({"auto"})],
        "k": [Interval(numbers.Integral, 1, None), None],
        "metric": [Options({"l2", "cosine"})],
        "seed": [Interval(numbers.Integral, 0, None)],
        "knn_method": [Options({"auto", "exact", "ivf", "hnsw"})],
    }

    def __init__(self, n: int | float | str = 1000, *, delta: float | str = "auto", k: int | None = None,
                 metric: str = "cosine", seed: int = 0, knn_method: str = "auto"):
        self.n = n
        self.delta = delta
        self.k = k
        self.metric = metric
        self.seed = seed
        self.knn_method = knn_method

    score_description = "samples its delta-ball would newly cover (updated after every pick)"

    def _radius(self, Xm: np.ndarray, n_total: int) -> tuple[float, int]:
        """(delta, k) for a pool of unit rows and a budget that includes the labeled rows."""
        self.delta_, self.delta_neighbour_, k = radius_and_k(Xm, n_total, self.delta, self.k, self.seed)
        return self.delta_, k

    def component_scores(self, pool, excluded):
        Xm = prepare_metric(pool.vectors, self.metric)
        if Xm.shape[0] < 2:
            return ComponentScores(np.ones(Xm.shape[0]))
        # a combination hands its budget over as n; a fraction or "P%" resolves against the pool
        n = resolve_n(self.n, Xm.shape[0])
        delta, k = self._radius(Xm, n + excluded.size)
        nbr, self.truncated_ = ball_graph(Xm, delta, k, method=self.knn_method, seed=self.seed)
        return CoverageScores(nbr, excluded)

    def _select(self, pool, n, excluded):
        Xm = prepare_metric(pool.vectors, self.metric)
        N = Xm.shape[0]
        if N < 2:  # a single sample is its own ball
            self.delta_, self.delta_neighbour_, self.coverage_, self.rounds_, self.truncated_ = 0.0, None, 1.0, 1, 0
            picks = np.setdiff1d(np.arange(N), excluded)[:n]
            return picks, np.ones(picks.size), ["the only sample"] * picks.size
        delta, k = self._radius(Xm, n + excluded.size)
        nbr, self.truncated_ = ball_graph(Xm, delta, k, method=self.knn_method, seed=self.seed)
        picks, gains, rounds, covered = greedy_cover(nbr, n, excluded, seed=self.seed)
        self.rounds_ = int(rounds[-1]) + 1 if n else 1
        self.coverage_ = covered / N
        src = f"auto: median distance to neighbour {self.delta_neighbour_}" if self.delta == "auto" else "given"
        reasons = [f"covers {g} uncovered samples within delta={delta:.3g} ({src})" + (f", round {r + 1}" if r else "")
                   for g, r in zip(gains.tolist(), rounds.tolist())]
        return picks, gains.astype(np.float64), reasons


def list_owners(nbr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reverse of neighbour lists ``nbr`` (N, k) (-1 = empty): the rows whose list holds
    sample m are ``owners[start[m]:start[m + 1]]``, so a score that depends on m's state is
    updated for those rows only."""
    N = nbr.shape[0]
    rows = np.repeat(np.arange(N, dtype=np.int64), nbr.shape[1])
    members = nbr.ravel().astype(np.int64)
    valid = members >= 0
    owners = rows[valid][np.argsort(members[valid], kind="stable")]
    return owners, np.concatenate([[0], np.cumsum(np.bincount(members[valid], minlength=N))])


class CoverageScores(ComponentScores):
    """Each row's ProbCover gain: how many samples of its ball (itself and the ids in
    ``nbr``) no pick or labeled sample covers yet. After a pick, every ball holding a
    newly covered sample loses one per such sample (a reverse index of the balls, so an
    update costs what it changes, not the pool). When the unpicked rows can cover nothing
    more, a new round starts in which only picked and labeled rows count as covered, as
    in :func:`greedy_cover`."""

    dynamic = True

    def __init__(self, nbr: np.ndarray, excluded: np.ndarray):
        self._nbr = nbr
        self._owners, self._start = list_owners(nbr)
        self._labeled = np.zeros(nbr.shape[0], bool)
        self._labeled[excluded] = True
        self._new_round()
        super().__init__(self._gain.astype(np.float64))

    def _new_round(self) -> None:
        self.covered = self._labeled.copy()
        for j in np.flatnonzero(self._labeled):
            self.covered[self._ball(j)] = True
        inside = self._nbr >= 0
        self._gain = (~self.covered).astype(np.int64) + (inside & ~self.covered[np.where(inside, self._nbr, 0)]).sum(1)

    def _ball(self, j: int) -> np.ndarray:
        b = self._nbr[j]
        return np.concatenate([[j], b[b >= 0]]).astype(np.int64)

    def picked(self, row: int) -> None:
        self._labeled[row] = True
        fresh = self._ball(row)
        fresh = fresh[~self.covered[fresh]]
        self.covered[fresh] = True
        if fresh.size:
            owners = np.concatenate([fresh] + [self._owners[self._start[m]:self._start[m + 1]] for m in fresh])
            np.subtract.at(self._gain, owners, 1)
        if not (self._gain[~self._labeled] > 0).any() and not self._labeled.all():
            self._new_round()
        self.values = self._gain.astype(np.float64)
