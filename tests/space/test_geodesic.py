"""Geodesic distances against a tiny Floyd-Warshall reference."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError
from labelscout.space.geodesic import geodesic_distances, neighbour_graph
from labelscout.space.knn import knn_graph


def floyd_warshall_reference(X, k):
    """All-pairs shortest paths on the symmetrised kNN graph, by the textbook triple loop
    over a dense matrix built from brute-force neighbours."""
    X = X.astype(np.float64)
    n = len(X)
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    W = np.full((n, n), np.inf)
    np.fill_diagonal(W, 0)
    for i in range(n):
        order = [j for j in np.argsort(D[i], kind="stable") if j != i][:k]
        for j in order:
            W[i, j] = W[j, i] = D[i, j]
    for m in range(n):
        for i in range(n):
            for j in range(n):
                if W[i, m] + W[m, j] < W[i, j]:
                    W[i, j] = W[i, m] + W[m, j]
    return W


@settings(max_examples=20, deadline=None)
@given(n=st.integers(3, 25), k=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_matches_floyd_warshall(n, k, seed):
    X = np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)
    ref = floyd_warshall_reference(X, min(k, n - 1))
    sources = np.arange(0, n, 2)
    res = geodesic_distances(X, sources, k=k, knn_method="exact")
    np.testing.assert_allclose(res.distances, ref[sources], rtol=1e-5, atol=1e-5)
    # every finite distance is at least the straight line (triangle inequality)
    straight = np.linalg.norm(X[sources][:, None] - X[None], axis=-1)
    fin = np.isfinite(res.distances)
    assert (res.distances[fin] >= straight[fin] - 1e-5).all()
    # components agree with the reference's reachability
    assert ((res.component[sources][:, None] == res.component[None]) == np.isfinite(ref[sources])).all()
    # min_only: the distance to the nearest source, and a source that attains it
    mo = geodesic_distances(X, sources, k=k, knn_method="exact", min_only=True)
    np.testing.assert_allclose(mo.distances, ref[sources].min(0), rtol=1e-5, atol=1e-5)
    reach = mo.nearest_source >= 0
    np.testing.assert_allclose(ref[mo.nearest_source[reach], np.flatnonzero(reach)], mo.distances[reach], rtol=1e-5, atol=1e-5)


def test_disconnected_components_are_inf_and_reported(caplog):
    # an earlier CLI test may have set the package logger to ERROR (--quiet)
    caplog.set_level(logging.WARNING, logger="labelscout")
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(20, 2)), rng.normal(size=(15, 2)) + 100]).astype(np.float32)
    res = geodesic_distances(X, [0], k=3)
    assert res.n_components >= 2
    assert np.isinf(res.distances[0, 20:]).all() and np.isfinite(res.distances[0, :20]).all()
    assert res.unreachable.tolist() == [15]
    assert "connected components" in res.summary() and "inf" in res.summary()
    assert any("connected components" in r.message for r in caplog.records)


def test_duplicates_stay_connected_at_distance_zero():
    X = np.array([[0, 0], [0, 0], [1, 0], [1, 0], [2, 0]], np.float32)
    res = geodesic_distances(X, [0], k=1, knn_method="exact")
    # each point's one neighbour is its copy, so the graph splits in pairs; copies are at 0
    assert res.distances[0, 1] == 0.0
    g = knn_graph(X, 2, method="exact")
    A = neighbour_graph(g)
    assert A.nnz > 0 and (A != A.T).nnz == 0  # symmetric
    res2 = geodesic_distances(g, [0])
    np.testing.assert_allclose(res2.distances[0], [0, 0, 1, 1, 2], atol=1e-6)


def test_geodesic_follows_the_manifold():
    # points on a half circle: the geodesic between the ends is the arc, not the chord
    t = np.linspace(0, np.pi, 200)
    X = np.c_[np.cos(t), np.sin(t)].astype(np.float32)
    res = geodesic_distances(X, [0], k=2)
    assert res.distances[0, -1] == pytest.approx(np.pi, rel=1e-3)


@pytest.mark.parametrize("sources, match", [([], "non-empty"), ([0, 99], r"rows in \[0, 10\). Got \[99\]"), ([0.5], "row indices")])
def test_bad_sources(sources, match):
    X = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    with pytest.raises(ConfigError, match=match):
        geodesic_distances(X, sources, k=2)
