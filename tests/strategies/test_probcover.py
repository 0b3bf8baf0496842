"""ProbCover: the numba lazy-heap greedy against a slow dense reference (all pairwise
distances, every gain recomputed at every pick), the auto delta rule, rounds after full
coverage, and the ball graph's memory bound."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError
from labelscout.strategies import ProbCoverSelector
from labelscout.strategies._base import as_pool
from labelscout.strategies.probcover import _k_cap, auto_delta, ball_graph

from _selection_contract import check_selection, pairwise


def reference_probcover(X, n, delta, k, excluded=(), seed=0):
    """Dense ProbCover: ball(i) = {i} + those of i's k nearest others within delta; each pick
    maximises (uncovered members, seeded rank); when all is covered a new round starts with
    only labeled samples covered."""
    N = len(X)
    D = pairwise(X).astype(np.float64)
    np.fill_diagonal(D, np.inf)
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    balls = [set([i]) | {int(j) for j in order[i] if D[i, j] <= delta} for i in range(N)]
    rank = np.empty(N, np.int64)
    rank[np.random.default_rng(seed).permutation(N)] = np.arange(N)
    labeled = set(int(e) for e in excluded)
    covered = set().union(*[balls[e] for e in labeled]) if labeled else set()
    picks, gains, rounds, rnd = [], [], [], 0
    for _ in range(n):
        cand = [i for i in range(N) if i not in labeled]
        best = max(cand, key=lambda i: (len(balls[i] - covered), rank[i]))
        if len(balls[best] - covered) == 0:
            rnd += 1
            covered = set(labeled)
            best = max(cand, key=lambda i: (len(balls[i] - covered), rank[i]))
        gains.append(len(balls[best] - covered))
        covered |= balls[best]
        labeled.add(best)
        picks.append(best)
        rounds.append(rnd)
    return picks, gains, rounds


def _blobs(N, d, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, d)) * 3
    return (centres[rng.integers(0, 6, N)] + rng.normal(size=(N, d))).astype(np.float32)


@pytest.mark.parametrize("N,d,n,delta,k,n_excl,seed", [
    (80, 3, 10, 1.2, 79, 0, 0),     # untruncated balls: the paper's ProbCover exactly
    (150, 4, 30, 1.5, 8, 5, 1),     # balls cut at 8 neighbours, some already labeled
    (60, 2, 50, 2.5, 20, 3, 2),     # wide balls: the pool is covered early, later rounds
    (200, 5, 40, 0.9, 12, 0, 3),
])
def test_matches_dense_reference(N, d, n, delta, k, n_excl, seed):
    X = _blobs(N, d, seed)
    excluded = np.random.default_rng(seed).choice(N, n_excl, replace=False).tolist()
    sel = ProbCoverSelector(n, delta=delta, k=k, metric="l2", seed=seed).fit(X, exclude=excluded or None)
    check_selection(sel, N, n, excluded)
    picks, gains, rounds = reference_probcover(X, n, delta, k, excluded, seed)
    assert sel.selected_.tolist() == picks
    assert sel.scores_.tolist() == gains
    assert sel.rounds_ == rounds[-1] + 1


@settings(max_examples=25, deadline=None)
@given(N=st.integers(3, 60), data=st.data())
def test_property_reference_and_monotone_gains(N, data):
    X = _blobs(N, 3, N)
    excluded = data.draw(st.lists(st.integers(0, N - 1), max_size=N - 2, unique=True))
    n = data.draw(st.integers(1, N - len(excluded)))
    delta = data.draw(st.floats(0.05, 4.0))
    k = data.draw(st.integers(1, N - 1))
    sel = ProbCoverSelector(n, delta=delta, k=k, metric="l2", seed=data.draw(st.integers(0, 5))).fit(X, exclude=excluded or None)
    check_selection(sel, N, n, excluded)
    picks, gains, _ = reference_probcover(X, n, delta, k, excluded, sel.seed)
    assert sel.selected_.tolist() == picks and sel.scores_.tolist() == gains


def test_one_pick_per_blob_centre_first():
    """Four separated blobs of different sizes, balls wider than a blob: the first four picks
    take one blob each, largest first, each near its centre (dense, typical)."""
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [30, 0], [0, 30], [30, 30]], np.float32)
    sizes = [200, 150, 100, 50]
    X = np.concatenate([c + rng.normal(size=(s, 2)).astype(np.float32) for c, s in zip(centres, sizes)])
    sel = ProbCoverSelector(4, delta=4.0, k=250, metric="l2").fit(X)
    blob = np.repeat(np.arange(4), sizes)
    assert blob[sel.selected_].tolist() == [0, 1, 2, 3]
    assert np.linalg.norm(X[sel.selected_] - centres, axis=1).max() < 1.5
    assert sel.coverage_ > 0.95 and "covers 200 uncovered samples" in sel.reasons_[0]


def test_auto_delta_follows_the_budget():
    X = _blobs(3000, 8, 0)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    d_small, m_small = auto_delta(U, 100, k=64)
    d_large, m_large = auto_delta(U, 1500, k=64)
    assert (m_small, m_large) == (30, 2)
    assert d_small > d_large
    # the rule itself: the median distance to the m-th neighbour, by brute force on the sample rows
    rows = np.sort(np.random.default_rng(0).choice(3000, 2000, replace=False))
    D = pairwise(U)[rows]
    D[np.arange(rows.size), rows] = np.inf
    assert d_small == pytest.approx(float(np.median(np.sort(D, axis=1)[:, 29])), rel=1e-5)
    sel = ProbCoverSelector(100, k=64, seed=0).fit(X)
    assert sel.delta_ == pytest.approx(d_small) and sel.delta_neighbour_ == 30


def test_ball_graph_keeps_int32_neighbours_within_delta():
    X = _blobs(500, 4, 1)
    nbr, truncated = ball_graph(X, 1.0, 16)
    assert nbr.dtype == np.int32 and nbr.shape == (500, 16)
    D = pairwise(X).astype(np.float64)
    np.fill_diagonal(D, np.inf)
    for i in range(0, 500, 37):
        inside = nbr[i][nbr[i] >= 0]
        assert (D[i, inside] <= 1.0 + 1e-5).all()
        expected = min(16, int((D[i] <= 1.0).sum()))
        assert inside.size == expected
    assert truncated == int(((D <= 1.0).sum(axis=1) >= 16).sum())


def test_validation():
    with pytest.raises(ConfigError, match="The 'delta' parameter of ProbCoverSelector"):
        ProbCoverSelector(3, delta=-1.0).fit(np.zeros((5, 2)))
    with pytest.raises(ConfigError, match="The 'delta' parameter of ProbCoverSelector"):
        ProbCoverSelector(3, delta="wide").fit(np.zeros((5, 2)))


def _balls(X, delta, k):
    """Each row's ball as a set, from all pairwise distances."""
    N = len(X)
    D = pairwise(X).astype(np.float64)
    np.fill_diagonal(D, np.inf)
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    balls = [{i} | {int(j) for j in order[i] if D[i, j] <= delta} for i in range(N)]
    return balls


