"""Uncertainty sampling: the three measures equal their textbook definitions, the picks are
the top of that ranking, and predictions come from a file or from labels alone."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import InputError
from labelscout.sources.predictions import Predictions
from labelscout.strategies import UncertaintySelector
from labelscout.strategies.uncertainty import MEASURES, uncertainty_scores

from _active import class_blobs, random_probabilities


def reference(row, measure):
    p = sorted((float(v) for v in row), reverse=True)
    if measure == "least-confidence":
        return 1 - p[0]
    if measure == "margin":
        return 1 - (p[0] - p[1])
    return -sum(v * math.log(v) for v in p if v > 0)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), c=st.integers(2, 7), seed=st.integers(0, 10_000), measure=st.sampled_from(MEASURES))
def test_measures_match_the_definitions(n, c, seed, measure):
    P = random_probabilities(n, c, seed)
    P[0] = 0.0
    P[0, 0] = 1.0  # a certain row: zero uncertainty under every measure, and 0 log 0 = 0
    got = uncertainty_scores(P, measure)
    np.testing.assert_allclose(got, [reference(r, measure) for r in P], atol=1e-12)
    assert got[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("measure", MEASURES)
def test_picks_are_the_most_uncertain_candidates(measure):
    P = random_probabilities(200, 4, seed=1)
    P[10] = P[11] = [0.25] * 4  # maximally uncertain ties: lower index first
    X = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    excluded = [10, 3, 99]
    sel = UncertaintySelector(25, measure=measure).fit(X, predictions=P, exclude=excluded)
    u = [reference(r, measure) for r in P]
    order = sorted((i for i in range(200) if i not in excluded), key=lambda i: (-u[i], i))[:25]
    assert sel.selected_.tolist() == order
    assert sel.selected_[0] == 11
    np.testing.assert_allclose(sel.scores_, [u[i] for i in order], atol=1e-12)
    assert sel.model_source_ == "predictions"


def test_loaded_predictions_with_missing_rows():
    P = random_probabilities(20, 3, seed=2)
    P[5] = np.nan  # no row in the file for sample 5
    pred = Predictions(P, ["a", "b", "c"], present=np.isfinite(P).all(axis=1))
    X = np.zeros((20, 2), np.float32)
    ids = [f"s{i}" for i in range(20)]
    with pytest.raises(InputError, match=r"1 candidate sample\(s\) have no .*'s5'.*--exclude"):
        UncertaintySelector(3).fit(X, ids=ids, predictions=pred)
    sel = UncertaintySelector(3).fit(X, ids=ids, predictions=pred, exclude=["s5"])
    assert 5 not in sel.selected_ and "p(" in sel.reasons_[0]


def test_from_labels_alone_picks_unlabeled_samples_near_the_class_border():
    X, y = class_blobs([150, 150], d=4, sep=1.5, seed=3)
    labels = [str(v) if i < 40 else None for i, v in enumerate(y)]
    sel = UncertaintySelector(20, measure="margin").fit(X, labels=labels)
    assert sel.model_source_ == "head" and not set(sel.selected_.tolist()) & set(range(40))
    # uncertain picks sit between the classes: nearly as close to one true class mean as to the other
    m0, m1 = X[y == 0].mean(axis=0), X[y == 1].mean(axis=0)
    gap = np.abs(np.linalg.norm(X - m0, axis=1) - np.linalg.norm(X - m1, axis=1))
    assert gap[sel.selected_].mean() < 0.7 * gap[40:].mean()  # random picks: about 1.0x
    with pytest.raises(InputError, match="predictions or labeled samples"):
        UncertaintySelector(3).fit(X)


@pytest.mark.parametrize("name", ["uncertainty", "badge"])
def test_combines_with_label_free_strategies_and_honours_exclude(name):
    from labelscout.pool import Pool
    from labelscout.strategies import CombineSelector

    P = random_probabilities(80, 3, seed=7)
    X = np.random.default_rng(8).normal(size=(80, 4)).astype(np.float32)
    pred = Predictions(P, ["a", "b", "c"], present=np.ones(80, bool))
    pool = Pool(X, [f"s{i}" for i in range(80)], predictions=pred)
    excluded = [0, 5, 9]
    alone = CombineSelector(10, strategies={name: 1.0}).fit(pool, exclude=excluded)
    if name == "uncertainty":  # alone, a static component ranks exactly like the strategy itself
        assert alone.selected_.tolist() == UncertaintySelector(10).fit(pool, exclude=excluded).selected_.tolist()
    mixed = CombineSelector(10, strategies={"coreset": 1.0, name: 1.0}).fit(pool, exclude=excluded)
    assert not set(mixed.selected_.tolist()) & set(excluded) and len(set(mixed.selected_.tolist())) == 10
    assert name in mixed.reasons_[0] and "coreset" in mixed.reasons_[0]
