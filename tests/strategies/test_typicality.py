"""Typicality: 1 / mean distance to the k nearest neighbours, checked against brute force."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError
from labelscout.strategies import TypicalitySelector
from labelscout.strategies.typicality import knn_typicality

from _selection_contract import check_selection, reference_typicality


@pytest.mark.parametrize("N,D,k", [(2, 3, 5), (30, 2, 1), (100, 8, 20), (64, 16, 7)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_typicality_matches_brute_force(N, D, k, dtype):
    X = np.random.default_rng(N + D).normal(size=(N, D)).astype(dtype)
    got = knn_typicality(X.astype(np.float32), k)
    assert np.allclose(got, reference_typicality(X.astype(np.float32), k), rtol=1e-4)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_ranking_is_reference_order(metric):
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=(60, 4)) * 0.2, rng.normal(size=(60, 4)) * 2 + 3]).astype(np.float32)
    Xm = X / np.linalg.norm(X, axis=1, keepdims=True) if metric == "cosine" else X
    ref = reference_typicality(Xm, 10)
    sel = TypicalitySelector(25, k=10, metric=metric).fit(X, exclude=[int(np.argmax(ref))])
    check_selection(sel, 120, 25, [int(np.argmax(ref))])
    expect = [i for i in np.lexsort((np.arange(120), -ref)) if i != int(np.argmax(ref))][:25]
    # near-equal typicalities may swap under float32 search; compare values, then ids where gaps are clear
    assert np.allclose(sel.scores_, ref[expect], rtol=1e-4)
    if metric == "l2":
        assert (sel.selected_ < 60).all()  # the tight blob is the dense one


def test_duplicates_are_infinitely_typical_and_lone_sample_zero():
    X = np.array([[0, 0], [0, 0], [0, 0], [5, 5]], np.float32)
    t = knn_typicality(X, 2)
    assert np.isinf(t[:3]).all() and np.isfinite(t[3])
    assert knn_typicality(X[:1], 3).tolist() == [0.0]
    sel = TypicalitySelector(1, k=2, metric="l2").fit(X)
    assert sel.selected_.tolist() == [0] and "typicality inf" in sel.reasons_[0]


@settings(max_examples=30, deadline=None)
@given(N=st.integers(2, 50), k=st.integers(1, 25), data=st.data())
def test_prefix_and_exclusion(N, k, data):
    k = min(k, N - 1)  # more neighbours than the pool holds is an error (test_k_above_the_pool_is_an_error)
    X = np.random.default_rng(N).normal(size=(N, 3)).astype(np.float32)
    excluded = data.draw(st.lists(st.integers(0, N - 1), max_size=N - 1, unique=True))
    n = data.draw(st.integers(1, N - len(excluded)))
    sel = TypicalitySelector(n, k=k).fit(X, exclude=excluded or None)
    check_selection(sel, N, n, excluded)
    assert (np.diff(sel.scores_) <= 0).all()
    assert np.array_equal(TypicalitySelector(n, k=k).fit(X, exclude=excluded or None).selected_[: n - 1],
                          TypicalitySelector(max(n - 1, 1), k=k).fit(X, exclude=excluded or None).selected_[: n - 1])


@pytest.mark.parametrize("k", [100, 1000])
def test_k_above_the_pool_is_an_error(k):
    X = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    with pytest.raises(ConfigError, match=rf"The 'k' parameter of TypicalitySelector must be less than the number of samples \(100\).*Got {k} instead"):
        TypicalitySelector(5, k=k).fit(X)
    assert TypicalitySelector(5, k=99).fit(X).n_selected_ == 5
    assert TypicalitySelector(5).fit(X[:10]).n_selected_ == 5  # the default k=20 is lowered on a small pool


def test_validation():
    with pytest.raises(ConfigError, match=r"The 'k' parameter of TypicalitySelector must be an int in the range \[1, inf\]. Got 0 instead."):
        TypicalitySelector(3, k=0).fit(np.zeros((5, 2)))
    with pytest.raises(ConfigError, match="'metric' parameter of TypicalitySelector must be one of {'cosine', 'l2'}. Got 'cos'"):
        TypicalitySelector(3, metric="cos").fit(np.zeros((5, 2)))
