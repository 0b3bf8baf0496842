"""``review export``: corrections.csv and a corrected labels file that select / inspect read."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labelscout
from labelscout.embed.store import EmbeddingSet
from labelscout.errors import InputError
from labelscout.review import DecisionStore, export_review, open_review
from labelscout.review.export import CORRECTIONS_COLUMNS
from labelscout.sources.labels import labels_from_csv
from _cli import run_cli

IDS = [f"k{i % 3}/{i:03d}.jpg" for i in range(9)]
GIVEN = [f"k{i % 3}" for i in range(9)]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.sampled_from(["correct", "wrong", "unmarked"]),
                          st.sampled_from([None, "k0", "k1", "k2"])), max_size=15))
def test_corrected_labels_apply_exactly_the_last_word_of_one_reviewer(tmp_path_factory, marks):
    run = tmp_path_factory.mktemp("run")
    store = DecisionStore(run, IDS, GIVEN)
    last: dict[str, tuple[str, str | None]] = {}
    for i, verdict, new in marks:
        new = None if new == GIVEN[i] else new
        store.record("ann", [(IDS[i], verdict, new)])
        last[IDS[i]] = (verdict, new)
    result = export_review(run, run / "out" / "labels.csv")
    expect = {}
    for sid, g in zip(IDS, GIVEN):
        verdict, new = last.get(sid, ("unmarked", None))
        expect[sid] = g if verdict in ("unmarked", "correct") else new  # wrong without a class: unlabeled
    assert dict(zip(IDS, labels_from_csv(result.labels, IDS))) == expect
    rows = _rows(result.corrections)
    assert tuple(_rows(result.corrections)[0].keys()) == CORRECTIONS_COLUMNS if rows else True
    assert {r["id"] for r in rows} == {s for s, (v, _) in last.items() if v != "unmarked"}
    assert result.counts["reviewed"] == len(rows)


def test_exporting_onto_the_users_label_file_is_refused(tmp_path):
    from _review_data import make_dataset

    data = make_dataset(tmp_path / "data")
    open_review(data.root, out=tmp_path / "run", labels=str(data.labels), embeddings=data.embeddings, method="knn").close()
    before = data.labels.read_bytes()
    with pytest.raises(InputError, match="never overwritten"):
        export_review(tmp_path / "run", data.labels)
    with pytest.raises(InputError, match="never overwritten"):
        export_review(tmp_path / "run", tmp_path / "x.csv", corrections=data.labels)
    assert data.labels.read_bytes() == before
    with pytest.raises(InputError, match="not a review run folder"):
        export_review(tmp_path / "data", tmp_path / "y.csv")


def test_cli_export_feeds_select_and_inspect(tmp_path, capsys):
    from _review_data import make_dataset

    data = make_dataset(tmp_path / "data")
    run = tmp_path / "run"
    session = open_review(data.root, out=run, labels=str(data.labels), embeddings=data.embeddings, method="knn", reviewer="ann")
    wrong = sorted(data.wrong)
    session.mark(None, [{"sample": s, "verdict": "wrong", "new": data.truth[data.ids.index(s)]} for s in wrong[:-1]]
                 + [{"sample": wrong[-1], "verdict": "wrong"}])
    session.close()
    code, out, err = run_cli(["review", "export", run, "--out", tmp_path / "fixed.csv"], capsys)
    assert code == 0, err
    assert "8 relabeled, 1 wrong without a class" in out
    assert len(_rows(tmp_path / "corrections.csv")) == 9
    # the corrected file is a --labels file: inspect's label-error detector and select's balance read it
    emb = EmbeddingSet(np.load(data.embeddings), data.ids, model_id="colour-stats")
    res = labelscout.inspect(emb, detectors=["label-errors"], labels=str(tmp_path / "fixed.csv"), progress=False)
    assert res.record.extra["labels_source"] == f"csv:{tmp_path / 'fixed.csv'}"
    assert res.issues.counts()["label_error"]["flagged"] == 0  # nothing left to find once corrected
    sel = labelscout.select(emb, 6, strategy="balance", labels=str(tmp_path / "fixed.csv"), progress=False)
    corrected = dict(zip(data.ids, labels_from_csv(tmp_path / "fixed.csv", data.ids)))
    assert dict(zip(sel.selection.ids, sel.selection.extra_columns["label"])) == {i: corrected[i] for i in sel.selection.ids}
    assert {corrected[i] for i in data.ids} == {"blue", "green", "red", None}


def test_cli_refuses_another_host_without_a_token(tmp_path, capsys):
    code, _, err = run_cli(["review", str(tmp_path), "--out", tmp_path / "run", "--host", "0.0.0.0", "--no-browser"], capsys)
    assert code == 1 and "needs --token" in err and "hint" in err
