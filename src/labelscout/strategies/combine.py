"""Weighted combination of strategies, greedy: e.g. diversity x typicality.

``strategies={"coreset": 1.0, "typicality": 0.5}``: at every step each component scores
the remaining candidates, the scores are rescaled to [0, 1] over those candidates and
summed with the weights; the best candidate is picked (ties: lowest index). Static
components (typicality, similarity, random) are scored once; diversity ("coreset": the
distance to the nearest pick or labeled sample) changes with every pick and is updated
incrementally (one pass over the pool per pick) and rescaled again. A negative weight
turns a static component around (e.g. typicality -1: atypical first); the coreset weight
must be positive, since a negative one would pick next to the samples already picked.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._validation import Instance, Interval, Options, validate_pool_params
from ..errors import ConfigError
from ._base import BUDGET_CONSTRAINT, BaseSelector
from .coreset import prepare_metric
from .similarity import SimilaritySelector
from .typicality import knn_typicality

__all__ = ["CombineSelector", "COMPONENTS", "rescale"]

#: components and what each scores (higher is better)
COMPONENTS = {
    "coreset": "distance to the nearest pick or labeled sample (updated after every pick)",
    "typicality": "1 / mean distance to the k nearest neighbours",
    "similarity": "closeness to the query (farthest first for strength < 0)",
    "random": "seeded random keys",
}


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
    strategies : dict component -> weight; components: "coreset", "typicality",
        "similarity", "random".
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
        bad = [k for k in self.strategies if k not in COMPONENTS]
        if bad or not self.strategies:
            raise ConfigError(f"The 'strategies' parameter of CombineSelector must map components from "
                              f"{{{', '.join(repr(c) for c in COMPONENTS)}}} to weights. Got {self.strategies!r} instead.")
        for k, w in self.strategies.items():
            if isinstance(w, bool) or not isinstance(w, numbers.Real) or not np.isfinite(w) or w == 0:
                raise ConfigError(f"The weight of {k!r} in the 'strategies' parameter of CombineSelector must be a "
                                  f"non-zero finite number. Got {w!r} instead.")
            if k == "coreset" and w < 0:
                raise ConfigError(f"The weight of 'coreset' in the 'strategies' parameter of CombineSelector must be positive "
                                  f"(a negative one picks samples next to those already picked). Got {w!r} instead.",
                                  hint="Give coreset a positive weight, or leave it out; negative weights turn only "
                                       "typicality, similarity and random around.")
        extra = [k for k in (self.component_params or {}) if k not in self.strategies]
        if extra:
            raise ConfigError(f"The 'component_params' parameter of CombineSelector names components not in "
                              f"'strategies': {extra}.")

    def _params(self, name: str) -> dict[str, Any]:
        return dict((self.component_params or {}).get(name, {}))

    def _select(self, X, n, excluded, *, labels=None):
        Xm = prepare_metric(X, self.metric)
        N = X.shape[0]
        cand = np.ones(N, bool)
        cand[excluded] = False
        names = list(self.strategies)
        weights = np.array([float(self.strategies[c]) for c in names])
        static = np.zeros(N, np.float64)
        static_parts: dict[str, np.ndarray] = {}
        for c, w in zip(names, weights):
            p = self._params(c)
            if c == "typicality":
                validate_pool_params("CombineSelector component 'typicality'", p, {"k": "neighbours"}, N)  # default k: lowered
                raw = knn_typicality(Xm, int(p.get("k", 20)))
            elif c == "similarity":
                sim = SimilaritySelector(n=1, metric=self.metric, **p)
                sim._validate_params()
                dist, _, _ = sim.query_scores(X, getattr(self, "_ids", None))
                cand[sim.query_indices_] = False  # queries are known already
                raw = -dist if sim.strength > 0 else dist
            elif c == "random":
                raw = np.random.default_rng(self.seed).random(N)
            else:
                continue
            static_parts[c] = raw
        if n > int(cand.sum()):
            from ..errors import InputError

            raise InputError(f"Cannot select {n} samples: only {int(cand.sum())} are neither excluded nor queries.")
        for c, raw in static_parts.items():
            part = self.strategies[c] * rescale(raw, cand)
            static_parts[c] = part
            static += part
        use_div = "coreset" in self.strategies
        if use_div:
            w_div = float(self.strategies["coreset"])
            x_sq = np.einsum("ij,ij->i", Xm, Xm, dtype=np.float64)
            mind = np.full(N, np.inf)
            for e in excluded:
                _min_update(Xm, x_sq, int(e), mind)
        picks, scores, reasons, contrib = [], [], [], []
        for _ in range(n):
            total = static.copy()
            if use_div:
                div = w_div * rescale(np.sqrt(mind), cand)
                total += div
            total[~cand] = -np.inf
            j = int(np.argmax(total))
            parts = {c: (div[j] if c == "coreset" else static_parts[c][j]) for c in names}
            picks.append(j)
            scores.append(float(total[j]))
            contrib.append([parts[c] for c in names])
            reasons.append(" + ".join(f"{c} {parts[c] / self.strategies[c]:.2f}x{self.strategies[c]:g}" for c in names)
                           + f" = {total[j]:.3g}")
            cand[j] = False
            if use_div:
                _min_update(Xm, x_sq, j, mind)
        self.contributions_ = np.asarray(contrib)
        return np.asarray(picks, np.int64), np.asarray(scores), reasons


def _min_update(X: np.ndarray, x_sq: np.ndarray, j: int, mind: np.ndarray, block: int = 1 << 18) -> None:
    """mind = min(mind, squared distance to row j), in blocks of rows."""
    c = X[j].astype(np.float64)
    c_sq = float(c @ c)
    for s in range(0, X.shape[0], block):
        d2 = x_sq[s:s + block] - 2.0 * (X[s:s + block] @ c) + c_sq
        np.minimum(mind[s:s + block], np.maximum(d2, 0.0), out=mind[s:s + block])
    mind[j] = 0.0
