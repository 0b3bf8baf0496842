"""Outlier scores: mean kNN distance against a brute-force reference, rank scores, flags."""
from __future__ import annotations

import numpy as np
import pytest

from labelscout.detectors import OutlierDetector
from labelscout.detectors.outliers import rank_scores
from labelscout.errors import ConfigError


def _brute_knn_mean(X, k, metric):
    Z = X.astype(np.float64)
    if metric == "cosine":
        Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
        D = 1 - Z @ Z.T
    else:
        D = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    return np.sort(D, axis=1)[:, :k].mean(axis=1), D.min(axis=1)


@pytest.mark.parametrize("metric", ["cosine", "l2"])
@pytest.mark.parametrize("n,d,k", [(2, 3, 1), (30, 4, 5), (200, 16, 10), (150, 8, 200)])
def test_knn_mean_matches_brute_force(metric, n, d, k, rng):
    X = rng.normal(size=(n, d)).astype(np.float32)
    det = OutlierDetector(k=k, metric=metric).fit(X)
    want, nn = _brute_knn_mean(X, min(k, n - 1), metric)
    np.testing.assert_allclose(det.knn_mean_, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(det.nearest_distance_, nn, rtol=1e-4, atol=1e-5)
    assert det.scores_.min() >= 0 and det.scores_.max() <= 1


def test_planted_outliers_are_flagged_first(rng):
    X = rng.normal(size=(500, 8)).astype(np.float32) * 0.1
    X[:, 0] += 1.0  # one tight cloud away from the origin (cosine sees direction)
    far = [7, 123, 400]
    X[far] = rng.normal(size=(3, 8)).astype(np.float32)
    ids = [f"img{i}.jpg" for i in range(500)]
    det = OutlierDetector(k=10, contamination=0.006).fit(X, ids=ids)
    assert sorted(np.flatnonzero(det.flags_).tolist()) == far
    assert set(det.issues_.flagged_ids("outlier")) == {ids[i] for i in far}
    assert det.scores_[far].min() > 0.99 and len(det.issues_) == 500
    ev = det.issues_.evidence[7]
    assert set(ev) == {"nearest", "distance", "knn_mean"} and ev["knn_mean"] >= ev["distance"]
    by_threshold = OutlierDetector(k=10, threshold=float(np.sort(det.knn_mean_)[-3])).fit(X)
    assert by_threshold.flags_.sum() == 3


def test_rank_scores():
    assert rank_scores(np.array([3.0, 1.0, 2.0])).tolist() == [1.0, 0.0, 0.5]
    assert rank_scores(np.array([1.0, 1.0, 5.0])).tolist() == [0.25, 0.25, 1.0]
    assert rank_scores(np.array([4.0])).tolist() == [0.0]


def test_contamination_count_is_exact_with_ties(rng):
    X = np.ones((100, 4), dtype=np.float32)
    det = OutlierDetector(contamination=0.05, metric="l2").fit(X)
    assert det.flags_.sum() == 5


@pytest.mark.parametrize("params,needle", [
    ({"contamination": 0.7}, "'contamination' parameter of OutlierDetector must be a float in the range [0, 0.5]. Got 0.7 instead."),
    ({"k": 1.5}, "'k' parameter of OutlierDetector must be an int"),
])
def test_bad_parameters(params, needle, rng):
    with pytest.raises(ConfigError) as err:
        OutlierDetector(**params).fit(rng.normal(size=(10, 3)))
    assert needle in str(err.value)
