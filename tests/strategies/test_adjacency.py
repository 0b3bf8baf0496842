"""Adjacency thinning: the heap with lazy invalidation and neighbour repair removes exactly
what the obvious O(N^2) loop removes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError
from labelscout.strategies import AdjacencySelector

from _selection_contract import check_selection, pairwise


def reference_kept(X: np.ndarray, n_keep: int, excluded=()) -> set[int]:
    """Recompute every survivor pair each step; remove per the documented rule."""
    D = pairwise(X)
    N = len(X)
    alive = np.ones(N, bool)
    excl = np.zeros(N, bool)
    excl[list(excluded)] = True
    while (alive & ~excl).sum() > n_keep:
        best = None
        for i in range(N):
            for j in range(i + 1, N):
                if alive[i] and alive[j] and not (excl[i] and excl[j]):
                    key = (D[i, j], i, j)
                    best = key if best is None or key < best else best
        _, i, j = best

        def second(u):
            others = sorted((D[u, v], v) for v in range(N) if alive[v] and v != u)
            return others[1][0] if len(others) > 1 else np.inf

        if excl[i]:
            drop = j
        elif excl[j]:
            drop = i
        else:
            si, sj = second(i), second(j)
            drop = (i if si < sj else j) if si != sj else max(i, j)
        alive[drop] = False
    return set(np.flatnonzero(alive & ~excl).tolist())


@pytest.mark.parametrize("N,D,k", [(30, 2, 2), (60, 3, 3), (80, 8, 5), (50, 2, 10), (40, 4, 1)])
@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference(N, D, k, frac, seed):
    rng = np.random.default_rng(seed)
    # clustered data makes lists run out, so the repair path is exercised
    X = (rng.normal(size=(N, D)) + 5 * rng.integers(0, 3, size=(N, 1))).astype(np.float32)
    n = max(1, int(frac * N))
    sel = AdjacencySelector(n, k=k, metric="l2").fit(X)
    check_selection(sel, N, n)
    assert set(sel.selected_.tolist()) == reference_kept(X, n)


@pytest.mark.parametrize("seed", range(4))
def test_excluded_are_kept_as_neighbours_and_never_picked(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(50, 3)).astype(np.float32)
    excluded = rng.choice(50, 8, replace=False)
    sel = AdjacencySelector(15, k=3, metric="l2").fit(X, exclude=excluded)
    check_selection(sel, 50, 15, excluded)
    assert set(sel.selected_.tolist()) == reference_kept(X, 15, excluded)


def test_repair_path_is_used_and_scores_are_nearest_kept_distances():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 2)).astype(np.float32)
    sel = AdjacencySelector(10, k=2, metric="l2").fit(X)
    assert sel.n_repairs_ > 0
    D = pairwise(X)
    kept = sel.selected_
    sub = D[np.ix_(kept, kept)].astype(np.float64)
    np.fill_diagonal(sub, np.inf)
    assert np.allclose(sel.scores_, sub.min(axis=1), rtol=1e-6)
    assert (np.diff(sel.scores_) <= 0).all()  # most isolated first


def test_duplicates_go_first():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(20, 4)).astype(np.float32)
    X = np.concatenate([base, base[:10] + 1e-4])  # 10 near-copies
    sel = AdjacencySelector(20, k=5, metric="l2").fit(X)
    kept = set(sel.selected_.tolist())
    for i in range(10):
        assert (i in kept) != (20 + i in kept)  # exactly one of each pair survives


@settings(max_examples=40, deadline=None)
@given(N=st.integers(2, 60), k=st.integers(1, 8), data=st.data())
def test_properties(N, k, data):
    X = np.random.default_rng(N * 7 + k).normal(size=(N, 3)).astype(np.float32)
    excluded = data.draw(st.lists(st.integers(0, N - 1), max_size=N - 1, unique=True))
    n = data.draw(st.integers(1, N - len(excluded)))
    a = AdjacencySelector(n, k=k, metric=data.draw(st.sampled_from(["l2", "cosine"]))).fit(X, exclude=excluded or None)
    check_selection(a, N, n, excluded)
    b = AdjacencySelector(n, k=k, metric=a.metric).fit(X, exclude=excluded or None)
    assert np.array_equal(a.selected_, b.selected_)


def test_validation_messages():
    X = np.zeros((5, 2), np.float32)
    with pytest.raises(ConfigError, match=r"The 'k' parameter of AdjacencySelector must be an int in the range \[1, inf\]. Got 0"):
        AdjacencySelector(2, k=0).fit(X)
    with pytest.raises(ConfigError, match="'knn_method' parameter of AdjacencySelector must be one of"):
        AdjacencySelector(2, knn_method="flat").fit(X)


@pytest.mark.parametrize("frac", [0.3, 0.8])
def test_ivf_repair_path_agrees_with_exact(monkeypatch, frac):
    import labelscout.strategies.adjacency as adjacency

    rng = np.random.default_rng(5)
    X = (rng.normal(size=(3000, 8)) + 4 * rng.integers(0, 5, size=(3000, 1))).astype(np.float32)
    n = int(frac * len(X))
    exact = AdjacencySelector(n, k=4, metric="l2").fit(X)
    monkeypatch.setattr(adjacency, "EXACT_REPAIR_LIMIT", 100)
    ivf = AdjacencySelector(n, k=4, metric="l2").fit(X, exclude=None)
    check_selection(ivf, len(X), n)
    assert ivf.n_repairs_ > 0
    overlap = len(set(ivf.selected_.tolist()) & set(exact.selected_.tolist())) / n
    assert overlap > 0.97  # approximate neighbours may change a few decisions
