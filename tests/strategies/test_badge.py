"""BADGE: k-means++ on gradient embeddings computed from their two factors equals the same
seeding on the explicit C x L vectors; confident samples (zero gradient) come last."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.strategies import BadgeSelector
from labelscout.strategies.badge import badge_kmeanspp
from labelscout.strategies._predictive import gradient_factors

from _active import class_blobs, random_probabilities


def reference_kmeanspp(P, Z, n, candidates, seed):
    """BADGE's seeding (Ash et al.'s code) on explicit gradient embeddings."""
    y = P.argmax(axis=1)
    G = np.stack([np.outer(P[i] - np.eye(P.shape[1])[y[i]], Z[i]).ravel() for i in range(P.shape[0])])
    rng = np.random.default_rng(seed)
    cand = candidates.copy()
    norms = (G ** 2).sum(axis=1)
    first = max(np.flatnonzero(cand), key=lambda i: (norms[i], -i))
    picks, d2s = [first], [norms[first]]
    cand[first] = False
    for _ in range(n - 1):
        d2 = np.array([min(((G[i] - G[p]) ** 2).sum() for p in picks) for i in range(len(G))])
        w = np.where(cand, d2, 0.0)
        if w.sum() > 0:
            j = int(np.searchsorted(np.cumsum(w), rng.random() * np.cumsum(w)[-1], side="right"))
        else:
            j = int(np.flatnonzero(cand)[0])
        picks.append(j)
        d2s.append(d2[j])
        cand[j] = False
    return picks, d2s


@settings(max_examples=25, deadline=None)
@given(n_pool=st.integers(3, 40), c=st.integers(2, 5), l=st.integers(1, 6), seed=st.integers(0, 1000), data=st.data())
def test_factored_seeding_matches_explicit_gradient_embeddings(n_pool, c, l, seed, data):
    P = random_probabilities(n_pool, c, seed)
    Z = np.random.default_rng(seed + 1).normal(size=(n_pool, l))
    excluded = data.draw(st.lists(st.integers(0, n_pool - 1), max_size=n_pool - 2, unique=True))
    cand = np.ones(n_pool, bool)
    cand[excluded] = False
    n = data.draw(st.integers(1, int(cand.sum())))
    A, Zf = gradient_factors(P, Z)
    picks, d2 = badge_kmeanspp(A, Zf, n, cand, seed)
    ref_picks, ref_d2 = reference_kmeanspp(P, Z, n, cand, seed)
    assert picks.tolist() == ref_picks
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-9, atol=1e-9)


def test_confident_samples_collapse_to_one_point_and_prefixes_hold():
    P = random_probabilities(60, 3, seed=4)
    P[:20] = np.eye(3)[np.arange(20) % 3]  # the model is certain of these: all share the gradient 0
    X = np.random.default_rng(5).normal(size=(60, 6)).astype(np.float32)
    sel = BadgeSelector(41, seed=2).fit(X, predictions=P)
    # the 40 uncertain ones and one representative of the zero gradient, which is never the first pick
    assert len(set(sel.selected_.tolist()) & set(range(20))) == 1 and sel.selected_[0] >= 20
    assert BadgeSelector(15, seed=2).fit(X, predictions=P).selected_.tolist() == sel.selected_[:15].tolist()
    with_features = BadgeSelector(10, seed=2).fit(X, predictions=P, features=X[:, :2])
    assert with_features.model_source_ == "predictions"


def test_badge_from_labels_spreads_over_classes():
    X, y = class_blobs([100] * 4, d=8, sep=2.0, seed=6)
    labels = [str(v) if i < 40 else None for i, v in enumerate(y)]
    sel = BadgeSelector(40, seed=0).fit(X, labels=labels)
    assert sel.model_source_ == "head"
    assert len(set(y[sel.selected_].tolist())) == 4
    assert not set(sel.selected_.tolist()) & set(range(40))
