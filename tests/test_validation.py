"""Parameter and input validation: messages name the parameter, the rule and the value."""
from __future__ import annotations

import numbers

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelscout._validation import Interval, Options, check_embeddings, resolve_n, validate_params
from labelscout.errors import ConfigError, InputError


def test_options_message():
    with pytest.raises(ConfigError) as info:
        validate_params("CoresetSelector", {"metric": "cosin"}, {"metric": [Options({"l2", "cosine"})]})
    assert str(info.value) == "The 'metric' parameter of CoresetSelector must be one of {'cosine', 'l2'}. Got 'cosin' instead."


@pytest.mark.parametrize("value,ok", [(1, True), (0, False), (2.5, False), (True, False), (None, True), ("3", False)])
def test_interval_with_none(value, ok):
    rules = {"k": [Interval(numbers.Integral, 1, None), None]}
    if ok:
        validate_params("X", {"k": value}, rules)
    else:
        with pytest.raises(ConfigError, match=r"The 'k' parameter of X must be an int in the range \[1, inf\] or None"):
            validate_params("X", {"k": value}, rules)


@pytest.mark.parametrize("closed,left_ok,right_ok", [("both", True, True), ("left", True, False), ("right", False, True), ("neither", False, False)])
def test_interval_bounds(closed, left_ok, right_ok):
    iv = Interval(numbers.Real, 0.0, 1.0, closed=closed)
    assert iv.accepts(0.0) == left_ok and iv.accepts(1.0) == right_ok and iv.accepts(0.5)
    assert not iv.accepts(float("nan"))


def test_check_embeddings_shapes_in_messages():
    with pytest.raises(InputError, match=r"got shape \(5,\)"):
        check_embeddings(np.zeros(5))
    with pytest.raises(InputError, match=r"3 rows \(shape \(3, 2\)\) but 2 ids"):
        check_embeddings(np.zeros((3, 2)), ids=["a", "b"])
    with pytest.raises(InputError, match="zero features"):
        check_embeddings(np.zeros((3, 0)))
    with pytest.raises(InputError, match="must hold numbers"):
        check_embeddings(np.array([["a", "b"]]))
    x = np.zeros((4, 2), np.float32)
    x[2, 0] = np.inf
    with pytest.raises(InputError, match="1 row\\(s\\) with NaN or infinite values, e.g. 'c'"):
        check_embeddings(x, ids=list("abcd"))
    assert check_embeddings(np.zeros((2, 2), np.int64)).dtype == np.float32


@given(pool=st.integers(1, 10_000), frac=st.floats(0.0001, 1.0))
def test_fraction_budget_is_in_range(pool, frac):
    n = resolve_n(frac, pool)
    assert 1 <= n <= pool


@given(pool=st.integers(1, 1000), pct=st.integers(1, 100))
def test_percentage_budget(pool, pct):
    assert resolve_n(f"{pct}%", pool) == max(1, round(pct / 100 * pool))


def test_budget_larger_than_available_names_both_numbers():
    with pytest.raises(InputError, match="the pool has 100 samples, 30 of them already labeled/excluded, so at most 70"):
        resolve_n(80, 100, available=70)
