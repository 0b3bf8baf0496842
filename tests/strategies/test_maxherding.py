"""MaxHerding: the numba lazy-heap greedy against a slow dense reference (all pairwise
distances, every gain recomputed at every pick), the objective's monotonicity, the auto
bandwidth, its scores inside combine, and parameter validation."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError
from labelscout.strategies import CombineSelector, MaxHerdingSelector
from labelscout.strategies._base import as_pool
from labelscout.strategies.coreset import prepare_metric
from labelscout.strategies.probcover import _k_cap, auto_delta

from _selection_contract import check_selection, pairwise


def _lists(X, k):
    """Each row's k nearest other rows (ties by index), from all pairwise distances."""
    D = pairwise(X).astype(np.float64)
    np.fill_diagonal(D, np.inf)
    return np.argsort(D, axis=1, kind="stable")[:, :k]


def _kernel(X, a, b, h):
    """exp(-|x_a - x_b|^2 / h^2) summed feature by feature in float64: the same operations in
    the same order as the kernel, so equal gains stay equal and ties go by rank in both."""
    d2 = 0.0
    for u, v in zip(X[a].tolist(), X[b].tolist()):
        d2 += (u - v) * (u - v)
    return math.exp(-d2 * (1.0 / h ** 2))


def reference_maxherding(X, n, h, k, excluded=(), seed=0):
    """Dense greedy facility location: row c covers itself (kernel 1) and its k nearest
    others with exp(-d^2 / h^2); each pick maximises (sum of improvements, seeded rank)."""
    N = len(X)
    lists = _lists(X, k)
    W = {c: [(c, 1.0)] + [(int(j), _kernel(X, c, j, h)) for j in lists[c]] for c in range(N)}
    rank = np.empty(N, np.int64)
    rank[np.random.default_rng(seed).permutation(N)] = np.arange(N)
    best = np.zeros(N)
    for e in excluded:
        for j, w in W[e]:
            best[j] = max(best[j], w)
    taken = set(int(e) for e in excluded)
    picks, gains = [], []
    for _ in range(n):
        def gain(c):
            return sum(max(0.0, w - best[j]) for j, w in W[c])
        c = max((c for c in range(N) if c not in taken), key=lambda c: (gain(c), rank[c]))
        gains.append(gain(c))
        for j, w in W[c]:
            best[j] = max(best[j], w)
        taken.add(c)
        picks.append(c)
    return picks, gains, best.sum()


def _blobs(N, d, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, d)) * 3
    return (centres[rng.integers(0, 6, N)] + rng.normal(size=(N, d))).astype(np.float32)


@pytest.mark.parametrize("N,d,n,h,k,n_excl,seed", [
    (80, 3, 10, 1.5, 79, 0, 0),     # every pair within reach: plain facility location
    (150, 4, 30, 1.0, 8, 5, 1),     # kernels cut at 8 neighbours, some already labeled
    (60, 2, 55, 3.0, 20, 3, 2),     # nearly everything picked
    (200, 5, 40, 0.5, 12, 0, 3),    # a narrow kernel: picks spread like farthest point
])
def test_matches_dense_reference(N, d, n, h, k, n_excl, seed):
    X = _blobs(N, d, seed)
    excluded = np.random.default_rng(seed).choice(N, n_excl, replace=False).tolist()
    sel = MaxHerdingSelector(n, bandwidth=h, k=k, metric="l2", seed=seed).fit(X, exclude=excluded or None)
    check_selection(sel, N, n, excluded)
    picks, gains, total = reference_maxherding(X, n, h, k, excluded, seed)
    assert sel.selected_.tolist() == picks
    np.testing.assert_allclose(sel.scores_, gains, rtol=1e-9, atol=1e-12)
    assert sel.coverage_ == pytest.approx(total / N, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(N=st.integers(3, 50), data=st.data())
def test_property_reference_and_falling_gains(N, data):
    """Any pool, budget, bandwidth, k and labeled set: the reference's picks, and gains that
    never rise (the objective is submodular, so the greedy's gains fall)."""
    X = _blobs(N, 3, N)
    excluded = data.draw(st.lists(st.integers(0, N - 1), max_size=N - 2, unique=True))
    n = data.draw(st.integers(1, N - len(excluded)))
    h = data.draw(st.floats(0.05, 5.0))
    k = data.draw(st.integers(1, N - 1))
    seed = data.draw(st.integers(0, 5))
    sel = MaxHerdingSelector(n, bandwidth=h, k=k, metric="l2", seed=seed).fit(X, exclude=excluded or None)
    check_selection(sel, N, n, excluded)
    picks, _, _ = reference_maxherding(X, n, h, k, excluded, seed)
    assert sel.selected_.tolist() == picks
    assert (np.diff(sel.scores_) <= 1e-12).all()


def test_one_pick_per_blob_centre_first():
    """Four separated blobs of different sizes, a kernel wider than a blob: one pick per
    blob, largest first, each near its centre (a dense, typical sample)."""
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [30, 0], [0, 30], [30, 30]], np.float32)
    sizes = [200, 150, 100, 50]
    X = np.concatenate([c + rng.normal(size=(s, 2)).astype(np.float32) for c, s in zip(centres, sizes)])
    sel = MaxHerdingSelector(4, bandwidth=3.0, k=250, metric="l2").fit(X)
    blob = np.repeat(np.arange(4), sizes)
    assert blob[sel.selected_].tolist() == [0, 1, 2, 3]
    assert np.linalg.norm(X[sel.selected_] - centres, axis=1).max() < 1.0
    assert "kernel coverage" in sel.reasons_[0] and "given" in sel.reasons_[0]


