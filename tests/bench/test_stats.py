"""Statistics of repeated runs against scipy and closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from labelscout.bench.stats import bootstrap_ci, mean_ci, paired_difference
from labelscout.errors import InputError

finite = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("n", [2, 3, 5, 20, 100])
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_mean_ci_matches_scipy_t_interval(n, confidence, rng):
    x = rng.normal(0.7, 0.02, n)
    ci = mean_ci(x, confidence)
    lo, hi = stats.t.interval(confidence, n - 1, loc=x.mean(), scale=stats.sem(x))
    assert ci.n == n and ci.mean == pytest.approx(x.mean())
    assert ci.std == pytest.approx(x.std(ddof=1)) and ci.sem == pytest.approx(stats.sem(x))
    assert (ci.low, ci.high) == (pytest.approx(lo), pytest.approx(hi))


def test_mean_ci_closed_form_two_values():
    # n = 2: sem = |a - b| / 2, t_{0.975, 1} = 12.706...
    ci = mean_ci([0.5, 0.7], 0.95)
    assert ci.mean == pytest.approx(0.6) and ci.sem == pytest.approx(0.1)
    assert ci.high - ci.mean == pytest.approx(12.706204736 * 0.1)


def test_single_value_has_no_interval():
    ci = mean_ci([0.5])
    assert ci.mean == 0.5 and math.isnan(ci.std) and math.isnan(ci.low)
    d = paired_difference([0.6], [0.5])
    assert d.mean == pytest.approx(0.1) and math.isnan(d.p_ttest) and d.wins == 1


@pytest.mark.parametrize("n", [3, 8, 20])
def test_paired_difference_matches_scipy(n, rng):
    base = rng.normal(0.75, 0.01, n)
    a = base + rng.normal(0.004, 0.003, n)
    d = paired_difference(a, base, 0.95)
    t = stats.ttest_rel(a, base)
    w = stats.wilcoxon(a - base)
    assert d.mean == pytest.approx(np.mean(a - base))
    assert d.p_ttest == pytest.approx(t.pvalue) and d.p_wilcoxon == pytest.approx(w.pvalue)
    lo, hi = stats.t.interval(0.95, n - 1, loc=np.mean(a - base), scale=stats.sem(a - base))
    assert (d.low, d.high) == (pytest.approx(lo), pytest.approx(hi))
    assert d.wins + d.losses == n - int(np.sum(a == base))


def test_paired_difference_constant_and_zero_differences():
    d = paired_difference([0.75, 0.5, 0.25], [0.5, 0.25, 0.0])  # exactly representable: every difference is 0.25
    assert d.mean == 0.25 and d.std == 0.0 and d.p_ttest == 0.0 and d.low == d.high == 0.25
    z = paired_difference([0.6, 0.7], [0.6, 0.7])
    assert z.mean == 0 and z.p_ttest == 1.0 and math.isnan(z.p_wilcoxon) and (z.wins, z.losses) == (0, 0)


def test_pairing_removes_shared_noise(rng):
    """A small constant gain under large shared repeat noise: paired CI excludes 0, unpaired does not."""
    noise = rng.normal(0, 0.03, 20)
    a, b = 0.75 + noise + 0.005, 0.75 + noise
    assert paired_difference(a, b).low > 0
    assert mean_ci(a).low < mean_ci(b).high


def test_bad_input():
    with pytest.raises(InputError, match="equal length"):
        paired_difference([1, 2], [1])
    with pytest.raises(InputError, match="empty"):
        mean_ci([])
    with pytest.raises(InputError, match="NaN"):
        mean_ci([0.1, float("nan")])


@settings(max_examples=80, deadline=None)
@given(st.lists(finite, min_size=2, max_size=30))
def test_interval_contains_mean_and_narrows_with_lower_confidence(xs):
    hi, lo = mean_ci(xs, 0.99), mean_ci(xs, 0.8)
    assert hi.low <= hi.mean + 1e-12 and hi.mean <= hi.high + 1e-12
    assert hi.low <= lo.low + 1e-12 and lo.high <= hi.high + 1e-12


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=25))
def test_difference_is_antisymmetric(pairs):
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    d, e = paired_difference(a, b), paired_difference(b, a)
    assert d.mean == pytest.approx(-e.mean, abs=1e-12) and (d.wins, d.losses) == (e.losses, e.wins)
    if not math.isnan(d.low):
        assert d.low == pytest.approx(-e.high, abs=1e-9)


def test_bootstrap_interval_brackets_the_mean(rng):
    x = rng.normal(0.5, 0.1, 40)
    lo, hi = bootstrap_ci(x, 0.95, seed=1)
    t = mean_ci(x, 0.95)
    assert lo < x.mean() < hi
    assert hi - lo == pytest.approx(t.high - t.low, rel=0.25)  # same order as the t interval
