"""The repetition check: copy groups are found and counted, i.i.d. and clustered pools of
any dimension are not called repetitive, and the estimate is seeded."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.space.metric import unit_rows
from labelscout.strategies._repetition import REPETITIVE_AT, detect_repetition, intrinsic_dimension


def _copies(groups: int, copies: int, dim: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(groups, dim))
    return unit_rows((np.repeat(base, copies, 0) + noise * rng.normal(size=(groups * copies, dim))).astype(np.float32))


@pytest.mark.parametrize("copies", [2, 5, 15, 30, 60])
@pytest.mark.parametrize("noise", [0.02, 0.2])
def test_copy_groups_are_found_and_counted(copies, noise):
    X = _copies(6000 // copies, copies, 32, noise)
    r = detect_repetition(X)
    assert r.repetitive
    # Biased one way only: the nearest other groups of a tight group can pass as extra copies
    # (the far half of the neighbour list is made of whole groups too), so groups are
    # under-counted by up to a third (measured 0.67 - 1.0 x the truth here), never over-counted.
    assert 0.6 / copies <= r.ratio <= 1.05 / copies
    assert 0.6 * (6000 // copies) <= r.groups <= 1.05 * (6000 // copies)


@pytest.mark.parametrize("dim", [2, 4, 8, 32, 128])
def test_iid_pools_of_any_dimension_are_not_repetitive(dim):
    X = np.random.default_rng(dim).normal(size=(8000, dim)).astype(np.float32)
    r = detect_repetition(unit_rows(X) if dim > 2 else X)
    assert not r.repetitive and r.ratio > 0.95


def test_clusters_are_not_copies():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 32)) * 3
    X = (centres[rng.integers(0, 40, 8000)] + rng.normal(size=(8000, 32))).astype(np.float32)
    assert detect_repetition(X).ratio > 0.95


def test_half_copied_pool_is_measured_as_such():
    rng = np.random.default_rng(1)
    copied = np.repeat(rng.normal(size=(400, 32)), 10, 0) + 0.05 * rng.normal(size=(4000, 32))
    X = np.vstack([copied, rng.normal(size=(4000, 32))]).astype(np.float32)
    r = detect_repetition(X)
    assert r.ratio == pytest.approx((400 + 4000) / 8000, abs=0.05) and not r.repetitive  # 0.55 > 0.5


def test_exact_duplicates_beyond_k_count_as_one_group_each():
    X = np.repeat(np.random.default_rng(2).normal(size=(20, 16)), 300, 0).astype(np.float32)
    r = detect_repetition(X)
    assert r.repetitive and r.ratio <= 1 / 100


def test_seeded_and_recorded():
    X = _copies(500, 4, 16, 0.1)
    a, b = detect_repetition(X, seed=3), detect_repetition(X, seed=3)
    assert a == b
    d = a.as_dict()
    assert d["threshold"] == REPETITIVE_AT and d["rows_sampled"] == 2000 and d["k"] == 128 and d["why"]


@pytest.mark.parametrize("n", [2, 10, 16])
def test_tiny_pools_are_not_tested(n):
    r = detect_repetition(np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32))
    assert not r.repetitive and r.rows_sampled == 0 and "too small" in r.why


def test_pool_smaller_than_the_sample_uses_every_row():
    X = _copies(100, 5, 16, 0.05)
    r = detect_repetition(X, sample=2000)
    assert r.rows_sampled == 500 and r.repetitive


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 40), st.integers(4, 64), st.floats(0.5, 3.0))
def test_intrinsic_dimension_of_uniform_cubes(m, k, scale):
    """Levina-Bickel on the far half recovers the dimension of a uniform cube (up to the
    estimator's spread) and does not depend on the scale."""
    from labelscout.space.knn import exact_neighbours

    rng = np.random.default_rng(m * 100 + k)
    X = (rng.random(size=(4000, m)) * scale).astype(np.float32)
    rows = np.arange(300)
    _, d = exact_neighbours(X, rows, k)
    est = intrinsic_dimension(d.astype(np.float64))
    assert est == pytest.approx(intrinsic_dimension(d.astype(np.float64) * 7.0))
    if m <= 8 and k >= 16:  # high dimensions need far more points than 4,000 to show their dimension
        assert est == pytest.approx(m, rel=0.35)
