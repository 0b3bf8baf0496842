"""Weighted combination of strategies, greedy: e.g. diversity x typicality.

``strategies={"coreset": 1.0, "typicality": 0.5}``: any registered strategy that exposes
scores (:meth:`BaseSelector.component_scores`) can be a component. At every step each
component scores the remaining candidates, the scores are rescaled to [0, 1] over those
candidates and summed with the weights; the best candidate is picked (ties: lowest
index). Static components (typicality, similarity, random, a model's uncertainty...) are
scored and rescaled once; dynamic ones (diversity, "coreset": the distance to the nearest
pick or labeled sample) change with every pick, are updated incrementally and rescaled
again. A negative weight turns a static component around (e.g. typicality -1: atypical
first); a dynamic one (diversity) must weigh positive, since a negative weight would pick
next to the samples already picked.
"""
from __future__ import annotations

import numbers

import numpy as np

import inspect

from .._validation import Instance, Interval, Options, validate_pool_params
from ..errors import ConfigError, InputError
from ._base import BUDGET_CONSTRAINT, BaseSelector

__all__ = ["CombineSelector", "components", "rescale"]


def components() -> dict[str, str]:
    """Registered strategies a combination can use -> what each scores (higher is better)."""
    from . import STRATEGIES  # the registry imports this module

    return {name: cls.score_description for name, cls in STRATEGIES.items() if cls.exposes_scores()}


