"""Strategies and detectors share one estimator base: what they need from the Pool is
declared once (``requires``), checked with a clear message, and any strategy that exposes
scores can be a component of ``combine``."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from labelscout.detectors import DETECTORS, BaseDetector
from labelscout.errors import InputError
from labelscout.pool import Pool
from labelscout.strategies import STRATEGIES, BaseSelector, CombineSelector, ComponentScores, get_strategy

from _selection_contract import check_selection


@dataclass
class _Pred:
    probabilities: np.ndarray
    class_names: list


class MarginSelector(BaseSelector):
    """Smallest margin between the two most probable classes first (a prediction-based
    strategy written the way issue15's will be)."""

    name = "margin-test"
    requires = frozenset({"predictions"})
    prefix_consistent = True
    score_description = "1 - (p_top1 - p_top2)"

    def __init__(self, n=10):
        self.n = n

    def _uncertainty(self, pool):
        P = np.sort(pool.predictions.probabilities, axis=1)
        return 1.0 - (P[:, -1] - P[:, -2])

    def component_scores(self, pool, excluded):
        return ComponentScores(self._uncertainty(pool))

    def _select(self, pool, n, excluded):
        key = -self._uncertainty(pool)
        key[excluded] = np.inf
        order = np.lexsort((np.arange(key.size), key))[:n]
        return order, -key[order], ["small margin"] * n


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(STRATEGIES, MarginSelector.name, MarginSelector)


def _pool(n=60, seed=0, predictions=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    P = rng.dirichlet(np.ones(4) * 0.7, size=n)
    return Pool(X, [f"img/{i}.jpg" for i in range(n)], predictions=_Pred(P, list("abcd")) if predictions else None)


def _reference_margin_order(P, excluded, n):
    """Slow and obvious: sort rows by margin, ascending, ties by index, skipping excluded."""
    rows = sorted((r for r in range(len(P)) if r not in set(excluded)),
                  key=lambda r: (sorted(P[r])[-1] - sorted(P[r])[-2], r))
    return rows[:n]


@pytest.mark.parametrize("excluded", [[], [0, 5, 7]])
def test_a_strategy_that_needs_predictions_gets_them_from_the_pool(registered, excluded):
    pool = _pool()
    sel = get_strategy("margin-test", n=12).fit(pool, exclude=[pool.ids[i] for i in excluded] or None)
    check_selection(sel, len(pool), 12, excluded)
    assert list(sel.selected_) == _reference_margin_order(pool.predictions.probabilities, excluded, 12)


def test_missing_predictions_are_named_with_the_fix(registered):
    with pytest.raises(InputError, match="MarginSelector needs model predictions") as err:
        MarginSelector(5).fit(_pool(predictions=False))
    assert "--predictions" in err.value.hint
    combo = CombineSelector(5, strategies={"margin-test": 1.0, "coreset": 0.5})
    assert combo.required() == {"predictions"}
    with pytest.raises(InputError, match="CombineSelector needs model predictions"):
        combo.fit(_pool(predictions=False))


def test_combine_composes_a_new_registered_scorer(registered):
    pool = _pool()
    alone = CombineSelector(15, strategies={"margin-test": 1.0}).fit(pool, exclude=[3, 4])
    # one static component: the combination is that component's own ranking
    assert list(alone.selected_) == _reference_margin_order(pool.predictions.probabilities, [3, 4], 15)
    mixed = CombineSelector(15, strategies={"margin-test": 1.0, "coreset": 1.0}).fit(pool, exclude=[3, 4])
    check_selection(mixed, len(pool), 15, [3, 4])
    assert mixed.contributions_.shape == (15, 2) and "margin-test" in mixed.reasons_[0]
    assert not np.array_equal(mixed.selected_, alone.selected_)  # diversity changes the picks


def test_old_hook_signatures_fail_at_class_definition():
    with pytest.raises(TypeError, match=r"_select must take \(self, pool, n, excluded\)"):
        class Old(BaseSelector):  # noqa: F841
            def _select(self, X, n, excluded, *, labels=None):
                raise AssertionError
    with pytest.raises(TypeError, match=r"_fit must take \(self, pool\)"):
        class OldDet(BaseDetector):  # noqa: F841
            def _fit(self, X, ids, *, hashes, labels):
                raise AssertionError
    with pytest.raises(TypeError, match="unknown pool fields"):
        class Wrong(BaseSelector):  # noqa: F841
            requires = frozenset({"colour"})


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_detector_flags_and_requires_agree(name):
    cls = DETECTORS[name]
    assert cls.requires_labels == ("labels" in cls.requires)
    assert cls.requires_hashes == ("content_hashes" in cls.requires)


def test_detectors_accept_a_pool(rng):
    X = rng.normal(size=(40, 4)).astype(np.float32)
    X[7] = X[3]
    ids = [f"{i:02d}" for i in range(40)]
    hashes = [f"h{i}" for i in range(40)]
    hashes[7] = hashes[3]
    by_pool = DETECTORS["exact-duplicates"]().fit(Pool(X, ids, content_hashes=hashes)).issues_
    by_args = DETECTORS["exact-duplicates"]().fit(X, ids=ids, hashes=hashes).issues_
    assert by_pool.to_csv() == by_args.to_csv() and by_pool.flagged_ids() == ["07"]
    with pytest.raises(InputError, match="ExactDuplicateDetector needs content hashes"):
        DETECTORS["exact-duplicates"]().fit(Pool(X, ids))
