"""Divide and conquer: budget allocation, the inner strategy per cluster, round-robin order."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError, InputError
from labelscout.strategies import CoresetSelector, DivideAndConquerSelector, TypicalitySelector
from labelscout.strategies.divide_and_conquer import allocate

from _selection_contract import check_selection


def reference_allocate(n, weights, capacity):
    """Among all integer vectors within capacity summing to n, the one closest (L1, then
    lexicographically larger on lower groups) to the water-filled real shares."""
    w = np.asarray(weights, float)
    cap = np.asarray(capacity, float)
    # real water-filling by bisection on the level t: share_i = min(cap_i, t * w_i)
    lo, hi = 0.0, n / max(w[cap > 0].min(), 1e-12) + 1
    for _ in range(200):
        t = (lo + hi) / 2
        lo, hi = (t, hi) if np.minimum(cap, t * w).sum() < n else (lo, t)
    real = np.minimum(cap, hi * w)
    best = None
    for q in itertools.product(*[range(int(c) + 1) for c in capacity]):
        if sum(q) != n:
            continue
        score = np.abs(np.asarray(q) - real).sum()
        if best is None or score < best[0] - 1e-9:
            best = (score, q)
    return list(best[1]), real


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_allocate_is_the_closest_integer_water_filling(data):
    g = data.draw(st.integers(1, 4))
    capacity = data.draw(st.lists(st.integers(0, 6), min_size=g, max_size=g))
    if sum(capacity) == 0:
        return
    weights = data.draw(st.lists(st.integers(1, 9), min_size=g, max_size=g))
    n = data.draw(st.integers(1, sum(capacity)))
    got = allocate(n, weights, capacity)
    assert got.sum() == n and (got <= capacity).all() and (got >= 0).all()
    ref, real = reference_allocate(n, weights, capacity)
    assert np.abs(got - real).sum() == pytest.approx(np.abs(np.asarray(ref) - real).sum(), abs=1e-6)
    assert (np.abs(got - real) < 1 + 1e-9).all()  # largest remainder: never a whole sample off


def test_allocate_examples():
    assert allocate(10, [1, 1, 1], [10, 10, 10]).tolist() == [4, 3, 3]
    assert allocate(10, [1, 1, 1], [1, 10, 10]).tolist() == [1, 5, 4]  # the small cluster's excess moves on
    assert allocate(6, [3, 2, 1], [9, 9, 9]).tolist() == [3, 2, 1]
    assert allocate(4, [100, 1], [2, 50]).tolist() == [2, 2]


def _blobs(sizes, seed=0, d=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), d)) * 30
    X = np.concatenate([c + rng.normal(size=(s, d)) for c, s in zip(centres, sizes)]).astype(np.float32)
    return X, np.repeat(np.arange(len(sizes)), sizes)


@pytest.mark.parametrize("within", ["kmeans", "spectral", "labels"])
def test_clusters_recover_separated_blobs(within):
    X, blob = _blobs([80, 50, 30])
    sel = DivideAndConquerSelector(16, within=within, n_clusters=3, metric="l2").fit(X, labels=[f"b{b}" for b in blob])
    check_selection(sel, len(X), 16)
    cl = sel.cluster_labels_
    assert len(set(zip(cl.tolist(), blob.tolist()))) == 3  # one cluster per blob
    assert sel.budgets_.tolist() == [8, 5, 3]
    picked = blob[sel.selected_]
    assert picked[:3].tolist() == [0, 1, 2]  # round-robin, largest first
    for m in range(1, 17):  # every prefix stays balanced: counts differ by at most one until a cluster runs out
        counts = np.bincount(picked[:m], minlength=3)
        assert counts.max() - counts[counts < sel.budgets_].min(initial=counts.max()) <= 1


def test_inner_runs_within_each_cluster_with_local_exclusions():
    X, blob = _blobs([60, 40], seed=1)
    excluded = [0, 1, 65]
    sel = DivideAndConquerSelector(10, inner="coreset", within="labels", allocation="balanced", metric="l2", seed=3)
    sel.fit(X, exclude=excluded, labels=blob.tolist())
    check_selection(sel, 100, 10, excluded)
    for b, local_excl in ((0, [0, 1]), (1, [5])):
        idx = np.flatnonzero(blob == b)
        ref = CoresetSelector(5, metric="l2", seed=3).fit(X[idx], exclude=local_excl)
        assert [int(i) for i in sel.selected_ if blob[i] == b] == idx[ref.selected_].tolist()
    assert sel.reasons_[0].startswith("coreset within label 0: farthest from selected: d=")


def test_inner_params_and_other_inner_strategies():
    X, blob = _blobs([30, 30], seed=2)
    sel = DivideAndConquerSelector(6, inner="typicality", inner_params={"k": 5}, within="labels", metric="l2")
    sel.fit(X, labels=blob.tolist())
    for b in (0, 1):
        idx = np.flatnonzero(blob == b)
        ref = TypicalitySelector(3, k=5, metric="l2").fit(X[idx])
        assert [int(i) for i in sel.selected_ if blob[i] == b] == idx[ref.selected_].tolist()


@settings(max_examples=20, deadline=None)
@given(N=st.integers(2, 50), data=st.data())
def test_properties(N, data):
    X = np.random.default_rng(N).normal(size=(N, 3)).astype(np.float32)
    excluded = data.draw(st.lists(st.integers(0, N - 1), max_size=N - 1, unique=True))
    n = data.draw(st.integers(1, N - len(excluded)))
    within = data.draw(st.sampled_from(["kmeans", "spectral", "labels"]))
    sel = DivideAndConquerSelector(n, within=within, n_clusters=data.draw(st.integers(1, min(6, N))),
                                   allocation=data.draw(st.sampled_from(["proportional", "balanced"])))
    sel.fit(X, exclude=excluded or None, labels=[i % 3 for i in range(N)])
    check_selection(sel, N, n, excluded)


def test_validation():
    X = np.zeros((6, 2), np.float32)
    with pytest.raises(ConfigError, match="The 'inner' parameter of DivideAndConquerSelector must be one of {.*'coreset'.*}. Got 'nope'"):
        DivideAndConquerSelector(2, inner="nope").fit(X)
    with pytest.raises(ConfigError, match="The 'k' parameter of TypicalitySelector"):
        DivideAndConquerSelector(2, inner="typicality", inner_params={"k": 0}).fit(X)
    with pytest.raises(ConfigError, match="must not set 'n'"):
        DivideAndConquerSelector(2, inner_params={"n": 3}).fit(X)
    with pytest.raises(ConfigError, match="The 'within' parameter of DivideAndConquerSelector must be one of"):
        DivideAndConquerSelector(2, within="hdbscan").fit(X)
    with pytest.raises(InputError, match="within='labels' needs labels"):
        DivideAndConquerSelector(2, within="labels").fit(X)


def test_similarity_inside_clusters_takes_query_vectors():
    X, blob = _blobs([40, 40], seed=3)
    q = X[:1]
    sel = DivideAndConquerSelector(6, inner="similarity", inner_params={"query_vectors": q}, within="labels", metric="l2")
    sel.fit(X, labels=blob.tolist())
    check_selection(sel, 80, 6)
    assert sel.reasons_[0].startswith("similarity within label 0: nearest query vector 0 d=")
    with pytest.raises(ConfigError, match="cannot hold 'query_ids'"):
        DivideAndConquerSelector(6, inner="similarity", inner_params={"query_ids": [0]}).fit(X)
