"""``auto``: the default of ``labelscout select``: pick the strategy by the budget's regime.

Which strategy beats random depends on how large the budget is against the pool. With few
labels per natural cluster, typical samples that cover the dense regions win (MaxHerding,
ProbCover, TypiClust); farthest point then takes outliers and misses whole classes. As the budget
grows the picks must also spread into the sparse regions, and the advantage of any
label-free method over random shrinks. The regime is the budget ratio ``(n + labeled) / N``;
:data:`REGIMES` maps it to a strategy, from the probe benchmark on CIFAR-10
("Selection vs random" in docs/benchmarks.md, ``labelscout bench probe``).

**Repetitive pools** (video frames, bursts: many near-identical copies of each scene; see
:mod:`._repetition`) are measured first. On them the natural clusters are the copy groups,
so the regime is the budget per estimated group, ``(n + labeled) / groups``, and
:data:`REPETITIVE_REGIMES` applies: one typical sample per group (TypiClust) while there are
more groups than picks, farthest point once every group can get one, from the probe
benchmark on the repeated-copies pool. ``repetition="ignore"`` skips the check.

The choice and its reason are recorded: ``choice_`` (strategy, parameters, regime, why, the
repetition check), and every reason string starts with it, so ``selection.csv`` and
``run.json`` say what ran.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import Interval, Options
from ._base import BUDGET_CONSTRAINT, BaseSelector

__all__ = ["AutoSelector", "REGIMES", "REPETITIVE_REGIMES", "Regime", "choose", "choose_repetitive"]


@dataclass(frozen=True)
class Regime:
    """Budget ratios up to ``max_ratio`` use ``strategy`` with ``params``."""

    max_ratio: float
    strategy: str
    why: str
    params: dict[str, Any] = field(default_factory=dict)


#: ordered by max_ratio; the first regime whose bound holds the ratio is used
REGIMES: tuple[Regime, ...] = (
    Regime(0.05, "maxherding",
           "low budget (at most 5% of the pool): the picks that most raise the pool's kernel coverage "
           "(ProbCover with a soft ball); best at 500 and 1,000 of 50,000 in the CIFAR-10 probe benchmark, "
           "and at least as good as ProbCover across random subsets of that pool"),
    Regime(float("inf"), "probcover",
           "higher budget (over 5% of the pool): ProbCover with the tighter balls its delta rule gives there; "
           "in the CIFAR-10 probe benchmark no label-free method beat it at 5,000 and 10,000"),
)


#: on a repetitive pool, by budget per estimated copy group ``(n + labeled) / groups``
REPETITIVE_REGIMES: tuple[Regime, ...] = (
    Regime(0.5, "typiclust",
           "repetitive pool, budget at most half the estimated groups: one typical sample from each "
           "of the largest uncovered k-means clusters, so copies of one scene are not picked twice; "
           "best at 500 on the repeated-copies pool (about 1,000 groups) in the probe benchmark"),
    Regime(float("inf"), "coreset",
           "repetitive pool, budget over half the estimated groups (or over 5,000 picks, where TypiClust's "
           "k-means gets slow): farthest point, which never picks "
           "a near-copy of a pick while a distinct sample is left; best at 1,000 and tied-best at "
           "5,000 and 10,000 on the repeated-copies pool in the probe benchmark"),
)


#: TypiClust clusters the pool into (n + labeled) k-means clusters; above this many the
#: clustering costs minutes on a laptop CPU at 1M samples, so larger budgets go to farthest point
TYPICLUST_MAX_CLUSTERS = 5000


def choose_repetitive(n: int, groups: int, n_labeled: int = 0) -> tuple[Regime, float]:
    """The repetitive-pool regime for a budget of ``n`` on ``groups`` estimated copy groups."""
    ratio = (n + n_labeled) / max(groups, 1)
    for regime in REPETITIVE_REGIMES:
        if regime.strategy == "typiclust" and n + n_labeled > TYPICLUST_MAX_CLUSTERS:
            continue
        if ratio <= regime.max_ratio:
            return regime, ratio
    return REPETITIVE_REGIMES[-1], ratio


def choose(n: int, n_pool: int, n_labeled: int = 0) -> tuple[Regime, float]:
    """The regime for a budget of ``n`` on ``n_pool`` samples of which ``n_labeled`` are labeled."""
    ratio = (n + n_labeled) / max(n_pool, 1)
    for regime in REGIMES:
        if ratio <= regime.max_ratio:
            return regime, ratio
    return REGIMES[-1], ratio


class AutoSelector(BaseSelector):
    """The strategy for the budget's regime (see :data:`REGIMES`).

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    metric : "cosine" or "l2", passed to the chosen strategy.
    seed : passed to the chosen strategy (and the repetition check's row sample).
    repetition : "detect" (default): test whether the pool is repetitive first and use
        :data:`REPETITIVE_REGIMES` if it is; "ignore": the budget-ratio table only.

    Attributes
    ----------
    choice_ : {"strategy", "params", "budget_ratio", "regime", "why", "repetition"}.
    repetition_ : the :class:`~._repetition.Repetition` found (None with "ignore").
    chosen_ : the fitted strategy that made the picks.
    """

    name = "auto"
    prefix_consistent = False  # the choice (and ProbCover's delta) follows the budget
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "metric": [Options({"l2", "cosine"})],
        "seed": [Interval(numbers.Integral, 0, None)],
        "repetition": [Options({"detect", "ignore"})],
    }

    def __init__(self, n: int | float | str = 1000, *, metric: str = "cosine", seed: int = 0,
                 repetition: str = "detect"):
        self.n = n
        self.metric = metric
        self.seed = seed
        self.repetition = repetition

    def _select(self, pool, n, excluded):
        from . import STRATEGIES

        self.repetition_ = None
        if self.repetition == "detect":
            from ..space.metric import prepare_metric
            from ._repetition import detect_repetition

            self.repetition_ = detect_repetition(prepare_metric(pool.vectors, self.metric), seed=self.seed)
        if self.repetition_ is not None and self.repetition_.repetitive:
            regime, ratio = choose_repetitive(n, self.repetition_.groups, excluded.size)
            bound = f"budget per estimated group <= {regime.max_ratio:g}"
            head = f"auto -> {regime.strategy} (repetitive pool, {ratio:.2f} picks per estimated group): "
        else:
            regime, ratio = choose(n, len(pool), excluded.size)
            bound = f"budget ratio <= {regime.max_ratio:g}"
            head = f"auto -> {regime.strategy} (budget {ratio:.2%} of the pool): "
        cls = STRATEGIES[regime.strategy]
        params = dict(regime.params)
        for name in ("metric", "seed"):
            if name in cls._param_names():
                params.setdefault(name, getattr(self, name))
        inner = cls(n=n, **params)
        inner._validate_params()
        picks, scores, reasons = inner._select(pool, n, excluded)
        for attr in ("delta_", "delta_neighbour_", "coverage_", "rounds_", "radius_"):
            if hasattr(inner, attr):
                setattr(self, attr, getattr(inner, attr))
        self.chosen_ = inner
        self.choice_ = {"strategy": regime.strategy, "params": {k: v for k, v in params.items()},
                        "budget_ratio": round(ratio, 6), "regime": bound, "why": regime.why,
                        "repetition": self.repetition_.as_dict() if self.repetition_ is not None else "ignored"}
        if hasattr(inner, "delta_"):
            self.choice_["delta"] = float(inner.delta_)
        return np.asarray(picks, np.int64), scores, [head + r for r in reasons]
