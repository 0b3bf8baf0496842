"""Similarity: ranking by distance to the nearest query, checked against brute force."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError, InputError
from labelscout.strategies import SimilaritySelector
from labelscout.strategies.similarity import query_distances

from _selection_contract import check_selection


def reference(X, Q, n, blocked=(), farthest=False):
    d = np.array([min(np.linalg.norm(x.astype(np.float64) - q.astype(np.float64)) for q in Q) for x in X])
    key = -d if farthest else d
    order = [i for i in sorted(range(len(X)), key=lambda i: (key[i], i)) if i not in set(blocked)]
    return order[:n], d


@pytest.mark.parametrize("N,D,q", [(50, 2, 1), (200, 16, 5), (70, 3, 40)])
@pytest.mark.parametrize("farthest", [False, True])
def test_vectors_match_reference(N, D, q, farthest):
    rng = np.random.default_rng(N + q)
    X = rng.normal(size=(N, D)).astype(np.float32)
    Q = rng.normal(size=(q, D)).astype(np.float32)
    sel = SimilaritySelector(10, query_vectors=Q, strength=-2.0 if farthest else 0.5, metric="l2").fit(X, exclude=[0, 1])
    expect, d = reference(X, Q, 10, blocked=[0, 1], farthest=farthest)
    check_selection(sel, N, 10, [0, 1])
    assert sel.selected_.tolist() == expect
    assert np.allclose(sel.scores_, d[expect], rtol=1e-6)


def test_query_ids_are_never_picked_and_name_the_query():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    ids = [f"a/{i}.jpg" for i in range(40)]
    sel = SimilaritySelector(5, query_ids=["a/7.jpg", "a/9.jpg"], metric="l2").fit(X, ids=ids)
    expect, _ = reference(X, X[[7, 9]], 5, blocked=[7, 9])
    assert sel.selected_.tolist() == expect
    assert sel.reasons_[0].startswith("nearest query a/7.jpg d=") or sel.reasons_[0].startswith("nearest query a/9.jpg d=")
    by_index = SimilaritySelector(5, query_ids=[7, 9], metric="l2").fit(X)
    assert by_index.selected_.tolist() == expect


def test_cosine_normalises_queries_too():
    X = np.array([[1, 0], [10, 1], [0, 1], [-1, 0]], np.float32)
    sel = SimilaritySelector(3, query_vectors=[[100.0, 0.0]], metric="cosine").fit(X)
    assert sel.selected_.tolist() == [0, 1, 2]
    assert sel.scores_[0] == pytest.approx(0.0, abs=1e-6)


def test_exact_for_near_identical_vectors():
    base = np.random.default_rng(1).normal(size=(1, 64)).astype(np.float32) * 100
    X = np.concatenate([base, base + 1e-3]).astype(np.float32)
    dist, which = query_distances(X, base)
    assert dist[0] == 0.0 and dist[1] == pytest.approx(np.linalg.norm(np.float64(1e-3) * np.ones(64)), rel=1e-2)


@settings(max_examples=30, deadline=None)
@given(N=st.integers(3, 40), data=st.data())
def test_prefix_and_exclusion(N, data):
    X = np.random.default_rng(N).normal(size=(N, 3)).astype(np.float32)
    excluded = data.draw(st.lists(st.integers(1, N - 1), max_size=N - 2, unique=True))
    n = data.draw(st.integers(1, N - 1 - len(excluded)))
    s = data.draw(st.sampled_from([1.0, -1.0]))
    sel = SimilaritySelector(n, query_ids=[0], strength=s).fit(X, exclude=excluded or None)
    check_selection(sel, N, n, excluded + [0])
    assert ((np.diff(sel.scores_) >= 0) if s > 0 else (np.diff(sel.scores_) <= 0)).all()
    if n > 1:
        assert np.array_equal(SimilaritySelector(n - 1, query_ids=[0], strength=s).fit(X, exclude=excluded or None).selected_,
                              sel.selected_[:-1])


def test_validation():
    X = np.zeros((5, 2), np.float32)
    with pytest.raises(ConfigError, match="The 'strength' parameter of SimilaritySelector must be a non-zero float"):
        SimilaritySelector(2, query_ids=[0], strength=0).fit(X)
    with pytest.raises(ConfigError, match="needs a query"):
        SimilaritySelector(2).fit(X)
    with pytest.raises(InputError, match=r"query_vectors must have shape \(n_queries, 2\); got \(1, 3\)"):
        SimilaritySelector(2, query_vectors=[[1, 2, 3]]).fit(X)
    with pytest.raises(InputError, match="not in the pool"):
        SimilaritySelector(2, query_ids=["x.jpg"]).fit(X, ids=list("abcde"))
    with pytest.raises(InputError, match="at most 3 can be selected"):
        SimilaritySelector(4, query_ids=[0, 1]).fit(X)
