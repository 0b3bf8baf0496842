"""Balance selection: match a target distribution over labels (or any metadata column).

Greedy: each pick goes to the label furthest below its target share of everything
selected so far (already-labeled samples count, so a balanced budget tops up the rare
classes first). Within a label the picks follow an inner order: seeded random, or
coreset (farthest point) within that label. Pass a metadata column as the labels
(``--labels FILE.csv --label-column camera``) to balance over it.
"""
from __future__ import annotations

import logging
import numbers
from collections import Counter
from typing import Any

import numpy as np

from .._validation import Instance, Interval, Options
from ..errors import ConfigError
from ..kernels.farthest_point import farthest_point_sampling
from ._base import BUDGET_CONSTRAINT, BaseSelector
from .coreset import prepare_metric

__all__ = ["BalanceSelector", "balanced_label_sequence"]

log = logging.getLogger(__name__)


def balanced_label_sequence(target: dict[Any, float], start: dict[Any, int], available: dict[Any, int],
                            n: int) -> list[tuple[Any, float, float]]:
    """The labels of ``n`` greedy picks: each time the label with the largest shortfall
    ``target * (total + 1) - count`` among labels with samples left (ties: label order).

    Returns (label, share before the pick, target share) per pick.
    """
    labels = list(target)
    count = {lab: int(start.get(lab, 0)) for lab in labels}
    left = {lab: int(available.get(lab, 0)) for lab in labels}
    total = sum(count.values())
    out = []
    for _ in range(n):
        best, best_gap = None, -np.inf
        for lab in labels:
            if left[lab] <= 0:
                continue
            gap = target[lab] * (total + 1) - count[lab]
            if gap > best_gap + 1e-12:
                best, best_gap = lab, gap
        share = count[best] / total if total else 0.0
        out.append((best, share, target[best]))
        count[best] += 1
        left[best] -= 1
        total += 1
    return out


class BalanceSelector(BaseSelector):
    """Pick towards a target distribution over labels.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    target : "uniform" (every label present in the pool equally) or a dict label -> share
        (non-negative; normalised to sum 1; labels left out get share 0).
    inner : order within a label: "random" (by ``seed``) or "coreset" (farthest point in
        ``metric``, the label's excluded samples as initial centres).
    seed, metric : as in ``random`` / ``coreset``.

    Attributes
    ----------
    scores_ : target share minus the label's share just before the pick (the shortfall).
    label_counts_ : selected + excluded count per label after selection.
    """

    name = "balance"
    requires_labels = True
    prefix_consistent = True  # the label sequence and each inner order do not depend on n
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "target": [Options({"uniform"}), Instance(dict)],
        "inner": [Options({"random", "coreset"})],
        "seed": [Interval(numbers.Integral, 0, None)],
        "metric": [Options({"l2", "cosine"})],
    }

    def __init__(self, n: int | float | str = 1000, *, target: str | dict = "uniform", inner: str = "random",
                 seed: int = 0, metric: str = "cosine"):
        self.n = n
        self.target = target
        self.inner = inner
        self.seed = seed
        self.metric = metric

    def _validate_params(self) -> None:
        super()._validate_params()
        if isinstance(self.target, dict):
            bad = {k: v for k, v in self.target.items()
                   if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0}
            if bad or not self.target or sum(self.target.values()) <= 0:
                raise ConfigError(f"The 'target' parameter of BalanceSelector must map labels to non-negative shares "
                                  f"with a positive sum. Got {self.target!r} instead.")

    def _targets(self, present: list) -> dict:
        if self.target == "uniform":
            return {lab: 1.0 / len(present) for lab in present}
        # labels given as text on the command line must still match int labels
        by_text = {str(k): float(v) for k, v in self.target.items()}
        missing = [k for k in by_text if k not in {str(p) for p in present}]
        if missing:
            log.warning("balance target names label(s) not in the pool: %s", missing[:5])
        total = sum(by_text.values())
        return {lab: by_text.get(str(lab), 0.0) / total for lab in present}

    def _select(self, pool, n, excluded):
        X, labels = pool.vectors, list(pool.labels)
        is_excl = np.zeros(len(labels), bool)
        is_excl[excluded] = True
        present = sorted(set(labels), key=lambda v: (str(type(v)), str(v)))
        members = {lab: [] for lab in present}
        for i, lab in enumerate(labels):
            members[lab].append(i)
        members = {lab: np.asarray(m, np.int64) for lab, m in members.items()}
        start = Counter(labels[i] for i in excluded)
        available = {lab: int((~is_excl[m]).sum()) for lab, m in members.items()}
        target = self._targets(present)
        seq = balanced_label_sequence(target, start, available, n)
        quota = Counter(lab for lab, _, _ in seq)
        inner_order = {lab: self._inner(X, members[lab], is_excl, q) for lab, q in quota.items()}
        taken = Counter()
        picks, scores, reasons = [], [], []
        for lab, share, tgt in seq:
            picks.append(int(inner_order[lab][taken[lab]]))
            taken[lab] += 1
            scores.append(tgt - share)
            if share < tgt - 1e-9:
                reasons.append(f"label {lab!r} below target ({share:.0%} < {tgt:.0%})")
            elif share <= tgt + 1e-9:
                reasons.append(f"label {lab!r} at target ({share:.0%}), next in turn")
            else:
                reasons.append(f"label {lab!r} above target ({share:.0%} > {tgt:.0%}): the labels below have no samples left")
        self.label_counts_ = {lab: int(start.get(lab, 0) + taken.get(lab, 0)) for lab in present}
        return np.asarray(picks, np.int64), np.asarray(scores), reasons

    def _inner(self, X, idx, is_excl, q):
        """The first ``q`` pickable members of one label (pool indices) in the inner order."""
        free = idx[~is_excl[idx]]
        if self.inner == "random":
            # one key per pool sample, so a label's order does not depend on the others
            keys = np.random.default_rng(self.seed).random(X.shape[0])[free]
            return free[np.argsort(keys, kind="stable")[:q]]
        sub = prepare_metric(X[idx], self.metric)
        local_excl = np.flatnonzero(is_excl[idx])
        first = int(np.random.default_rng(self.seed).integers(idx.size))  # used only when nothing is excluded
        picks, _ = farthest_point_sampling(sub, q, initial=local_excl, first=first)
        return idx[np.asarray(picks, np.int64)]
