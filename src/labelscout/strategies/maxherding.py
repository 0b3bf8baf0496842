"""MaxHerding (Bae, Noh & Sutherland, ECCV 2024): greedy *soft* coverage, for small budgets.

ProbCover credits a pick with every sample inside a hard ball of radius delta, all or
nothing, so a pick at the edge between two groups earns as much as one in the middle of
a group. MaxHerding replaces the ball by a Gaussian kernel and maximises the generalised
coverage ``F(S) = sum_i max_{s in S} k(s, i)``, ``k(s, i) = exp(-|x_s - x_i|^2 / h^2)``
(greedy facility location): each pick is the sample whose kernel raises the pool's
coverage most, counting for every sample only the improvement over its best pick so far.
Near neighbours count fully and far ones little, so picks sit in the middle of dense
groups and the next pick goes where the pool is still poorly represented.

**Bandwidth without labels.** ``h = 0.7 x`` ProbCover's automatic radius (the median
distance to the ``ceil(N / n)``-th nearest neighbour, so it follows the budget the same
way). With the pretrained default embedding on CIFAR-10 at 500 and 1,000 labels, 0.6, 0.7
and 0.8 are equal within the noise across random subsets of the pool and 1.0 is worse
(docs/benchmarks.md, "MaxHerding across pools"); ``bandwidth=FLOAT`` fixes ``h``.

**At scale.** The kernel is read over a kNN graph built block by block
(:func:`labelscout.space.knn.knn_blocks`): only int32 neighbour ids are stored (``k`` is
capped at half the row's float count, as for ProbCover) and kernel values are computed
from the vectors when a gain is evaluated, so memory stays ``4 k`` bytes a sample beyond
the vectors. The greedy step is a lazy max-heap in numba (gains only fall), checked pick
for pick against a dense reference in the tests.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import Interval, Options, resolve_n
from ._base import BUDGET_CONSTRAINT, BaseSelector, ComponentScores
from .coreset import prepare_metric
from .probcover import ball_graph, list_owners, radius_and_k, seeded_rank

__all__ = ["MaxHerdingSelector", "HerdingScores", "AUTO_SCALE"]

#: h = AUTO_SCALE x ProbCover's automatic delta (measured, see the module docstring)
AUTO_SCALE = 0.7


class MaxHerdingSelector(BaseSelector):
    """Greedy generalised coverage with a Gaussian kernel over the kNN graph (MaxHerding).

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    bandwidth : kernel width h (L2 in the strategy's space), or "auto": 0.7 x the median
        distance to the ceil(N / n)-th nearest neighbour.
    k : neighbours a sample's kernel reaches (None: half the feature count, between 16
        and 256; memory is 4 k bytes a sample).
    metric : "cosine" (unit vectors) or "l2" (the vectors as given).
    seed : the rows the automatic bandwidth is estimated on, and the order among equal gains.
    knn_method : how the kNN graph is searched ("auto", "exact", "ivf", "hnsw").

    Attributes
    ----------
    selected_ : picks in order.
    scores_ : coverage each pick added (its gain).
    bandwidth_ : the h used; ``coverage_``: F of the picks and labeled samples over the
        pool size (1 = every sample has a pick at distance 0).
    """

    name = "maxherding"
    prefix_consistent = False  # bandwidth="auto" follows the budget
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "bandwidth": [Interval(numbers.Real, 0, None, closed="neither"), Options({"auto"})],
        "k": [Interval(numbers.Integral, 1, None), None],
        "metric": [Options({"l2", "cosine"})],
        "seed": [Interval(numbers.Integral, 0, None)],
        "knn_method": [Options({"auto", "exact", "ivf", "hnsw"})],
    }

    def __init__(self, n: int | float | str = 1000, *, bandwidth: float | str = "auto", k: int | None = None,
                 metric: str = "cosine", seed: int = 0, knn_method: str = "auto"):
        self.n = n
        self.bandwidth = bandwidth
        self.k = k
        self.metric = metric
        self.seed = seed
        self.knn_method = knn_method

    score_description = "kernel coverage its pick would add (updated after every pick)"

    def _graph(self, Xm: np.ndarray, n_total: int) -> np.ndarray:
        """(N, k) int32 neighbour ids; sets ``bandwidth_``."""
        h, _, k = radius_and_k(Xm, n_total, self.bandwidth, self.k, self.seed)
        self.bandwidth_ = AUTO_SCALE * h if self.bandwidth == "auto" else h
        nbr, _ = ball_graph(Xm, np.inf, k, method=self.knn_method, seed=self.seed)
        return nbr

    def _select(self, pool, n, excluded):
        Xm = np.ascontiguousarray(prepare_metric(pool.vectors, self.metric), np.float32)
        N = Xm.shape[0]
        if N < 2:
            self.bandwidth_, self.coverage_ = 0.0, 1.0
            picks = np.setdiff1d(np.arange(N), excluded)[:n]
            return picks, np.ones(picks.size), ["the only sample"] * picks.size
        nbr = self._graph(Xm, n + excluded.size)
        # imported after the kNN search: loading the compiled kernels costs ~65 MiB of RSS,
        # which would otherwise add to the search's memory peak (measured at 1M x 64)
        from ..kernels._maxherding_numba import facility_location_kernel

        rank = seeded_rank(N, self.seed)
        is_excl = np.zeros(N, np.bool_)
        is_excl[excluded] = True
        picks = np.empty(n, np.int64)
        gains = np.empty(n, np.float64)
        total = facility_location_kernel(Xm, nbr, 1.0 / self.bandwidth_ ** 2, rank, is_excl, n, picks, gains)
        self.coverage_ = float(total) / N
        src = "auto: 0.7 x ProbCover's delta" if self.bandwidth == "auto" else "given"
        reasons = [f"adds {g:.3g} kernel coverage (bandwidth={self.bandwidth_:.3g}, {src})" for g in gains.tolist()]
        return picks, gains, reasons

    def component_scores(self, pool, excluded):
        Xm = np.ascontiguousarray(prepare_metric(pool.vectors, self.metric), np.float32)
        if Xm.shape[0] < 2:
            return ComponentScores(np.ones(Xm.shape[0]))
        n = resolve_n(self.n, Xm.shape[0])  # a combination hands its budget over as n
        return HerdingScores(Xm, self._graph(Xm, n + excluded.size), self.bandwidth_, excluded)


class HerdingScores(ComponentScores):
    """Each row's MaxHerding gain, updated after every pick: only the rows whose list holds
    a sample whose best kernel value rose are recomputed (a reverse index of the lists)."""

    dynamic = True

    def __init__(self, Xm: np.ndarray, nbr: np.ndarray, bandwidth: float, excluded: np.ndarray):
        from ..kernels import _maxherding_numba as kernels

        self._k = kernels
        self._X, self._nbr, self._inv_h2 = Xm, nbr, 1.0 / bandwidth ** 2
        self._owners, self._start = list_owners(nbr)
        self._best = np.zeros(nbr.shape[0])
        is_excl = np.zeros(nbr.shape[0], np.bool_)
        is_excl[excluded] = True
        super().__init__(kernels.gains_after(Xm, nbr, self._best, self._inv_h2, is_excl))

    def picked(self, row: int) -> None:
        # only the picked row and its list can gain a larger best kernel value
        ball = np.concatenate([[row], self._nbr[row][self._nbr[row] >= 0]]).astype(np.int64)
        old = self._best[ball]
        self._k._take(self._X, self._nbr, self._best, row, self._inv_h2)
        changed = ball[self._best[ball] != old]
        owners = np.unique(np.concatenate([changed] + [self._owners[self._start[m]:self._start[m + 1]] for m in changed]))
        for c in owners.tolist():
            self.values[c] = self._k._gain(self._X, self._nbr, self._best, c, self._inv_h2)
