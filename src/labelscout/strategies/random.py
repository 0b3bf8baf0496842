"""Random selection: the baseline every other strategy must beat."""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import Interval
from ._base import BUDGET_CONSTRAINT, BaseSelector, ComponentScores

__all__ = ["RandomSelector"]


class RandomSelector(BaseSelector):
    """Uniformly random picks, reproducible for a ``seed``.

    Scores are the random keys in [0, 1) that ordered the pool (lowest first).
    """

    name = "random"
    prefix_consistent = True  # the same random keys order the pool for every budget
    _parameter_constraints = {"n": BUDGET_CONSTRAINT, "seed": [Interval(numbers.Integral, 0, None)]}

    def __init__(self, n: int | float | str = 1000, *, seed: int = 0):
        self.n = n
        self.seed = seed

    score_description = "seeded random keys"

    def component_scores(self, pool, excluded):
        return ComponentScores(np.random.default_rng(self.seed).random(len(pool)))

    def _select(self, pool, n, excluded):
        X = pool.vectors
        rng = np.random.default_rng(self.seed)
        keys = rng.random(X.shape[0])
        keys[excluded] = np.inf
        order = np.argsort(keys, kind="stable")[:n]
        return order, keys[order], [f"random pick (seed={self.seed})"] * n
