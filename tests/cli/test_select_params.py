"""`labelscout select -s STRATEGY -p KEY=VALUE`: strategy parameters from the command line."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from _cli import run_cli

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cifar10-sample"


def _select(tmp_path, small_model_dir, capsys, *args):
    return run_cli(["select", SAMPLE, "--out", tmp_path / "run", "--model", small_model_dir, "--device", "cpu",
                    "--workers", "0", "--no-report", *args], capsys)


def test_typiclust_with_params(tmp_path, small_model_dir, capsys):
    code, stdout, err = _select(tmp_path, small_model_dir, capsys, "-s", "typiclust", "-n", "20", "-p", "k=20",
                                "--param", "seed=3", "--metric", "l2")
    assert code == 0, err
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["config"]["strategy_params"] == {"k": 20, "seed": 3}  # the config holds what was asked
    used = run["selection"]["params"]  # -p wins over --seed; the metric is the space's L2
    assert {k: used[k] for k in ("k", "seed", "metric")} == {"k": 20, "seed": 3, "metric": "l2"}
    rows = list(csv.DictReader(open(tmp_path / "run" / "selection.csv")))
    assert len(rows) == 20 and len({r["id"] for r in rows}) == 20
    assert rows[0]["reason"].startswith("most typical of cluster 0 (size ")


def test_json_values(tmp_path, small_model_dir, capsys):
    code, _, err = _select(tmp_path, small_model_dir, capsys, "-s", "combine", "-n", "5",
                           "-p", 'strategies={"coreset": 1, "typicality": 0.5}')
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "run" / "selection.csv")))
    assert " + typicality " in rows[0]["reason"]


@pytest.mark.parametrize("args,code_expected,needle", [
    (["-p", "bogus=1"], 1, "Strategy 'typiclust' has no parameter 'bogus'; its parameters are k, metric, n, seed."),
    (["-p", "k=0"], 1, "The 'k' parameter of TypiClustSelector must be an int in the range [1, inf]. Got 0 instead."),
    (["-p", "k"], 2, "expected KEY=VALUE"),
    (["-p", "k={oops"], 2, "not valid JSON"),
])
def test_bad_params_are_explained(tmp_path, small_model_dir, capsys, args, code_expected, needle):
    code, _, err = _select(tmp_path, small_model_dir, capsys, "-s", "typiclust", "-n", "5", *args)
    assert code == code_expected
    assert needle in " ".join(err.split())
