"""The random baseline: reproducible, uniform, honours exclusions."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.strategies import RandomSelector


@settings(max_examples=50, deadline=None)
@given(n_pool=st.integers(2, 300), data=st.data())
def test_random_invariants(n_pool, data):
    X = np.random.default_rng(n_pool).normal(size=(n_pool, 3)).astype(np.float32)
    excluded = data.draw(st.lists(st.integers(0, n_pool - 1), max_size=n_pool - 1, unique=True))
    n = data.draw(st.integers(1, n_pool - len(excluded)))
    seed = data.draw(st.integers(0, 5))
    s = RandomSelector(n, seed=seed).fit(X, exclude=excluded or None)
    picks = s.selected_
    assert len(picks) == n == len(set(picks.tolist()))
    assert ((0 <= picks) & (picks < n_pool)).all()
    assert not set(picks.tolist()) & set(excluded)
    again = RandomSelector(n, seed=seed).fit(X, exclude=excluded or None).selected_
    assert np.array_equal(picks, again)
    # prefix property
    if n > 1:
        assert np.array_equal(RandomSelector(n - 1, seed=seed).fit(X, exclude=excluded or None).selected_, picks[:-1])


def test_random_is_roughly_uniform():
    X = np.zeros((10, 2), np.float32)
    counts = np.zeros(10)
    for seed in range(2000):
        counts[RandomSelector(1, seed=seed).fit(X).selected_] += 1
    assert counts.min() > 140 and counts.max() < 260  # expected 200 each
