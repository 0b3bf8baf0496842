"""TypiClust: one pick per uncovered cluster, largest first, each the most typical of its
cluster; checked against a brute-force version given the same clusters."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError
from labelscout.strategies import TypiClustSelector

from _selection_contract import check_selection, reference_typicality


def reference_picks(X, clusters, n, k, excluded=()):
    excluded = set(int(e) for e in excluded)
    covered = {c: sum(1 for e in excluded if clusters[e] == c) for c in set(clusters.tolist())}
    size = {c: int((clusters == c).sum()) for c in covered}
    picked = []
    for _ in range(n):
        options = [c for c in covered if any(clusters[i] == c and i not in excluded and i not in picked for i in range(len(X)))]
        c = min(options, key=lambda c: (covered[c], -size[c], c))
        idx = np.flatnonzero(clusters == c)
        typ = reference_typicality(X[idx], k) if idx.size > 1 else np.zeros(1)
        best = [i for _, i in sorted(zip(-typ, idx)) if i not in excluded and i not in picked][0]
        picked.append(int(best))
        covered[c] += 1
    return picked


@pytest.mark.parametrize("N,n,k,n_excl", [(60, 5, 20, 0), (120, 12, 5, 4), (40, 20, 3, 10), (300, 30, 20, 0)])
def test_matches_reference_given_the_clusters(N, n, k, n_excl):
    rng = np.random.default_rng(N)
    X = (rng.normal(size=(N, 4)) + 3 * rng.integers(0, 4, size=(N, 1))).astype(np.float32)
    excluded = rng.choice(N, n_excl, replace=False).tolist()
    sel = TypiClustSelector(n, k=k, metric="l2").fit(X, exclude=excluded or None)
    check_selection(sel, N, n, excluded)
    clusters = sel.cluster_labels_
    assert clusters.max() + 1 <= n + n_excl
    sizes = np.bincount(clusters)
    assert (np.diff(sizes) <= 0).all()  # clusters are numbered largest first
    assert sel.selected_.tolist() == reference_picks(X, clusters, n, k, excluded)


def test_one_pick_per_planted_blob_at_its_centre():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [20, 0], [0, 20], [20, 20]], np.float32)
    sizes = [200, 150, 100, 50]
    X = np.concatenate([c + rng.normal(size=(s, 2)).astype(np.float32) for c, s in zip(centres, sizes)])
    sel = TypiClustSelector(4, metric="l2").fit(X)
    blob = np.repeat(np.arange(4), sizes)
    assert blob[sel.selected_].tolist() == [0, 1, 2, 3]  # largest uncovered cluster first
    assert np.linalg.norm(X[sel.selected_] - centres, axis=1).max() < 0.6
    assert sel.reasons_[0] == "most typical of cluster 0 (size 200)"


@settings(max_examples=20, deadline=None)
@given(N=st.integers(2, 60), data=st.data())
def test_distinct_clusters_while_uncovered(N, data):
    X = np.random.default_rng(N).normal(size=(N, 3)).astype(np.float32)
    excluded = data.draw(st.lists(st.integers(0, N - 1), max_size=N - 1, unique=True))
    n = data.draw(st.integers(1, N - len(excluded)))
    sel = TypiClustSelector(n, k=data.draw(st.integers(1, min(25, N - 1)))).fit(X, exclude=excluded or None)
    check_selection(sel, N, n, excluded)
    cl = sel.cluster_labels_
    fresh = [int(cl[i]) for i in sel.selected_ if cl[i] not in set(cl[excluded].tolist())]
    first_round = fresh[: len(set(fresh))]
    assert len(set(first_round)) == len(first_round)


def test_validation():
    with pytest.raises(ConfigError, match="The 'seed' parameter of TypiClustSelector must be an int in the range \\[0, inf\\]. Got -1"):
        TypiClustSelector(2, seed=-1).fit(np.zeros((4, 2)))
