"""The decision store: append-only, per-reviewer current state, conflicts, durability."""
from __future__ import annotations

import sqlite3
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError, InputError
from labelscout.review.store import DecisionStore, conflicting, outcome

IDS = [f"c{i % 3}/{i:03d}.jpg" for i in range(12)]
GIVEN = [f"c{i % 3}" for i in range(12)]
CLASSES = ["c0", "c1", "c2"]


def test_marks_are_rows_with_reviewer_time_old_and_new_label(tmp_path):
    store = DecisionStore(tmp_path, IDS, GIVEN)
    rows = store.record("ann", [(IDS[0], "wrong", "c2"), (IDS[1], "correct", "c0")])
    assert [r.seq for r in rows] == [1, 2]
    assert (rows[0].sample, rows[0].reviewer, rows[0].verdict, rows[0].old_label, rows[0].new_label) == (IDS[0], "ann", "wrong", "c0", "c2")
    assert rows[1].new_label is None and rows[1].time.endswith("Z")
    assert store.since(1) == rows[1:]
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 2


def test_a_bad_mark_writes_nothing_of_its_batch(tmp_path):
    store = DecisionStore(tmp_path, IDS, GIVEN)
    with pytest.raises(InputError, match="not a sample"):
        store.record("ann", [(IDS[0], "wrong", "c2"), ("elsewhere.jpg", "wrong", None)])
    with pytest.raises(InputError, match="verdict"):
        store.record("ann", [(IDS[0], "maybe", None)])
    with pytest.raises(InputError, match="same label"):
        store.record("ann", [(IDS[0], "wrong", "c0")])
    with pytest.raises(InputError, match="reviewer"):
        store.record(" ", [(IDS[0], "correct", None)])
    assert store.since(0) == []


def test_reopening_resumes_and_refuses_other_labels(tmp_path):
    DecisionStore(tmp_path, IDS, GIVEN).record("ann", [(IDS[3], "wrong", None)])
    again = DecisionStore(tmp_path, IDS, GIVEN)
    assert [d.sample for d in again.since(0)] == [IDS[3]]
    assert DecisionStore(tmp_path).ids == IDS  # export opens it without knowing the samples
    with pytest.raises(ConfigError, match="1 of the given labels differ"):
        DecisionStore(tmp_path, IDS, ["c1"] + GIVEN[1:])
    with pytest.raises(ConfigError, match="samples differ"):
        DecisionStore(tmp_path, IDS[:5], GIVEN[:5])
    with pytest.raises(InputError, match="not a review run folder"):
        DecisionStore(tmp_path / "nothing")


mark = st.tuples(st.sampled_from(["ann", "bob"]), st.integers(0, 5), st.sampled_from(["correct", "wrong", "unmarked"]),
                 st.sampled_from([None, *CLASSES]))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(mark, min_size=1, max_size=3), max_size=12))
def test_current_state_is_the_replay_of_every_reviewers_last_word(tmp_path_factory, batches):
    store = DecisionStore(tmp_path_factory.mktemp("store"), IDS, GIVEN)
    expected: dict[tuple[str, str], tuple[str, str | None]] = {}
    for batch in batches:
        marks = []
        for reviewer, i, verdict, new in batch:
            if verdict == "wrong" and new == GIVEN[i]:
                new = None
            marks.append((IDS[i], verdict, new))
        # one reviewer per batch, like one request of one page
        store.record(batch[0][0], marks)
        for sample, verdict, new in marks:
            key = (sample, batch[0][0])
            if verdict == "unmarked":
                expected.pop(key, None)
            else:
                expected[key] = (verdict, new if verdict == "wrong" else None)
    got = {(s, r): (d.verdict, d.new_label) for s, by in store.current().items() for r, d in by.items()}
    assert got == expected
    assert [d.seq for d in store.since(0)] == list(range(1, sum(len(b) for b in batches) + 1))  # nothing rewritten


def _decision(store, reviewer, verdict, new=None, i=0):
    return store.record(reviewer, [(IDS[i], verdict, new)])[0]


@pytest.mark.parametrize("a, b, conflict", [
    (("correct", None), ("correct", None), False),
    (("wrong", "c1"), ("wrong", "c1"), False),
    (("wrong", None), ("wrong", "c1"), False),   # the second only adds the class
    (("wrong", "c1"), ("wrong", "c2"), True),
    (("correct", None), ("wrong", None), True),
    (("correct", None), ("wrong", "c2"), True),
])
def test_conflicts_are_disagreeing_outcomes(tmp_path, a, b, conflict):
    store = DecisionStore(tmp_path, IDS, GIVEN)
    da, db = _decision(store, "ann", *a), _decision(store, "bob", *b)
    assert conflicting([da, db]) is conflict
    assert outcome(da) == ("c0" if a[0] == "correct" else (a[1] or ""))
    assert set(store.current()[IDS[0]]) == {"ann", "bob"}  # neither overwrote the other


def _write_marks(path, reviewer, n):
    store = DecisionStore(path, IDS, GIVEN)
    for k in range(n):
        store.record(reviewer, [(IDS[k % len(IDS)], "correct", None)])
    store.close()


def test_two_writers_share_one_store_and_both_see_everything(tmp_path):
    """Two stores on one file (two servers; separate connections lock the file the same way
    separate processes do; the kill test runs a real second process)."""
    DecisionStore(tmp_path, IDS, GIVEN).close()
    threads = [threading.Thread(target=_write_marks, args=(tmp_path, name, 40)) for name in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    rows = DecisionStore(tmp_path).since(0)
    assert len(rows) == 80 and sorted({r.reviewer for r in rows}) == ["ann", "bob"]
    assert [r.seq for r in rows] == list(range(1, 81))
