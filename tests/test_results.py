"""Result tables round-trip through their CSV forms and keep their invariants."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelscout.results import Issues, Selection
from labelscout.runs.ids import parse_id_lines

# any text at all: newlines, control characters, lone surrogates (file-name bytes that are not UTF-8)
_ids = st.lists(st.text(alphabet=st.characters(blacklist_categories=()), min_size=1, max_size=12), min_size=0,
                max_size=20, unique=True)


@given(ids=_ids, data=st.data())
def test_selection_csv_round_trip(ids, data):
    scores = data.draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=len(ids), max_size=len(ids)))
    reasons = [f"reason, with \"quotes\" {i}" for i in range(len(ids))]
    sel = Selection(ids, np.arange(len(ids)), scores, reasons, extra_columns={"label": [f"c{i % 3}" for i in range(len(ids))]})
    back = Selection.from_csv(sel.to_csv())
    assert back.ids == ids and back.reasons == reasons
    assert np.allclose(back.scores, np.asarray(scores, dtype=np.float64), rtol=1e-5, atol=1e-30)
    assert back.extra_columns["label"] == sel.extra_columns["label"]
    assert parse_id_lines(sel.to_txt()) == ids
    assert len(sel.to_txt().split("\n")) == len(ids) + 1  # one line per id
    sel.to_csv().encode("utf-8")  # writable as UTF-8 whatever the ids hold


def test_selection_head_is_prefix():
    sel = Selection(list("abcd"), [3, 1, 0, 2], [np.inf, 2.0, 1.0, 0.5], ["r"] * 4)
    h = sel.head(2)
    assert h.ids == ["a", "b"] and h.indices.tolist() == [3, 1]
    assert Selection.from_csv(sel.to_csv()).scores[0] != Selection.from_csv(sel.to_csv()).scores[0]  # inf written as empty -> NaN


def test_selection_column_lengths_checked():
    with pytest.raises(ValueError, match="differ in length"):
        Selection(["a"], [0, 1], [0.0], ["r"])


def test_issues_round_trip_and_counts():
    a = Issues.from_rows("near_duplicate", ["x", "y"], [0.9, 0.1], [True, False], [{"nn": "y", "d": 0.01}, {"nn": "x", "d": 0.01}])
    b = Issues.from_rows("outlier", ["z"], [1.0], [True], [{"knn_distance": 3.5}])
    both = Issues.concat([a, b])
    back = Issues.from_csv(both.to_csv())
    assert back.ids == ["x", "y", "z"] and back.evidence == both.evidence
    assert back.flag.tolist() == [True, False, True]
    assert both.counts() == {"near_duplicate": {"rows": 2, "flagged": 1}, "outlier": {"rows": 1, "flagged": 1}}
    assert both.flagged_ids("outlier") == ["z"] and len(both.of("near_duplicate")) == 2


def test_issue_scores_must_lie_in_unit_interval():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Issues.from_rows("outlier", ["a"], [1.5], [True], [{}])


def test_issues_index_like_a_table_and_repr_stays_short():
    import numpy as np

    from labelscout.results import Issues

    ids = [f"img/{i:05d}.jpg" for i in range(5000)]
    iss = Issues.from_rows("outlier", ids, np.linspace(0, 1, 5000), [i % 7 == 0 for i in range(5000)], [{}] * 5000)
    iss.failures = [{"detector": "x", "error": "boom"}]
    assert iss[3].ids == [ids[3]] and iss[-1].ids == [ids[-1]] and len(iss[:10]) == 10
    assert iss[[4, 2]].ids == [ids[4], ids[2]] and iss[iss.flag].ids == iss.flagged_ids()
    assert iss[iss.flag].failures == iss.failures
    with pytest.raises(IndexError):
        iss[5000]
    text = repr(iss)
    assert text == "Issues(5000 rows; outlier: 715/5000 flagged, 1 detector failure(s))" and len(text) < 100
