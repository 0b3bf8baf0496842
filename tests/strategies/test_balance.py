"""Balance: greedy towards a target label distribution; excluded samples count."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError, InputError
from labelscout.strategies import BalanceSelector, CoresetSelector

from _selection_contract import check_selection


def reference_counts(labels, target, excluded, n):
    """Try every label at each step; take the one whose share after the pick would fall
    furthest below its target (ties: label order)."""
    count = Counter(labels[i] for i in excluded)
    left = Counter(labels) - Counter(labels[i] for i in excluded)
    order = sorted(target)
    for _ in range(n):
        total = sum(count.values()) + 1
        best = max((lab for lab in order if left[lab] > 0), key=lambda lab: (target[lab] * total - count[lab], -order.index(lab)))
        count[best] += 1
        left[best] -= 1
    return {lab: count[lab] for lab in order}


@pytest.mark.parametrize("sizes", [(50, 50, 50), (100, 10, 40, 3), (5, 200)])
@pytest.mark.parametrize("n_excl", [0, 20])
@pytest.mark.parametrize("target", ["uniform", {"a": 0.5, "b": 0.3, "c": 0.2}])
def test_counts_match_reference(sizes, n_excl, target):
    names = "abcd"[: len(sizes)]
    labels = [names[j] for j, s in enumerate(sizes) for _ in range(s)]
    rng = np.random.default_rng(len(labels))
    X = rng.normal(size=(len(labels), 3)).astype(np.float32)
    excluded = rng.choice(len(labels), n_excl, replace=False).tolist()
    n = min(60, len(labels) - n_excl)
    sel = BalanceSelector(n, target=target).fit(X, exclude=excluded or None, labels=labels)
    check_selection(sel, len(labels), n, excluded)
    tgt = {lab: 1 / len(names) for lab in names} if target == "uniform" else \
        {lab: target.get(lab, 0.0) for lab in names}
    expect = reference_counts(labels, tgt, excluded, n)
    assert sel.label_counts_ == expect


def test_uniform_with_enough_of_each_is_balanced_in_every_prefix():
    labels = ["cat"] * 300 + ["dog"] * 30 + ["eel"] * 30
    X = np.random.default_rng(0).normal(size=(360, 2)).astype(np.float32)
    sel = BalanceSelector(60).fit(X, labels=labels)
    picked = [labels[i] for i in sel.selected_]
    for m in range(3, 61, 3):
        assert Counter(picked[:m]) == {"cat": m // 3, "dog": m // 3, "eel": m // 3}
    assert sel.reasons_[1] == "label 'dog' below target (0% < 33%)"


def test_excluded_fill_the_distribution_first():
    labels = ["a"] * 30 + ["b"] * 30
    X = np.zeros((60, 2), np.float32)
    sel = BalanceSelector(10).fit(X, exclude=list(range(10)), labels=labels)  # 10 'a' already labeled
    assert [labels[i] for i in sel.selected_] == ["b"] * 10


def test_coreset_inner_is_coreset_within_the_label():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 4)).astype(np.float32)
    labels = [i % 2 for i in range(80)]
    sel = BalanceSelector(10, inner="coreset", metric="l2").fit(X, exclude=[0, 2], labels=labels)
    even = np.arange(0, 80, 2)
    ref = CoresetSelector(5, metric="l2").fit(X[even], exclude=[0, 1])
    picked_even = [int(i) for i in sel.selected_ if i % 2 == 0]
    assert len(picked_even) == 4  # the two labeled even samples count: 6 and 6
    assert picked_even == even[ref.selected_][:4].tolist()


def test_string_target_keys_match_int_labels():
    X = np.zeros((40, 2), np.float32)
    labels = [i % 2 for i in range(40)]
    sel = BalanceSelector(8, target={"0": 3, "1": 1}).fit(X, labels=labels)
    assert Counter(labels[i] for i in sel.selected_) == {0: 6, 1: 2}


@settings(max_examples=30, deadline=None)
@given(N=st.integers(2, 60), n_labels=st.integers(1, 5), data=st.data())
def test_prefix_property(N, n_labels, data):
    X = np.random.default_rng(N).normal(size=(N, 2)).astype(np.float32)
    labels = [f"L{(i * 7) % n_labels}" for i in range(N)]
    excluded = data.draw(st.lists(st.integers(0, N - 1), max_size=N - 1, unique=True))
    n = data.draw(st.integers(1, N - len(excluded)))
    inner = data.draw(st.sampled_from(["random", "coreset"]))
    sel = BalanceSelector(n, inner=inner).fit(X, exclude=excluded or None, labels=labels)
    check_selection(sel, N, n, excluded)
    m = data.draw(st.integers(1, n))
    assert np.array_equal(BalanceSelector(m, inner=inner).fit(X, exclude=excluded or None, labels=labels).selected_,
                          sel.selected_[:m])


def test_validation():
    X = np.zeros((4, 2), np.float32)
    with pytest.raises(InputError, match="BalanceSelector needs labels"):
        BalanceSelector(2).fit(X)
    with pytest.raises(ConfigError, match="The 'target' parameter of BalanceSelector must map labels to non-negative shares"):
        BalanceSelector(2, target={"a": -1}).fit(X, labels="abab")
    with pytest.raises(ConfigError, match="The 'inner' parameter of BalanceSelector must be one of {'coreset', 'random'}"):
        BalanceSelector(2, inner="typicality").fit(X, labels="abab")