def test_auto_bandwidth_is_a_fixed_share_of_probcovers_radius():
    X = _blobs(3000, 8, 0)
    sel = MaxHerdingSelector(100, seed=0).fit(X)
    delta, _ = auto_delta(prepare_metric(X, "cosine"), 100, k=_k_cap(8), seed=0)
    assert sel.bandwidth_ == pytest.approx(0.7 * delta)
    assert MaxHerdingSelector(1500, seed=0).fit(X).bandwidth_ < sel.bandwidth_  # a larger budget, a narrower kernel
    assert "auto" in sel.reasons_[0]


@settings(max_examples=15, deadline=None)
@given(N=st.integers(3, 40), data=st.data())
def test_scores_in_combine_match_a_recount(N, data):
    """combine's MaxHerding scores after any sequence of picks equal the reference's gains."""
    X = _blobs(N, 3, N + 11)
    h = data.draw(st.floats(0.1, 4.0))
    k = data.draw(st.integers(1, N - 1))
    excluded = sorted(data.draw(st.lists(st.integers(0, N - 1), max_size=N - 2, unique=True)))
    scores = MaxHerdingSelector(N, bandwidth=h, k=k, metric="l2").scores(X, exclude=excluded or None)
    lists = _lists(X, k)
    W = {c: [(c, 1.0)] + [(int(j), _kernel(X, c, j, h)) for j in lists[c]] for c in range(N)}
    best = np.zeros(N)

    def take(c):
        for j, w in W[c]:
            best[j] = max(best[j], w)

    for e in excluded:
        take(e)
    free = [i for i in range(N) if i not in excluded]
    for row in data.draw(st.permutations(free))[:data.draw(st.integers(0, len(free)))]:
        expected = [sum(max(0.0, w - best[j]) for j, w in W[c]) for c in range(N)]
        np.testing.assert_allclose(scores.values, expected, rtol=1e-9, atol=1e-12)
        scores.picked(row)
        take(row)
    np.testing.assert_allclose(scores.values, [sum(max(0.0, w - best[j]) for j, w in W[c]) for c in range(N)],
                               rtol=1e-9, atol=1e-12)


def test_combine_with_maxherding_alone_follows_its_greedy():
    """Alone in a combination, the rescaled gain still picks the largest gain each step."""
    X = _blobs(120, 4, 5)
    direct = MaxHerdingSelector(15, bandwidth=1.2, k=30, metric="l2").fit(X)
    combined = CombineSelector(15, strategies={"maxherding": 1.0}, metric="l2",
                               component_params={"maxherding": {"bandwidth": 1.2, "k": 30}}).fit(X, exclude=[0, 1])
    check_selection(combined, 120, 15, [0, 1])
    with_excl = MaxHerdingSelector(15, bandwidth=1.2, k=30, metric="l2").fit(X, exclude=[0, 1])
    assert combined.selected_.tolist() == with_excl.selected_.tolist()
    assert direct.selected_.size == 15


def test_tiny_pools_and_validation():
    assert MaxHerdingSelector(1).fit(np.ones((1, 3), np.float32)).selected_.tolist() == [0]
    with pytest.raises(ConfigError, match="The 'bandwidth' parameter of MaxHerdingSelector"):
        MaxHerdingSelector(3, bandwidth=0.0).fit(np.zeros((5, 2)))
    with pytest.raises(ConfigError, match="The 'bandwidth' parameter of MaxHerdingSelector"):
        MaxHerdingSelector(3, bandwidth="wide").fit(np.zeros((5, 2)))
    with pytest.raises(ConfigError, match="The 'k' parameter of MaxHerdingSelector"):
        MaxHerdingSelector(3, k=0).fit(np.zeros((5, 2)))
    pool = as_pool(_blobs(30, 3, 0))
    assert MaxHerdingSelector(5).component_scores(pool, np.array([], np.int64)).dynamic
