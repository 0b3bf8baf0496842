"""The simulated active-learning loop: paired starts, exclusive picks, resumable cells, the
issue's targets stated as met or missed, on a small synthetic train/test collection."""
from __future__ import annotations

import json

import numpy as np
import pytest

from labelscout.bench.active import make_pools, run_active_benchmark
from labelscout.embed.store import EmbeddingSet
from labelscout.errors import ConfigError

from _active import class_blobs


@pytest.fixture(scope="module")
def collection():
    classes = [f"k{c}" for c in range(4)]
    X, y = class_blobs([220] * 4, d=10, sep=2.5, seed=0)
    ids, rows = [], []
    count = {}
    for i, c in enumerate(y):
        count[c] = count.get(c, 0) + 1
        split = "test" if count[c] <= 40 else "train"
        ids.append(f"{split}/{classes[c]}/{count[c]:04d}.jpg")
    return EmbeddingSet(X, ids, model_id="synthetic", fingerprint={"source": "test"})


def test_pools_hold_out_a_balanced_validation_slice():
    y = np.repeat(np.arange(4), 100)
    val, pools, rare = make_pools(y, 4, validation_per_class=10, imbalance=10, seed=0)
    assert rare == [2, 3] and np.bincount(y[val]).tolist() == [10] * 4
    assert not np.intersect1d(val, pools["balanced"]).size and not np.intersect1d(val, pools["imbalanced"]).size
    assert np.bincount(y[pools["imbalanced"]]).tolist() == [90, 90, 9, 9]
    assert pools["balanced"].size == 360


def test_loop_is_paired_resumable_and_reports_targets(tmp_path, collection):
    kw = dict(strategies=["random", "uncertainty", "fisher-match", "badge"], initial=20, step=20, rounds=2, repeats=2,
              validation_per_class=10, imbalance=10, pca_dim=None, progress=False)
    rec = run_active_benchmark(collection, tmp_path, **kw)
    assert rec["computed_now"] == 16
    machine = json.loads((tmp_path / "active.json").read_text())["machine"]
    assert machine["logical_cpus"] >= 1 and isinstance(machine["simd_flags"], list)  # the machine is on record
    cells = [json.loads(p.read_text()) for p in (tmp_path / "cells").glob("*.json")]
    for pool in ("balanced", "imbalanced"):
        for r in range(2):
            starts = {c["rounds"][0]["accuracy"] for c in cells if c["pool"] == pool and c["repeat"] == r}
            assert len(starts) == 1  # every strategy of a repeat starts from the same labels
    for c in cells:
        assert [row["labels"] for row in c["rounds"]] == [20, 40, 60]
    md = (tmp_path / "active.md").read_text()
    assert "fisher-match vs random" in md and ("MET" in md or "MISSED" in md)
    again = run_active_benchmark(collection, tmp_path, **kw)
    assert again["computed_now"] == 0
    more = run_active_benchmark(collection, tmp_path, **{**kw, "repeats": 3})
    assert more["computed_now"] == 8
    with pytest.raises(ConfigError, match="another setup"):
        run_active_benchmark(collection, tmp_path, **{**kw, "step": 10})


def test_a_combination_with_fisher_match_gets_the_validation_slice(tmp_path, collection):
    rec = run_active_benchmark(collection, tmp_path, strategies=["random", "combine"], pools=["imbalanced"],
                               strategy_params={"combine": {"strategies": {"fisher-match": 1.0, "coreset": 0.5}}},
                               initial=20, step=20, rounds=1, repeats=1, validation_per_class=10, imbalance=10,
                               pca_dim=None, progress=False)
    assert rec["computed_now"] == 2
    cell = json.loads(next((tmp_path / "cells").glob("*combine*.json")).read_text())
    assert [row["labels"] for row in cell["rounds"]] == [20, 40]


def test_density_match_gets_the_validation_slice_without_predictions(tmp_path, collection):
    rec = run_active_benchmark(collection, tmp_path, strategies=["random", "density-match"], pools=["imbalanced"],
                               initial=20, step=20, rounds=1, repeats=1, validation_per_class=10, imbalance=10,
                               pca_dim=None, progress=False)
    assert rec["computed_now"] == 2
    cell = json.loads(next((tmp_path / "cells").glob("*density-match*.json")).read_text())
    assert [row["labels"] for row in cell["rounds"]] == [20, 40]


def test_the_command_reads_json_parameters_as_select_does(tmp_path, collection, capsys):
    from _cli import run_cli

    emb = collection.save(tmp_path / "emb")
    args = ["bench", "active", emb, "--out", tmp_path / "b", "--strategies", "random,combine", "--pools", "imbalanced",
            "--initial", 20, "--step", 20, "--rounds", 1, "--repeats", 1, "--validation-per-class", 10,
            "--imbalance", 10, "--pca-dim", 0]
    code, _, err = run_cli(args + ["-p", 'combine.strategies={"fisher-match": 1, "coreset": 0.5}'], capsys)
    assert code == 0, err
    path = next((tmp_path / "b" / "cells").glob("*combine*.json"))
    assert not set(path.name) & set(" '\"{}:,")  # a dict parameter names a plain file
    cell = json.loads(path.read_text())
    assert [row["labels"] for row in cell["rounds"]] == [20, 40] and cell["params"]["strategies"]["coreset"] == 0.5
    code, _, err = run_cli(args + ["-p", "combine.strategies={oops"], capsys)
    assert code == 2 and "not valid JSON" in err
    # a second run into the same folder (another -p): both commands stay on record, oldest first
    code, _, err = run_cli(args + ["-p", 'combine.strategies={"fisher-match": 1}'], capsys)
    assert code == 0, err
    rec = json.loads((tmp_path / "b" / "active.json").read_text())
    assert len(rec["commands"]) == 2 and rec["commands"][-1] == rec["command"]
    assert '"coreset": 0.5' in rec["commands"][0] and '"coreset"' not in rec["commands"][1]
    assert {c["params"]["strategies"].get("coreset") for c in map(lambda p: json.loads(p.read_text()),
                                                                    (tmp_path / "b" / "cells").glob("*combine*.json"))} == {0.5, None}


@pytest.mark.parametrize("tag", ["random", "fisher-match-emphasis=10", "uncertainty-measure=margin"])
def test_plain_tags_keep_their_file_names(tag):
    from labelscout.bench.active import _file_safe

    assert _file_safe(tag) == tag  # cells of earlier runs resume under the same names


def test_unsafe_tags_get_distinct_plain_file_names():
    from labelscout.bench.active import _file_safe

    a, b = _file_safe("combine-strategies={'fisher-match': 1}"), _file_safe("combine-strategies={'fisher-match': 2}")
    assert a != b and all(ch.isalnum() or ch in "._=+-" for ch in a + b)
    assert len(_file_safe("x" * 400)) < 100


def test_bad_strategy_lists():
    with pytest.raises(ConfigError, match="must include 'random'"):
        run_active_benchmark("unused", "unused", strategies=["uncertainty"])
    with pytest.raises(ConfigError, match="Unknown strategies"):
        run_active_benchmark("unused", "unused", strategies=["random", "oracle"])