def rescale(v: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Min-max rescale ``v`` to [0, 1] over ``mask``; constant (or all-infinite) values give 0.

    Infinite values (a diversity with no centre yet, a typicality of exact duplicates) sit
    at the top: +inf -> 1 when finite values exist.
    """
    out = np.zeros(v.shape, np.float64)
    vals = v[mask]
    finite = vals[np.isfinite(vals)]
    if finite.size == 0:
        return out
    lo, hi = finite.min(), finite.max()
    span = hi - lo
    r = np.where(np.isposinf(v), 1.0, np.where(np.isneginf(v), 0.0, (v - lo) / span if span > 0 else 0.0))
    if span == 0:
        r = np.where(np.isposinf(v), 1.0, 0.0)
    out[mask] = r[mask]
    return out


class CombineSelector(BaseSelector):
    """Greedy weighted sum of rescaled component scores.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    strategies : dict component -> weight; a component is any registered strategy that
        exposes scores (see :func:`components`: "coreset", "typicality", "similarity",
        "random", ...).
    component_params : dict component -> its parameters (typicality: ``k``; similarity:
        ``query_ids`` / ``query_vectors`` / ``strength``).
    metric : "l2" or "cosine" for every component.
    seed : random component.

    Attributes
    ----------
    scores_ : the combined score of each pick.
    contributions_ : (n_selected, n_components) weighted rescaled component values.
    """

    name = "combine"
    prefix_consistent = True  # each step depends only on the picks before it
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "strategies": [Instance(dict)],
        "component_params": [Instance(dict), None],
        "metric": [Options({"l2", "cosine"})],
        "seed": [Interval(numbers.Integral, 0, None)],
    }

    def __init__(self, n: int | float | str = 1000, *, strategies: dict | None = None,
                 component_params: dict | None = None, metric: str = "cosine", seed: int = 0):
        self.n = n
        self.strategies = {"coreset": 1.0, "typicality": 0.5} if strategies is None else strategies
        self.component_params = component_params
        self.metric = metric
        self.seed = seed

    def _validate_params(self) -> None:
        super()._validate_params()
        known = components()
        bad = [k for k in self.strategies if k not in known]
        if bad or not self.strategies:
            raise ConfigError(f"The 'strategies' parameter of CombineSelector must map strategies that expose scores, "
                              f"{{{', '.join(repr(c) for c in known)}}}, to weights. Got {self.strategies!r} instead.")
        for k, w in self.strategies.items():
            if isinstance(w, bool) or not isinstance(w, numbers.Real) or not np.isfinite(w) or w == 0:
                raise ConfigError(f"The weight of {k!r} in the 'strategies' parameter of CombineSelector must be a "
                                  f"non-zero finite number. Got {w!r} instead.")
        extra = [k for k in (self.component_params or {}) if k not in self.strategies]
        if extra:
            raise ConfigError(f"The 'component_params' parameter of CombineSelector names components not in "
                              f"'strategies': {extra}.")
        for name in self.strategies:
            self._component(name)._validate_params()  # a bad component parameter fails before any work

    def required(self) -> frozenset[str]:
        """What the components need from the pool (e.g. predictions for an uncertainty term)."""
        from . import STRATEGIES

        return frozenset().union(*(STRATEGIES[c].requires for c in self.strategies if c in STRATEGIES))

    def _component(self, name: str, n: int = 1) -> BaseSelector:
        """The component strategy, with the combination's metric, seed and budget ``n``
        (which a budget-aware score such as ProbCover's radius follows) unless its
        parameters set metric or seed."""
        from . import STRATEGIES, get_strategy

        params = dict((self.component_params or {}).get(name, {}))
        params.pop("n", None)

        accepted = STRATEGIES[name]._param_names()
        for key, value in (("metric", self.metric), ("seed", self.seed)):
            if key in accepted:
                params.setdefault(key, value)
        return get_strategy(name, n=n, **params)

    def _select(self, pool, n, excluded):
        N = len(pool)
        cand = np.ones(N, bool)
        cand[excluded] = False
        names = list(self.strategies)
        parts = {}
        for c in names:
            comp = self._component(c, n)
            # a component's pool-bounded parameters (k neighbours...) are checked as its own fit would
            validate_pool_params(f"CombineSelector component {c!r}", comp.get_params(), comp._pool_constraints, N,
                                 defaults={p.name: p.default for p in inspect.signature(type(comp).__init__).parameters.values()})
            parts[c] = comp.component_scores(pool, excluded)
            w = float(self.strategies[c])
            if parts[c].dynamic and w < 0:
                raise ConfigError(f"The weight of {c!r} in the 'strategies' parameter of CombineSelector must be positive "
                                  f"(a negative one picks samples next to those already picked). Got {w!r} instead.",
                                  hint=f"Give {c} a positive weight, or leave it out; negative weights turn only "
                                       "static scores (typicality, similarity, random...) around.")
        for c in names:
            cand[parts[c].blocked] = False
        if n > int(cand.sum()):
            raise InputError(f"Cannot select {n} samples: only {int(cand.sum())} are neither excluded nor blocked "
                             "by a component (e.g. similarity queries).")
        weights = {c: float(self.strategies[c]) for c in names}
        static = np.zeros(N, np.float64)
        static_parts: dict[str, np.ndarray] = {}
        for c in names:
            if not parts[c].dynamic:
                static_parts[c] = weights[c] * rescale(parts[c].values, cand)
                static += static_parts[c]
        dynamic = [c for c in names if parts[c].dynamic]
        picks, scores, reasons, contrib = [], [], [], []
        for _ in range(n):
            total = static.copy()
            now = {}
            for c in dynamic:
                now[c] = weights[c] * rescale(parts[c].values, cand)
                total += now[c]
            total[~cand] = -np.inf
            j = int(np.argmax(total))
            at = {c: (now[c][j] if c in now else static_parts[c][j]) for c in names}
            picks.append(j)
            scores.append(float(total[j]))
            contrib.append([at[c] for c in names])
            reasons.append(" + ".join(f"{c} {at[c] / weights[c]:.2f}x{weights[c]:g}" for c in names) + f" = {total[j]:.3g}")
            cand[j] = False
            for c in dynamic:
                parts[c].picked(j)
        self.contributions_ = np.asarray(contrib)
        return np.asarray(picks, np.int64), np.asarray(scores), reasons