@settings(max_examples=25, deadline=None)
@given(N=st.integers(3, 50), data=st.data())
def test_coverage_scores_match_a_recount(N, data):
    """combine's ProbCover scores after any sequence of picks equal the gains recounted
    from the balls, rounds included (a new round when no unpicked row gains anything)."""
    X = _blobs(N, 3, N + 7)
    delta = data.draw(st.floats(0.1, 4.0))
    k = data.draw(st.integers(1, N - 1))
    excluded = np.array(sorted(data.draw(st.lists(st.integers(0, N - 1), max_size=N - 2, unique=True))), np.int64)
    sel = ProbCoverSelector(N, delta=delta, k=k, metric="l2")
    scores = sel.scores(X, exclude=excluded if excluded.size else None)
    balls = _balls(X, delta, k)
    labeled = set(excluded.tolist())
    covered = set().union(*[balls[e] for e in labeled]) if labeled else set()
    order = data.draw(st.permutations([i for i in range(N) if i not in labeled]))
    for row in order[:data.draw(st.integers(0, len(order) - 1))]:
        expected = [len(balls[i] - covered) for i in range(N)]
        assert scores.values.tolist() == expected
        scores.picked(row)
        labeled.add(row)
        covered |= balls[row]
        if all(len(balls[i] - covered) == 0 for i in range(N) if i not in labeled):
            covered = set().union(*[balls[e] for e in labeled])
    assert scores.values.tolist() == [len(balls[i] - covered) for i in range(N)]


def test_combine_with_probcover_alone_takes_the_largest_gain_each_pick():
    """In combine, ProbCover's score is the coverage gain: on separated blobs with balls
    wider than a blob, the picks take one blob each, largest first, like ProbCover itself;
    the radius follows the combination's budget."""
    from labelscout.strategies import CombineSelector

    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [30, 0], [0, 30], [30, 30]], np.float32)
    sizes = [200, 150, 100, 50]
    X = np.concatenate([c + rng.normal(size=(s, 2)).astype(np.float32) for c, s in zip(centres, sizes)])
    sel = CombineSelector(4, strategies={"probcover": 1.0}, metric="l2",
                          component_params={"probcover": {"delta": 4.0, "k": 250}}).fit(X)
    blob = np.repeat(np.arange(4), sizes)
    assert blob[sel.selected_].tolist() == [0, 1, 2, 3]
    check_selection(sel, len(X), 4, [])


def test_combine_probcover_with_a_static_score_and_exclusions():
    """probcover + typicality through combine: unique picks outside the labeled rows, and the
    auto radius is the one ProbCover would use for the combination's budget plus the labeled."""
    from labelscout.strategies import CombineSelector
    from labelscout.strategies.coreset import prepare_metric

    X = _blobs(400, 6, 3)
    excluded = list(range(0, 400, 20))
    sel = CombineSelector(30, strategies={"probcover": 1.0, "typicality": 0.5}).fit(X, exclude=excluded)
    check_selection(sel, 400, 30, excluded)
    comp = ProbCoverSelector(30)
    comp.component_scores(as_pool(X), np.array(excluded))
    d, _ = auto_delta(prepare_metric(X, "cosine"), 30 + len(excluded), k=_k_cap(6))
    assert comp.delta_ == pytest.approx(d)
