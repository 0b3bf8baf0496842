"""Every registered strategy keeps the selection contract on the same random input: unique
in-range picks in pick order, exactly n, excluded never picked, a score and a reason per
pick, the same picks for the same seed, and prefixes where it claims prefix consistency."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError
from labelscout.strategies import STRATEGIES, get_strategy

from _selection_contract import LABELED, REQUIRED, check_selection

#: pool samples a strategy may not pick besides the excluded ones
BLOCKED = {"similarity": [0, 1], "fisher-match": [0, 1], "density-match": [0, 1]}


def _pool(n_pool=90, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n_pool, d)) + 4 * rng.integers(0, 3, size=(n_pool, 1))).astype(np.float32)
    labels = [f"c{i % 4}" for i in range(n_pool)]
    return X, labels


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_contract(name):
    X, labels = _pool()
    excluded = [3, 10, 11, 50]
    make = lambda n: get_strategy(name, n=n, **REQUIRED.get(name, {}))
    sel = make(20).fit(X, exclude=excluded, labels=labels)
    check_selection(sel, len(X), 20, excluded + BLOCKED.get(name, []))
    again = make(20).fit(X, exclude=excluded, labels=labels)
    assert np.array_equal(sel.selected_, again.selected_)
    assert np.array_equal(sel.scores_, again.scores_) and sel.reasons_ == again.reasons_
    if STRATEGIES[name].prefix_consistent:
        for m in (1, 7, 19):
            assert np.array_equal(make(m).fit(X, exclude=excluded, labels=labels).selected_, sel.selected_[:m])
    ids = [f"img/{i}.jpg" for i in range(len(X))]
    by_id = make(20).fit(X, exclude=[ids[i] for i in excluded], ids=ids, labels=labels)
    assert np.array_equal(by_id.selected_, sel.selected_)
    selection = by_id.to_selection(ids)
    assert selection.ids == [ids[i] for i in sel.selected_] and selection.strategy == name


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_budget_forms_and_whole_pool(name):
    X, labels = _pool(40)
    blocked = len(BLOCKED.get(name, []))
    sel = get_strategy(name, n="25%", **REQUIRED.get(name, {})).fit(X, labels=labels, exclude=LABELED.get(name))
    assert len(sel.selected_) == 10
    everything = get_strategy(name, n=40 - blocked - 2, **REQUIRED.get(name, {})).fit(X, exclude=[38, 39], labels=labels)
    check_selection(everything, 40, 40 - blocked - 2, [38, 39] + BLOCKED.get(name, []))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_bad_parameter_names_the_class(name):
    cls = STRATEGIES[name]
    with pytest.raises(ConfigError, match=f"The 'n' parameter"):
        get_strategy(name, n=-1, **REQUIRED.get(name, {})).fit(*_pool()[:1], labels=_pool()[1])
    assert cls.name == name


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(STRATEGIES)), n_pool=st.integers(6, 50), data=st.data())
def test_properties_on_random_pools(name, n_pool, data):
    X = np.random.default_rng(n_pool).normal(size=(n_pool, 3)).astype(np.float32)
    labels = [i % 3 for i in range(n_pool)]
    blocked = BLOCKED.get(name, [])
    excluded = data.draw(st.lists(st.integers(2, n_pool - 1), max_size=n_pool - 4, unique=True))
    if not excluded and name in LABELED:
        excluded = [n_pool - 1]
    n = data.draw(st.integers(1, n_pool - len(excluded) - len(blocked)))
    sel = get_strategy(name, n=n, **REQUIRED.get(name, {})).fit(X, exclude=excluded or None, labels=labels)
    check_selection(sel, n_pool, n, excluded + blocked)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_is_documented_in_the_readme(name):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert re.search(rf"`[^`\n]*(?<![\w-]){re.escape(name)}(?![\w-])[^`\n]*`", readme), \
        f"README.md does not name the strategy {name!r} in code"
