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


# --- repetitive pools -------------------------------------------------------------------

from labelscout.strategies.auto import REPETITIVE_REGIMES, TYPICLUST_MAX_CLUSTERS, choose_repetitive  # noqa: E402


def _copy_pool(groups: int, copies: int, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """groups x copies near-identical rows and each row's group."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(groups, dim))
    X = np.repeat(base, copies, 0) + 0.05 * rng.normal(size=(groups * copies, dim))
    return X.astype(np.float32), np.repeat(np.arange(groups), copies)


def test_repetitive_regimes_are_ordered_and_name_registered_strategies():
    bounds = [r.max_ratio for r in REPETITIVE_REGIMES]
    assert bounds == sorted(bounds) and bounds[-1] == float("inf")
    assert all(r.strategy in STRATEGIES and r.strategy != "auto" and r.why for r in REPETITIVE_REGIMES)


@pytest.mark.parametrize("n,groups,labeled,expected", [
    (100, 1000, 0, "typiclust"), (500, 1000, 0, "typiclust"), (501, 1000, 0, "coreset"),
    (400, 1000, 200, "coreset"), (3000, 100_000, 0, "typiclust"),
    (TYPICLUST_MAX_CLUSTERS + 1, 100_000, 0, "coreset"),  # k-means over that many clusters is too slow
])
def test_repetitive_choice_follows_the_budget_per_group(n, groups, labeled, expected):
    regime, ratio = choose_repetitive(n, groups, labeled)
    assert regime.strategy == expected and ratio == pytest.approx((n + labeled) / groups)


@pytest.mark.parametrize("n,expected", [(20, "typiclust"), (100, "coreset")])
def test_a_repetitive_pool_is_seen_and_its_choice_explained(n, expected):
    X, group = _copy_pool(120, 10)
    sel = AutoSelector(n, seed=1).fit(X)
    check_selection(sel, X.shape[0], n, [])
    rep = sel.choice_["repetition"]
    assert rep["repetitive"] and rep["groups"] == sel.repetition_.groups and rep["why"]
    assert 60 <= rep["groups"] <= 130  # 120 true groups; the estimate may count neighbouring groups as copies
    regime, ratio = choose_repetitive(n, rep["groups"])
    assert sel.choice_["strategy"] == regime.strategy == expected
    assert sel.choice_["regime"].startswith("budget per estimated group")
    assert all(r.startswith(f"auto -> {expected} (repetitive pool") for r in sel.reasons_)
    inner = STRATEGIES[expected](n=n, seed=1, **regime.params).fit(X)
    assert np.array_equal(sel.selected_, inner.selected_)
    # what the user gets: no scene is picked twice while unpicked scenes are left
    assert len(set(group[sel.selected_])) == n


def test_ignoring_repetition_keeps_the_budget_ratio_table():
    X, _ = _copy_pool(120, 10)
    sel = AutoSelector(20, seed=1, repetition="ignore").fit(X)
    assert sel.repetition_ is None and sel.choice_["repetition"] == "ignored"
    assert sel.choice_["strategy"] == choose(20, X.shape[0])[0].strategy
    assert sel.choice_["regime"].startswith("budget ratio")


def test_a_plain_pool_records_that_it_was_checked():
    X = np.random.default_rng(5).normal(size=(600, 12)).astype(np.float32)
    sel = AutoSelector(30).fit(X)
    assert not sel.repetition_.repetitive and sel.choice_["repetition"]["ratio"] > 0.9
    assert sel.choice_["strategy"] == choose(30, 600)[0].strategy


def test_repetition_option_is_validated():
    from labelscout.errors import ConfigError

    with pytest.raises(ConfigError, match="repetition"):
        AutoSelector(10, repetition="sometimes").fit(np.zeros((50, 4), np.float32))
