"""Density matching to a validation set: the blockwise kNN ratio equals a dense
all-pairs reference, picks follow the ratio (ties by nearest validation distance, then
index), it finds the part of the data the pool under-represents, and bad validation
vectors are refused naming the row."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError, InputError
from labelscout.space import knn
from labelscout.strategies import DensityMatchSelector, get_strategy
from labelscout.strategies.density_match import validation_density_ratio

from _active import class_blobs


def reference_ratio(X, V, k):
    """All pairwise distances of pool + validation; for each pool row its k nearest other
    rows, the validation ones counted."""
    A = np.vstack([X, V]).astype(np.float64)
    N, M = len(X), len(V)
    D = np.sqrt(((A[:N, None, :] - A[None, :, :]) ** 2).sum(-1))
    D[np.arange(N), np.arange(N)] = np.inf
    k = min(k, N + M - 1)
    ratio, counts, nearest = np.empty(N), np.empty(N, np.int64), np.empty(N)
    for i in range(N):
        nb = np.argsort(D[i], kind="stable")[:k]
        val = nb[nb >= N]
        counts[i] = val.size
        nearest[i] = D[i, val].min() if val.size else np.inf
        ratio[i] = (val.size / M) / ((k - val.size + 1) / N)
    return ratio, counts, nearest


@settings(max_examples=30, deadline=None)
@given(n_pool=st.integers(2, 80), m=st.integers(1, 20), k=st.integers(1, 30), d=st.integers(1, 6),
       seed=st.integers(0, 1000))
def test_the_ratio_equals_a_dense_reference(n_pool, m, k, d, seed):
    rng = np.random.default_rng(seed)
    X, V = rng.normal(size=(n_pool, d)).astype(np.float32), rng.normal(size=(m, d)).astype(np.float32)
    ratio, counts, nearest = validation_density_ratio(X, V, k)
    r_ratio, r_counts, r_nearest = reference_ratio(X, V, k)
    np.testing.assert_array_equal(counts, r_counts)
    np.testing.assert_allclose(ratio, r_ratio, rtol=1e-12)
    np.testing.assert_allclose(nearest, r_nearest, rtol=1e-4, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(n_pool=st.integers(3, 60), m=st.integers(1, 15), k=st.integers(1, 12), seed=st.integers(0, 1000), data=st.data())
def test_picks_follow_the_ratio_honour_exclude_and_prefixes(n_pool, m, k, seed, data):
    rng = np.random.default_rng(seed)
    X, V = rng.normal(size=(n_pool, 4)).astype(np.float32), rng.normal(size=(m, 4)).astype(np.float32)
    exclude = np.flatnonzero(rng.random(n_pool) < 0.3)
    n = data.draw(st.integers(1, n_pool - exclude.size)) if n_pool > exclude.size else 0
    if n == 0:
        return
    sel = DensityMatchSelector(n, validation_vectors=V, k=k).fit(X, exclude=exclude)
    ratio, _, nearest = reference_ratio(X, V, k)
    order = [i for i in sorted(range(n_pool), key=lambda i: (-ratio[i], nearest[i], i)) if i not in set(exclude)]
    assert sel.selected_.tolist() == order[:n]
    np.testing.assert_allclose(sel.scores_, ratio[sel.selected_], rtol=1e-12)
    assert len(sel.reasons_) == n and "density ratio" in sel.reasons_[0]
    smaller = DensityMatchSelector(max(1, n // 2), validation_vectors=V, k=k).fit(X, exclude=exclude)
    assert smaller.selected_.tolist() == sel.selected_[:smaller.selected_.size].tolist()


def test_blockwise_search_equals_a_single_block(monkeypatch):
    X, _ = class_blobs([300, 200], d=8, seed=3)
    V, _ = class_blobs([30, 30], d=8, seed=4)
    whole = validation_density_ratio(X, V, 20)
    monkeypatch.setattr(knn, "_QUERY_BLOCK", 37)
    blocked = validation_density_ratio(X, V, 20)
    for a, b in zip(whole, blocked):
        np.testing.assert_array_equal(a, b)


def test_finds_what_the_pool_under_represents():
    """Class 2 is 1 % of the pool and a third of the validation set: it comes first."""
    X, y = class_blobs([1500, 1500, 30], d=16, seed=0)
    Xv, _ = class_blobs([30, 30, 30], d=16, seed=0)  # same centres, other samples
    rng = np.random.default_rng(1)
    Xv = Xv + rng.normal(scale=0.05, size=Xv.shape).astype(np.float32)
    sel = DensityMatchSelector(30, validation_vectors=Xv, k=50).fit(X)
    rare_share = np.mean(y[sel.selected_] == 2)
    assert rare_share >= 0.9
    random_share = 30 / 3030
    assert rare_share > 50 * random_share


def test_combines_as_a_component():
    X, _ = class_blobs([200, 200, 10], d=8, seed=5)
    V, _ = class_blobs([10, 10, 10], d=8, seed=5)
    sel = get_strategy("combine", n=20, strategies={"density-match": 1.0, "coreset": 0.5},
                       component_params={"density-match": {"validation_vectors": V, "k": 20}}).fit(X, exclude=[0, 1])
    assert sel.selected_.size == 20 and not {0, 1} & set(sel.selected_.tolist())
    assert all("density-match" in r for r in sel.reasons_)


def test_without_a_validation_set():
    with pytest.raises(ConfigError, match="needs a validation set"):
        DensityMatchSelector(5).fit(np.zeros((10, 3), np.float32))


@pytest.mark.parametrize("V, message", [
    (np.zeros((4, 2)), r"shape \(n_validation, 3\)"),
    (np.zeros((0, 3)), r"shape \(n_validation, 3\)"),
    (np.array([[0, 0, 0], [np.nan, 0, 0]]), "NaN or infinite values in 1 row.*row 1"),
    (np.array([[0, np.inf, 0]]), "row 0"),
])
def test_bad_validation_vectors_are_refused_naming_the_row(V, message):
    X = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    with pytest.raises(InputError, match=message):
        DensityMatchSelector(5, validation_vectors=V).fit(X)


def test_validation_ids_are_the_validation_set_and_never_picked():
    """Pool rows named as the validation set give the same ratio as the same vectors given
    outside the pool, and are never picked."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    rows = [5, 17, 30, 41]
    inside = DensityMatchSelector(10, validation_ids=rows, k=8).fit(X)
    rest = np.setdiff1d(np.arange(60), rows)
    outside = DensityMatchSelector(10, validation_vectors=X[rows], k=8).fit(X[rest])
    assert inside.selected_.tolist() == rest[outside.selected_].tolist()
    assert not set(rows) & set(inside.selected_.tolist())
    with pytest.raises(ConfigError, match="exactly one"):
        DensityMatchSelector(5, validation_ids=rows, validation_vectors=X[rows]).fit(X)
    with pytest.raises(InputError, match="Cannot select 57"):
        DensityMatchSelector(57, validation_ids=rows).fit(X)
