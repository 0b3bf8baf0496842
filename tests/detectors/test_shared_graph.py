"""Detectors run together share one kNN graph, and sharing changes no result."""
from __future__ import annotations

import numpy as np
import pytest

from labelscout.detectors._runner import make_detectors, run_detectors
from labelscout.space.knn import KnnCache, knn_graph


def _pool(seed=0, n=300, d=8):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[10:20] = X[:10] + rng.normal(scale=1e-3, size=(10, d)).astype(np.float32)  # near copies
    return X, [f"s{i:03d}" for i in range(n)]


@pytest.mark.parametrize("params", [{}, {"outliers": {"k": 5}, "near-duplicates": {"k": 12}},
                                    {"outliers": {"metric": "l2"}}])
def test_run_together_equals_run_alone(params):
    X, ids = _pool()
    names = ["near-duplicates", "outliers"]
    together = run_detectors(make_detectors(names, params), X, ids)
    alone = [make_detectors([n], {n: params[n]} if n in params else None)[n].fit(X, ids=ids).issues_ for n in names]
    for name, ref in zip(("near_duplicate", "outlier"), alone):
        got = together.of(name)
        assert got.ids == ref.ids
        np.testing.assert_array_equal(got.score, ref.score)
        np.testing.assert_array_equal(got.flag, ref.flag)
        assert got.evidence == ref.evidence


def test_cache_builds_once_per_space_and_slices_smaller_k():
    X, _ = _pool(n=120)
    cache = KnnCache(k_min=8)
    wide = cache.graph("cosine", X, 8, method="exact")
    narrow = cache.graph("cosine", X, 3, method="exact")
    assert cache.built == 1
    np.testing.assert_array_equal(narrow.indices, wide.indices[:, :3])
    np.testing.assert_array_equal(narrow.distances, knn_graph(X, 3, method="exact").distances)
    cache.graph("l2", X, 3, method="exact")  # other vectors: never shared
    cache.graph("cosine", X, 10, method="exact")  # wider than built: rebuilt
    assert cache.built == 3


def test_inspect_style_run_builds_one_graph(monkeypatch):
    import labelscout.space.knn as knn

    calls = []
    real = knn.knn_graph
    monkeypatch.setattr(knn, "knn_graph", lambda *a, **kw: calls.append(a[1]) or real(*a, **kw))
    X, ids = _pool()
    run_detectors(make_detectors(["near-duplicates", "outliers"]), X, ids)
    assert calls == [10]
