"""Weighted combination: the incremental greedy equals recomputing every score from
scratch at each step; single components reduce to their own strategies."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError
from labelscout.strategies import CombineSelector, CoresetSelector, SimilaritySelector, TypicalitySelector
from labelscout.strategies.combine import rescale

from _selection_contract import check_selection, pairwise, reference_typicality


def _scale(v, mask):
    """Obvious min-max over the candidates (inf at the top, constants 0)."""
    out = np.zeros(len(v))
    vals = [x for x, m in zip(v, mask) if m and np.isfinite(x)]
    if not vals:
        return out
    lo, hi = min(vals), max(vals)
    for i, (x, m) in enumerate(zip(v, mask)):
        if m:
            out[i] = 1.0 if x == np.inf else (0.0 if hi == lo else (x - lo) / (hi - lo))
    return out


def reference(X, n, weights, excluded=(), k=20, query=None):
    D = pairwise(X).astype(np.float64)
    N = len(X)
    cand = np.ones(N, bool)
    cand[list(excluded)] = False
    static = {}
    if "typicality" in weights:
        static["typicality"] = reference_typicality(X, k)
    if "similarity" in weights:
        static["similarity"] = -D[:, query].min(axis=1)
        cand[query] = False
    static = {c: weights[c] * _scale(v, cand) for c, v in static.items()}
    picks = []
    for _ in range(n):
        total = sum(static.values(), np.zeros(N))
        if "coreset" in weights:
            centres = list(excluded) + picks
            div = D[:, centres].min(axis=1) if centres else np.full(N, np.inf)
            total = total + weights["coreset"] * _scale(div, cand)
        best = max((i for i in range(N) if cand[i]), key=lambda i: (total[i], -i))
        picks.append(best)
        cand[best] = False
    return picks


@pytest.mark.parametrize("weights", [{"coreset": 1.0, "typicality": 0.5}, {"coreset": 1.0, "typicality": -0.3},
                                     {"typicality": 1.0, "similarity": 2.0}, {"coreset": 0.7, "similarity": 1.0, "typicality": 0.2}])
@pytest.mark.parametrize("N,D", [(40, 2), (90, 6)])
@pytest.mark.parametrize("n_excl", [0, 5])
def test_matches_from_scratch_reference(weights, N, D, n_excl):
    rng = np.random.default_rng(N + n_excl)
    X = (rng.normal(size=(N, D)) + 3 * rng.integers(0, 3, size=(N, 1))).astype(np.float32)
    excluded = rng.choice(np.arange(2, N), n_excl, replace=False).tolist()
    params = {"similarity": {"query_ids": [0, 1]}} if "similarity" in weights else None
    sel = CombineSelector(12, strategies=weights, component_params=params, metric="l2").fit(X, exclude=excluded or None)
    blocked = excluded + ([0, 1] if "similarity" in weights else [])
    check_selection(sel, N, 12, blocked)
    assert sel.selected_.tolist() == reference(X, 12, weights, excluded, query=[0, 1])
    assert np.allclose(sel.contributions_.sum(axis=1), sel.scores_)


def test_single_components_reduce_to_their_strategies():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(100, 5)).astype(np.float32)
    excluded = [3, 30]
    div = CombineSelector(15, strategies={"coreset": 2.0}, metric="l2").fit(X, exclude=excluded)
    assert div.selected_.tolist() == CoresetSelector(15, metric="l2").fit(X, exclude=excluded).selected_.tolist()
    typ = CombineSelector(15, strategies={"typicality": 1.0}, component_params={"typicality": {"k": 7}}).fit(X, exclude=excluded)
    assert typ.selected_.tolist() == TypicalitySelector(15, k=7).fit(X, exclude=excluded).selected_.tolist()
    sim = CombineSelector(15, strategies={"similarity": 1.0}, component_params={"similarity": {"query_ids": [0], "strength": -1}})
    ref = SimilaritySelector(15, query_ids=[0], strength=-1).fit(X, exclude=excluded)
    assert sim.fit(X, exclude=excluded).selected_.tolist() == ref.selected_.tolist()


def test_rescale():
    v = np.array([np.inf, 1.0, 3.0, 2.0, 9.0])
    m = np.array([True, True, True, True, False])
    assert rescale(v, m).tolist() == [1.0, 0.0, 1.0, 0.5, 0.0]
    assert rescale(np.full(3, np.inf), np.ones(3, bool)).tolist() == [0.0, 0.0, 0.0]
    assert rescale(np.ones(3), np.ones(3, bool)).tolist() == [0.0, 0.0, 0.0]


def test_reason_lists_contributions():
    X = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
    sel = CombineSelector(3, strategies={"coreset": 1.0, "typicality": 0.5}).fit(X, exclude=[0])
    assert sel.reasons_[0].startswith("coreset ") and " + typicality " in sel.reasons_[0] and "x0.5" in sel.reasons_[0]


@settings(max_examples=25, deadline=None)
@given(N=st.integers(2, 40), data=st.data())
def test_prefix_and_exclusion(N, data):
    X = np.random.default_rng(N).normal(size=(N, 3)).astype(np.float32)
    excluded = data.draw(st.lists(st.integers(0, N - 1), max_size=N - 1, unique=True))
    n = data.draw(st.integers(1, N - len(excluded)))
    w = {"coreset": data.draw(st.floats(0.1, 2)), "typicality": data.draw(st.floats(-1, 1).filter(lambda x: abs(x) > 0.01)),
         "random": 0.3}
    sel = CombineSelector(n, strategies=w).fit(X, exclude=excluded or None)
    check_selection(sel, N, n, excluded)
    m = data.draw(st.integers(1, n))
    assert np.array_equal(CombineSelector(m, strategies=w).fit(X, exclude=excluded or None).selected_, sel.selected_[:m])


def test_validation():
    X = np.zeros((5, 2), np.float32)
    with pytest.raises(ConfigError, match=r"The 'strategies' parameter of CombineSelector must map strategies that expose scores, \{.*'coreset'.*\}, to weights. Got \{'adjacency': 1\}"):
        CombineSelector(2, strategies={"adjacency": 1}).fit(X)
    with pytest.raises(ConfigError, match="The weight of 'coreset' .* non-zero finite number. Got 0 instead"):
        CombineSelector(2, strategies={"coreset": 0}).fit(X)
    with pytest.raises(ConfigError, match="names components not in 'strategies'"):
        CombineSelector(2, strategies={"coreset": 1}, component_params={"typicality": {"k": 3}}).fit(X)
    with pytest.raises(ConfigError, match="needs a query"):
        CombineSelector(2, strategies={"similarity": 1}).fit(X)
