"""auto: the regime table picks the strategy by budget ratio, the picks are exactly the
chosen strategy's, and the choice is said in choice_, the reasons and run.json."""
from __future__ import annotations

import json

import numpy as np
import pytest

from labelscout.strategies import STRATEGIES, AutoSelector
from labelscout.strategies.auto import REGIMES, choose

from _selection_contract import check_selection


def test_regimes_are_ordered_and_name_registered_strategies():
    bounds = [r.max_ratio for r in REGIMES]
    assert bounds == sorted(bounds) and bounds[-1] == float("inf")
    assert all(r.strategy in STRATEGIES and r.strategy != "auto" and r.why for r in REGIMES)


@pytest.mark.parametrize("n,N,labeled", [(10, 1000, 0), (50, 1000, 0), (51, 1000, 0), (40, 1000, 20), (900, 1000, 0)])
def test_choice_follows_the_ratio(n, N, labeled):
    regime, ratio = choose(n, N, labeled)
    assert ratio == pytest.approx((n + labeled) / N)
    first = next(r for r in REGIMES if ratio <= r.max_ratio)
    assert regime == first


@pytest.mark.parametrize("n", [5, 40, 120])
def test_picks_equal_the_chosen_strategy(n):
    rng = np.random.default_rng(n)
    X = (rng.normal(size=(400, 6)) + 4 * rng.integers(0, 5, size=(400, 1))).astype(np.float32)
    excluded = [1, 2, 3]
    sel = AutoSelector(n, seed=3).fit(X, exclude=excluded)
    check_selection(sel, 400, n, excluded)
    regime, ratio = choose(n, 400, 3)
    inner = STRATEGIES[regime.strategy](n=n, seed=3, **regime.params).fit(X, exclude=excluded)
    assert np.array_equal(sel.selected_, inner.selected_)
    assert sel.choice_["strategy"] == regime.strategy and sel.choice_["why"] == regime.why
    assert all(r.startswith(f"auto -> {regime.strategy}") for r in sel.reasons_)
    assert [r.split(": ", 1)[1] for r in sel.reasons_] == inner.reasons_


def test_select_defaults_to_auto_and_records_the_choice(tmp_path):
    from labelscout import api
    from labelscout.embed.store import EmbeddingSet

    rng = np.random.default_rng(0)
    emb = EmbeddingSet(rng.normal(size=(300, 8)).astype(np.float32), [f"img/{i}.jpg" for i in range(300)])
    res = api.select(emb, 12, out=tmp_path / "run", report=False)
    assert res.selection.strategy == "auto"
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    choice = run["selection"]["choice"]
    assert choice["strategy"] == choose(12, 300)[0].strategy and choice["budget_ratio"] == pytest.approx(0.04)
    csv = (tmp_path / "run" / "selection.csv").read_text()
    assert f"auto -> {choice['strategy']}" in csv
