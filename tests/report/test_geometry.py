"""The report's distances against slow, obviously correct references (full distance
matrices in float64)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.report.geometry import (coverage, histogram, nearest_in, neighbours_of_kept, nn_distance_of, nn_distance_within,
                                        pick_kept_examples, sample_rows)

TOL = 2e-3  # faiss computes |x|^2 + |y|^2 - 2xy in float32


def _dist(A, B):
    return np.sqrt(((A[:, None, :].astype(np.float64) - B[None, :, :]) ** 2).sum(-1))


def _points(rng, n, d=8, dupes=0):
    X = rng.normal(size=(n, d)).astype(np.float32)
    if dupes:  # exact duplicates make ties, the hard case for "nearest"
        X[-dupes:] = X[:dupes]
    return X


@pytest.mark.parametrize("n,m,k", [(1, 1, 1), (30, 5, 3), (200, 40, 1), (50, 3, 5)])
def test_nearest_in_matches_brute_force(rng, n, m, k):
    Q, R = _points(rng, n), _points(rng, m)
    idx, dist = nearest_in(Q, R, k)
    D = _dist(Q, R)
    ref = np.sort(D, axis=1)[:, :k]
    kk = min(k, m)
    np.testing.assert_allclose(dist[:, :kk], ref[:, :kk], atol=TOL)
    # the indices point at rows at those distances (ties may pick either)
    np.testing.assert_allclose(np.take_along_axis(D, idx[:, :kk], 1), ref[:, :kk], atol=TOL)
    if k > m:
        assert (idx[:, m:] == -1).all() and np.isinf(dist[:, m:]).all()


def test_nearest_in_empty_reference(rng):
    idx, dist = nearest_in(_points(rng, 4), np.empty((0, 8), np.float32), 2)
    assert idx.shape == (4, 2) and (idx == -1).all() and np.isinf(dist).all()


@pytest.mark.parametrize("n,dupes", [(2, 0), (40, 0), (300, 7)])
def test_nn_distance_within_matches_brute_force(rng, n, dupes):
    X = _points(rng, n, dupes=dupes)
    D = _dist(X, X)
    np.fill_diagonal(D, np.inf)
    np.testing.assert_allclose(nn_distance_within(X), D.min(1), atol=TOL)


def test_nn_distance_within_needs_two(rng):
    assert nn_distance_within(_points(rng, 1)).size == 0


@pytest.mark.parametrize("n,c,dupes", [(50, 1, 0), (120, 10, 0), (200, 25, 20)])
def test_coverage_matches_brute_force(rng, n, c, dupes):
    X = _points(rng, n, dupes=dupes)
    centres = rng.choice(n, size=c, replace=False)
    pos, dist = coverage(X, centres)
    D = _dist(X, X[centres])
    np.testing.assert_allclose(dist, D.min(1), atol=TOL)
    np.testing.assert_allclose(D[np.arange(n), pos], D.min(1), atol=TOL)
    # every centre covers itself
    assert (pos[centres] == np.arange(c)).all() and (dist[centres] == 0).all()


def test_coverage_without_centres(rng):
    pos, dist = coverage(_points(rng, 5), np.empty(0, np.int64))
    assert (pos == -1).all() and np.isinf(dist).all()


@pytest.mark.parametrize("n,n_kept,k", [(60, 6, 4), (100, 30, 8), (20, 15, 8)])
def test_neighbours_of_kept_match_brute_force(rng, n, n_kept, k):
    X = _points(rng, n, dupes=3)
    kept = rng.choice(n, size=n_kept, replace=False)
    removed = np.setdiff1d(np.arange(n), kept)
    idx, dist = neighbours_of_kept(X, kept, removed, k)
    D = _dist(X[kept], X[removed])
    kk = min(k, removed.size)
    ref = np.sort(D, axis=1)[:, :kk]
    np.testing.assert_allclose(dist[:, :kk], ref, atol=TOL)
    assert np.isin(idx[:, :kk], removed).all()  # only removed samples are shown as neighbours
    np.testing.assert_allclose(_dist(X[kept], X)[np.arange(n_kept)[:, None], idx[:, :kk]], ref, atol=TOL)
    assert (idx[:, kk:] == -1).all()


def test_neighbours_of_kept_when_nothing_was_removed(rng):
    idx, dist = neighbours_of_kept(_points(rng, 5), np.arange(5), np.empty(0, np.int64), 3)
    assert idx.shape == (5, 3) and (idx == -1).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=0, max_size=50), min_size=1, max_size=3),
       st.integers(1, 30))
def test_histogram_counts_every_finite_value_once(values, bins):
    series = [np.array(v + [np.inf, np.nan]) for v in values]
    edges, counts = histogram(series, bins)
    assert edges.shape == (bins + 1,) and edges[0] == 0 and np.all(np.diff(edges) > 0)
    for v, c in zip(values, counts):
        assert c.sum() == len(v)  # inf / nan are left out, everything else lands in a bin
        ref, _ = np.histogram(np.array(v, dtype=float), bins=edges)
        np.testing.assert_array_equal(c, ref)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=60), st.integers(1, 20))
def test_pick_kept_examples(cells, n_examples):
    cells = np.array(cells)
    chosen = pick_kept_examples(cells, n_examples, seed=1)
    assert len(chosen) == min(n_examples, len(cells)) and len(set(chosen.tolist())) == len(chosen)
    assert np.all(np.diff(cells[chosen]) <= 0)  # largest first
    # the half that stands for the most samples is always there
    top = np.sort(cells)[::-1][: min(n_examples, len(cells)) // 2 if len(cells) > n_examples else len(cells)]
    assert np.all(np.sort(cells[chosen])[::-1][: top.size] >= top)


@pytest.mark.parametrize("n,m,dupes", [(50, 10, 0), (80, 80, 0), (120, 30, 15)])
def test_nn_distance_of_some_rows_matches_brute_force(rng, n, m, dupes):
    X = _points(rng, n, dupes=dupes)
    rows = rng.choice(n, size=m, replace=False)
    D = _dist(X, X)
    np.fill_diagonal(D, np.inf)
    np.testing.assert_allclose(nn_distance_of(X, rows), D.min(1)[rows], atol=TOL)


@pytest.mark.parametrize("n,cap", [(10, None), (10, 20), (100, 30)])
def test_sample_rows(n, cap):
    rows = sample_rows(n, cap, seed=3)
    assert rows.size == min(n, cap or n) and np.all(np.diff(rows) > 0) and rows.min() >= 0 and rows.max() < n
    np.testing.assert_array_equal(rows, sample_rows(n, cap, seed=3))
