"""Viewing orders of the review benchmark against slow, obvious references."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.bench.review_order import found_curve, per_class_order, viewed_to_find


def _reference_order(scores, given):
    """Walk every class in step: at each step f, each class shows its images ranked up to f."""
    items = []
    for c in sorted(set(given)):
        idx = [i for i in range(len(given)) if given[i] == c]
        ranked = sorted(idx, key=lambda i: (-scores[i], i))
        items += [((r + 1) / len(ranked), c, i) for r, i in enumerate(ranked)]
    return [i for _, _, i in sorted(items)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0, 1), st.booleans()), min_size=1, max_size=40))
def test_per_class_order_matches_the_reference_and_curves_are_counts(rows):
    given_labels = np.array([r[0] for r in rows])
    scores = np.array([r[1] for r in rows])
    is_error = np.array([r[2] for r in rows])
    order = per_class_order(scores, given_labels)
    assert order.tolist() == _reference_order(scores.tolist(), given_labels.tolist())
    curve = found_curve(order, is_error)
    assert curve[-1] == is_error.sum() and (np.diff(curve) >= 0).all()
    if is_error.any():
        f = viewed_to_find(order, is_error, 0.5)
        k = int(round(f * len(rows)))
        assert curve[k - 1] >= np.ceil(0.5 * is_error.sum()) and (k == 1 or curve[k - 2] < np.ceil(0.5 * is_error.sum()))
