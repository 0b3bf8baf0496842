"""How fast a reviewer finds the wrong labels, for a given viewing order.

The review shows one class at a time, misfits first. A reviewer who works through every
class down to the same depth sees, after viewing a fraction f of the images, the first f of
each class: :func:`per_class_order` is that order as one sequence (position r of a class of
n images comes at r / n, classes interleaved). :func:`found_curve` counts the true errors
among the first k viewed for every k; :func:`viewed_to_find` reads off how much had to be
viewed to find a share of them.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["per_class_order", "found_curve", "viewed_to_find", "share_wrong_in_first"]


def per_class_order(scores: np.ndarray, given: np.ndarray) -> np.ndarray:
    """Indices in the order a reviewer sees them going through all classes in step:
    within each class by descending score (ties by index), across classes by the position
    as a fraction of the class size (ties by class)."""
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-1.0)
    given = np.asarray(given)
    frac = np.empty(len(scores))
    for c in np.unique(given):
        idx = np.flatnonzero(given == c)
        ranked = idx[np.argsort(-scores[idx], kind="stable")]
        frac[ranked] = (np.arange(len(ranked)) + 1) / len(ranked)
    return np.lexsort((np.arange(len(scores)), given, frac))


def found_curve(order: Sequence[int], is_error: np.ndarray) -> np.ndarray:
    """found[k-1] = true errors among the first k viewed, k = 1 .. n."""
    return np.cumsum(np.asarray(is_error, dtype=bool)[np.asarray(order)])


def viewed_to_find(order: Sequence[int], is_error: np.ndarray, share: float) -> float:
    """Fraction of all images viewed when ``share`` of the errors have been found."""
    curve = found_curve(order, is_error)
    need = int(np.ceil(share * curve[-1]))
    return float((np.searchsorted(curve, need) + 1) / len(curve)) if need > 0 else 0.0


def share_wrong_in_first(order_within_class: dict, is_error: np.ndarray, k: int = 50) -> dict:
    """Per class: share of true errors among its first ``k`` images in a within-class
    order (class -> ndarray of indices)."""
    return {c: float(np.asarray(is_error)[np.asarray(rows)[:k]].mean()) for c, rows in order_within_class.items()}
