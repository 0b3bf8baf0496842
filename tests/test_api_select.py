"""The select job end to end through the Python API: run folder contract, exclude, labels,
copy/link, determinism, and errors that name what to do."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

import labelscout
from labelscout.errors import ConfigError, InputError

from _image_corpus import build_corpus


def _select(src, model, out, **kw):
    kw.setdefault("n", 10)
    return labelscout.select(src, out=out, model=str(model), device="cpu", workers=0, progress=False, **kw)


def test_run_folder_contract(cifar_sample, small_model_dir, tmp_path):
    out = tmp_path / "run"
    res = _select(cifar_sample, small_model_dir, out)
    lines = (out / "selection.txt").read_text().splitlines()
    assert lines == res.selection.ids and len(lines) == 10 and len(set(lines)) == 10
    rows = list(csv.DictReader(open(out / "selection.csv")))
    assert [r["id"] for r in rows] == lines
    assert [int(r["rank"]) for r in rows] == list(range(10))
    assert {"id", "rank", "score", "reason", "label"} <= set(rows[0])
    assert {r["label"] for r in rows} <= {"airplane", "cat", "ship"}
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "finished" and run["counts"]["pool"] == 60 and run["counts"]["selected"] == 10
    assert run["seed"] == 0 and run["versions"]["torch"] and run["device"] == "cpu"
    assert run["embedding"]["fingerprint"]["weights_sha256"]
    assert run["timings_s"]["embed"] > 0 and "select" in run["timings_s"]
    emb = labelscout.EmbeddingSet.load(out / "embeddings")
    assert emb.ids == res.embeddings.ids and emb.vectors.shape == (60, 16)


def test_same_seed_same_selection_and_prefix_property(cifar_sample, small_model_dir, tmp_path):
    # coreset by name: the prefix property is coreset's (auto, the default, follows the budget)
    a = _select(cifar_sample, small_model_dir, tmp_path / "a", n=12, strategy="coreset")
    b = _select(cifar_sample, small_model_dir, tmp_path / "b", n=12, strategy="coreset")
    assert a.selection.ids == b.selection.ids
    small = _select(cifar_sample, small_model_dir, tmp_path / "c", n=5, strategy="coreset")
    assert small.selection.ids == a.selection.ids[:5]
    assert (tmp_path / "a" / "selection.csv").read_text() == (tmp_path / "b" / "selection.csv").read_text()


@pytest.mark.parametrize("n,expected", [("10%", 6), (0.5, 30), ("0.25", 15), (7, 7), ("100%", 60)])
def test_budget_forms(cifar_sample, small_model_dir, tmp_path, n, expected):
    res = _select(cifar_sample, small_model_dir, tmp_path / "r", n=n, strategy="random")
    assert len(res.selection) == expected


@pytest.mark.parametrize("n,exc,match", [
    (61, InputError, "at most 60"), (0, ConfigError, "'n' parameter"), ("150%", ConfigError, "percentage"),
    ("lots", ConfigError, "count"), (-3, ConfigError, "'n' parameter"),
])
def test_bad_budgets_are_explained(cifar_sample, small_model_dir, tmp_path, n, exc, match):
    with pytest.raises(exc, match=match):
        _select(cifar_sample, small_model_dir, tmp_path / "r", n=n)


def test_exclude_file_ids_are_never_picked_and_count_as_covered(cifar_sample, small_model_dir, tmp_path):
    full = _select(cifar_sample, small_model_dir, tmp_path / "full", n=8)
    labeled = full.selection.ids[:3]
    (tmp_path / "labeled.txt").write_text("\n".join(labeled + ["not/in/pool.jpg"]) + "\n")
    res = _select(cifar_sample, small_model_dir, tmp_path / "r", n=5, exclude=tmp_path / "labeled.txt")
    assert not set(res.selection.ids) & set(labeled)
    # greedy k-center with the first 3 picks given continues exactly where it left off
    assert res.selection.ids == full.selection.ids[3:8]
    assert res.record.counts["excluded"] == 3 and res.record.counts["excluded_not_in_pool"] == 1


def test_labels_from_csv(cifar_sample, small_model_dir, tmp_path):
    ids = sorted(p.relative_to(cifar_sample).as_posix() for p in cifar_sample.rglob("*.jpg"))
    with open(tmp_path / "labels.csv", "w") as fh:
        fh.write("path,label\n" + "".join(f"{i},L{k % 4}\n" for k, i in enumerate(ids)))
    res = _select(cifar_sample, small_model_dir, tmp_path / "r", labels=str(tmp_path / "labels.csv"))
    assert set(res.selection.extra_columns["label"]) <= {"L0", "L1", "L2", "L3"}
    assert res.record.extra["labels_source"].startswith("csv:")


@pytest.mark.parametrize("place", ["copy", "link"])
def test_copy_and_link_keep_relative_paths(cifar_sample, small_model_dir, tmp_path, place):
    out = tmp_path / "r"
    res = _select(cifar_sample, small_model_dir, out, place=place)
    for sid in res.selection.ids:
        dst = out / "selected" / sid
        assert dst.is_file() and dst.read_bytes() == (cifar_sample / sid).read_bytes()
        assert dst.is_symlink() == (place == "link")
    # a second run into the same folder neither fails nor re-copies
    again = _select(cifar_sample, small_model_dir, out, place=place)
    assert again.record.counts["placed_files"] == 0


def test_run_folder_inside_the_data_is_refused_and_an_old_one_is_not_rescanned(cifar_sample, small_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="lies inside the input folder"):
        _select(cifar_sample, small_model_dir, cifar_sample / "runs" / "first")
    assert not (cifar_sample / "runs").exists()  # nothing was written into the data
    # a run folder that already lies in the data (moved there, or written by an older version) is not scanned
    out = tmp_path / "first"
    _select(cifar_sample, small_model_dir, out, place="copy")
    shutil.copytree(out, cifar_sample / "runs" / "first")
    res = _select(cifar_sample, small_model_dir, tmp_path / "second")
    assert len(res.embeddings) == 60  # the copies in runs/first/selected were not picked up


def test_bad_files_listed_in_run_json_and_summary(tmp_path, small_model_dir):
    folder = tmp_path / "corpus"
    expected = build_corpus(folder)
    out = tmp_path / "r"
    res = _select(folder, small_model_dir, out, n=3)
    run = json.loads((out / "run.json").read_text())
    bad = {r for r, o in expected.items() if o != "ok"}
    assert {s["id"] for s in run["skipped"]} == bad
    assert all(s["reason"] and s["detail"] for s in run["skipped"])
    assert sum(run["skipped_summary"].values()) == len(bad)
    assert f"skipped {len(bad)} unreadable" in res.summary()


def test_empty_folder_is_a_clear_error(tmp_path, small_model_dir):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("x")
    with pytest.raises(InputError, match="No images"):
        _select(tmp_path / "empty", small_model_dir, tmp_path / "r")


def test_only_bad_files_is_a_clear_error(tmp_path, small_model_dir):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="all 1 files were skipped"):
        _select(tmp_path / "bad", small_model_dir, tmp_path / "r", n=1)
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run["status"] == "failed" and "skipped" in run["error"]


def test_selecting_from_saved_embeddings(cifar_sample, small_model_dir, tmp_path):
    first = _select(cifar_sample, small_model_dir, tmp_path / "a", n=10)
    again = labelscout.select(tmp_path / "a" / "embeddings", n=10, out=tmp_path / "b", progress=False)
    assert again.selection.ids == first.selection.ids


def test_nan_rows_are_rejected_with_their_ids(rng):
    vec = rng.normal(size=(20, 4)).astype(np.float32)
    vec[3, 1] = np.nan
    emb = labelscout.EmbeddingSet(vec, [f"s{i}" for i in range(20)])
    with pytest.raises(InputError, match="'s3'"):
        labelscout.select(emb, n=5, progress=False)
