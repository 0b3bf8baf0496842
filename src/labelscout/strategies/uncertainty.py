"""Uncertainty sampling: the samples the current model is least sure about.

Three classic measures of one row ``p`` of class probabilities (Settles, "Active Learning
Literature Survey", 2009), each higher = more uncertain:

* ``least-confidence``: ``1 - max_c p_c``;
* ``margin``: ``1 - (p_(1) - p_(2))``, one minus the gap between the two most probable
  classes (Scheffer et al. 2001);
* ``entropy``: ``-sum_c p_c log p_c`` (natural log; 0 log 0 = 0).

The picks are the ``n`` most uncertain candidates (ties: lower index), a fixed ranking,
so every prefix is the selection of that size. Uncertainty alone ignores redundancy and
follows the model's blind spots: on a biased pool it keeps picking the classes the model
already knows to be hard and misses the rare ones (see ``fisher-match``); ``badge`` adds
diversity.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import Interval, Options
from ._base import BUDGET_CONSTRAINT
from ._predictive import HEAD_CONSTRAINTS, PredictiveSelector, top_n

__all__ = ["UncertaintySelector", "uncertainty_scores", "MEASURES"]

MEASURES = ("least-confidence", "margin", "entropy")


def uncertainty_scores(P: np.ndarray, measure: str = "least-confidence") -> np.ndarray:
    """Uncertainty of every row of ``P`` (n_samples, n_classes), float64, higher = less sure."""
    P = np.asarray(P, dtype=np.float64)
    if measure == "least-confidence":
        return 1.0 - P.max(axis=1)
    if measure == "margin":
        top2 = -np.partition(-P, 1, axis=1)[:, :2]  # (n, 2): largest, second largest
        return 1.0 - (top2[:, 0] - top2[:, 1])
    if measure == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(P > 0, P * np.log(P), 0.0)
        return -terms.sum(axis=1)
    raise ValueError(f"unknown uncertainty measure {measure!r}; known: {MEASURES}")


class UncertaintySelector(PredictiveSelector):
    """Pick the candidates the model is least sure about.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    measure : "least-confidence", "margin" or "entropy".
    head_folds, head_C : the fallback logistic head (used without ``predictions``): folds
        of its out-of-fold predictions and its inverse regularisation.
    seed : the head's fold assignment.

    Attributes
    ----------
    scores_ : the uncertainty of each pick.
    model_source_ : "predictions" or "head".
    """

    name = "uncertainty"
    score_description = "the model's uncertainty (measure)"
    prefix_consistent = True  # a fixed ranking
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "measure": [Options(MEASURES)],
        "seed": [Interval(numbers.Integral, 0, None)],
        **HEAD_CONSTRAINTS,
    }

    def __init__(self, n: int | float | str = 1000, *, measure: str = "least-confidence", head_folds: int = 5,
                 head_C: float = 1.0, seed: int = 0):
        self.n = n
        self.measure = measure
        self.head_folds = head_folds
        self.head_C = head_C
        self.seed = seed

    def _component(self, view, pool, candidates):
        """Static component scores for ``combine``: the uncertainty of every row."""
        return uncertainty_scores(view.probabilities, self.measure)

    def _select_with(self, view, pool, n, candidates):
        u = uncertainty_scores(view.probabilities, self.measure)
        order = top_n(u, candidates, n)
        P = view.probabilities
        names = view.class_names
        reasons = []
        for i in order:
            top = np.argsort(-P[i], kind="stable")[:2]
            reasons.append(f"{self.measure} {u[i]:.3f}: p({names[top[0]]})={P[i, top[0]]:.2f}, "
                           f"p({names[top[1]]})={P[i, top[1]]:.2f}")
        return order, u[order], reasons
