"""Statistics of repeated probe runs: means with confidence intervals and paired differences.

Every repeat ``r`` of a method is paired with repeat ``r`` of the baseline: both ran with
the same seed for the probe (weight init, batch order, augmentation), so the difference
removes the probe's own run-to-run noise and leaves the effect of the selection. The
interval of the mean difference is Student's t interval of the paired differences (the
paired t-test inverted); a Wilcoxon signed-rank p-value is reported beside it as a check
that does not assume normality.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ..errors import InputError

__all__ = ["MeanCI", "PairedDifference", "mean_ci", "paired_difference", "bootstrap_ci"]


@dataclass(frozen=True)
class MeanCI:
    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1); nan for n < 2
    sem: float
    low: float  # confidence interval of the mean; nan for n < 2
    high: float
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` over paired repeats."""

    n: int
    mean: float
    std: float
    low: float
    high: float
    confidence: float
    p_ttest: float  # two-sided paired t-test
    p_wilcoxon: float  # two-sided Wilcoxon signed-rank (nan when undefined, e.g. n < 2 or all differences 0)
    wins: int  # repeats with a > b
    losses: int  # repeats with a < b

    def to_dict(self) -> dict:
        return asdict(self)


def _t_quantile(confidence: float, df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2.0, df))


def _check(values: Sequence[float], name: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise InputError(f"{name} is empty: at least one value is needed.")
    if not np.all(np.isfinite(x)):
        raise InputError(f"{name} holds NaN or infinite values: {x.tolist()[:5]}...")
    return x


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> MeanCI:
    """Mean of ``values`` with Student's t confidence interval."""
    x = _check(values, "values")
    n = x.size
    mean = float(x.mean())
    if n < 2:
        return MeanCI(n, mean, math.nan, math.nan, math.nan, math.nan, confidence)
    std = float(x.std(ddof=1))
    sem = std / math.sqrt(n)
    half = _t_quantile(confidence, n - 1) * sem
    return MeanCI(n, mean, std, sem, mean - half, mean + half, confidence)


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> PairedDifference:
    """Mean of ``a[i] - b[i]`` with its t interval, paired t-test and Wilcoxon p-values."""
    a, b = _check(a, "a"), _check(b, "b")
    if a.shape != b.shape:
        raise InputError(f"Paired samples must have equal length; got {a.size} and {b.size}.")
    d = a - b
    ci = mean_ci(d, confidence)
    p_t = math.nan
    p_w = math.nan
    if d.size >= 2:
        from scipy import stats

        if ci.std > 0:
            t = ci.mean / ci.sem
            p_t = float(2.0 * stats.t.sf(abs(t), d.size - 1))
        else:  # every difference equal: no spread, the test is decided by the sign alone
            p_t = 1.0 if ci.mean == 0 else 0.0
        if np.any(d != 0):
            p_w = float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    return PairedDifference(d.size, ci.mean, ci.std, ci.low, ci.high, confidence, p_t, p_w,
                            int(np.sum(d > 0)), int(np.sum(d < 0)))


def bootstrap_ci(values: Sequence[float], confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (for reports that do not want the t assumption)."""
    x = _check(values, "values")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1.0 - alpha))
