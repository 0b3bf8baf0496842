"""kNN graphs against a brute-force numpy reference, and the recall measurement."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError, InputError
from labelscout.space.knn import KnnGraph, knn_graph, measure_recall


def brute_knn(X, k):
    """Reference: all pairwise distances in float64, self excluded, stable order."""
    X = X.astype(np.float64)
    D = np.sqrt(np.maximum(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1), 0))
    np.fill_diagonal(D, np.inf)
    idx = np.argsort(D, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(D, idx, axis=1)


def clustered(n, d, seed, n_clusters=8):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, d)) * 3
    return (centres[rng.integers(n_clusters, size=n)] + rng.normal(size=(n, d))).astype(np.float32)


@pytest.mark.parametrize("n, d, k", [(2, 3, 1), (7, 2, 3), (200, 8, 10), (500, 32, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_graph_matches_brute_force(n, d, k, dtype):
    X = np.random.default_rng(n + d).normal(size=(n, d)).astype(dtype)
    g = knn_graph(X, k, method="exact", recall_sample=50)
    ref_i, ref_d = brute_knn(X, min(k, n - 1))
    # continuous random data has no ties: the same ids in the same order
    np.testing.assert_array_equal(g.indices[:, :ref_i.shape[1]], ref_i)
    np.testing.assert_allclose(g.distances[:, :ref_d.shape[1]], ref_d, rtol=1e-4, atol=1e-4)
    assert g.recall == 1.0 and g.indices.dtype == np.int64 and g.distances.dtype == np.float32


def test_k_larger_than_pool_pads_with_minus_one_and_inf():
    X = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    g = knn_graph(X, 6, method="exact")
    assert g.indices.shape == (4, 6)
    assert (g.indices[:, 3:] == -1).all() and np.isinf(g.distances[:, 3:]).all()
    assert all(set(g.indices[i, :3]) == set(range(4)) - {i} for i in range(4))


def test_duplicates_never_list_self():
    X = np.repeat(np.random.default_rng(1).normal(size=(10, 4)), 3, axis=0).astype(np.float32)
    for method in ("exact", "hnsw"):
        g = knn_graph(X, 4, method=method)
        assert not (g.indices == np.arange(30)[:, None]).any()
        assert np.allclose(g.distances[:, :2], 0)  # its two copies come first


@pytest.mark.parametrize("method", ["hnsw", "ivf"])
def test_approximate_graphs_reach_high_recall_on_clustered_data(method):
    X = clustered(3000, 16, seed=2)
    kw = dict(nprobe=16) if method == "ivf" else {}
    g = knn_graph(X, 10, method=method, recall_sample=300, **kw)
    ref_i, ref_d = brute_knn(X, 10)
    # the measured recall agrees with the reference's recall on every row
    true_recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(g.indices, ref_i)])
    assert g.recall is not None and abs(g.recall - true_recall) < 0.03
    assert true_recall > 0.95
    assert g.method == method and g.params


def test_measure_recall_counts_misses_and_ties():
    X = clustered(400, 6, seed=3)
    exact = knn_graph(X, 5, method="exact")
    assert measure_recall(X, exact, sample=400) == 1.0
    # break exactly one of five neighbours on every row: recall 0.8
    broken = KnnGraph(exact.indices.copy(), exact.distances.copy(), "broken")
    far = np.argsort(-np.linalg.norm(X - X.mean(0), axis=1))[:1]
    broken.indices[:, 4] = np.where(exact.indices[:, 4] == far[0], np.argsort(-np.linalg.norm(X - X[far[0]], axis=1))[0], far[0])
    assert measure_recall(X, broken, sample=400) == pytest.approx(0.8, abs=0.01)
    # with exact duplicates, any copy is a correct neighbour
    Xd = np.repeat(X[:50], 4, axis=0)
    g = knn_graph(Xd, 3, method="hnsw")
    assert measure_recall(Xd, g, sample=200) == 1.0


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 60), d=st.integers(1, 6), k=st.integers(1, 8), seed=st.integers(0, 1000))
def test_exact_graph_properties(n, d, k, seed):
    X = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    g = knn_graph(X, k, method="exact")
    valid = g.indices >= 0
    assert valid.sum(1).tolist() == [min(k, n - 1)] * n
    assert (g.indices[valid] < n).all() and not (g.indices == np.arange(n)[:, None]).any()
    assert all(len(set(r[r >= 0])) == (r >= 0).sum() for r in g.indices)  # no neighbour twice
    fin = np.where(valid, g.distances, np.inf)
    assert (np.diff(fin[:, : min(k, n - 1)], axis=1) >= -1e-6).all()  # ascending
    _, ref_d = brute_knn(X, min(k, n - 1))
    np.testing.assert_allclose(g.distances[:, : ref_d.shape[1]], ref_d, rtol=1e-4, atol=1e-4)  # same distances even with ties


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(k=0), ConfigError, r"'k' parameter of knn_graph must be an int in \[1, inf\). Got 0"),
    (dict(k=3, method="annoy"), ConfigError, r"'method' parameter .* Got 'annoy'"),
    (dict(k=3, method="ivf", nprobe=0), ConfigError, r"'nprobe'.*Got 0"),
    (dict(k=3, recall_sample=0), ConfigError, r"'recall_sample'.*Got 0"),
])
def test_invalid_parameters_are_named(kwargs, err, match):
    X = np.zeros((5, 2), np.float32)
    with pytest.raises(err, match=match):
        knn_graph(X, **kwargs)


def test_bad_inputs():
    with pytest.raises(InputError, match="at least 2 samples"):
        knn_graph(np.zeros((1, 3), np.float32), 1)
    X = np.zeros((6, 2), np.float32)
    X[4, 1] = np.nan
    with pytest.raises(InputError, match=r"rows \[4\]"):
        knn_graph(X, 2)


def test_auto_is_exact_for_small_pools():
    X = clustered(100, 4, seed=0)
    assert knn_graph(X, 3).method == "exact"


def test_auto_uses_ivf_above_the_exact_limit(monkeypatch):
    import labelscout.space.knn as knn

    monkeypatch.setattr(knn, "EXACT_LIMIT", 500)
    X = clustered(2000, 8, seed=4)
    g = knn.knn_graph(X, 5, recall_sample=200)
    assert g.method == "ivf" and g.recall >= 0.95
