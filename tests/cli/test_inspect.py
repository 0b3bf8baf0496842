"""``labelscout inspect`` end to end on real images with planted duplicates."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from labelscout.results import Issues
from _cli import run_cli

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "cifar10-sample"


@pytest.fixture
def planted(tmp_path) -> Path:
    """12 example JPEGs of each of 3 classes, an exact copy of one, a re-encoded and a
    2x-resized copy of another."""
    dest = tmp_path / "imgs"
    for cls in ("cat", "ship", "truck"):
        (dest / cls).mkdir(parents=True)
        for f in sorted((EXAMPLES / cls).glob("*.jpg"))[:12]:
            shutil.copy2(f, dest / cls / f.name)
    shutil.copy2(dest / "cat" / "0003.jpg", dest / "cat" / "zz-copy.jpg")
    with Image.open(dest / "ship" / "0005.jpg") as im:
        im.convert("RGB").save(dest / "ship" / "zz-reencoded.jpg", quality=50)
        im.convert("RGB").resize((64, 64), Image.BICUBIC).save(dest / "ship" / "zz-resized.jpg", quality=95)
    return dest


def test_inspect_help(capsys):
    code, out, _ = run_cli(["inspect", "--help"], capsys)
    assert code == 0 and "--detectors" in out and "--near-dup-threshold" in out and "issues.csv" in out


def test_inspect_groups_planted_duplicates(planted, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run_cli(["inspect", planted, "--out", out, "--device", "cpu"], capsys)
    assert code == 0, err
    assert "Inspected 39 samples" in stdout and str(out / "issues.csv") in stdout
    issues = Issues.from_csv((out / "issues.csv").read_text())
    header = (out / "issues.csv").read_text().splitlines()[0]
    assert header == "id,issue,score,flag,evidence"
    exact = issues.of("exact_duplicate")
    assert sorted(exact.ids) == ["cat/0003.jpg", "cat/zz-copy.jpg"] and exact.flagged_ids() == ["cat/zz-copy.jpg"]
    near = issues.of("near_duplicate")
    groups: dict[int, set[str]] = {}
    for sid, ev in zip(near.ids, near.evidence):
        groups.setdefault(ev["group"], set()).add(sid)
        assert set(ev) == {"group", "representative", "nearest", "distance", "size"}
    assert {"cat/0003.jpg", "cat/zz-copy.jpg"} in groups.values()
    assert {"ship/0005.jpg", "ship/zz-reencoded.jpg", "ship/zz-resized.jpg"} in groups.values()
    assert len(near.flagged_ids()) == len(near) - len(groups)  # one representative kept per group
    outl = issues.of("outlier")
    assert len(outl) == 39 and outl.flag.sum() == 0  # 1 % of 39 rounds down to none
    run = json.loads((out / "inspect.json").read_text())
    assert run["status"] == "finished" and run["counts"]["pool"] == 39 and run["detector_failures"] == []
    assert run["groups"]["near-duplicates"] == len(groups) and "detect_near-duplicates" in run["timings_s"]
    assert (out / "embeddings" / "embeddings.npy").is_file()


def test_a_failing_detector_is_recorded_and_the_others_written(planted, tmp_path, capsys):
    one_class = tmp_path / "labels.csv"
    with open(one_class, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label"])
        for p in sorted(planted.rglob("*.jpg")):
            w.writerow([p.relative_to(planted).as_posix(), "cat"])
    out = tmp_path / "run"
    code, stdout, err = run_cli(["inspect", planted, "--out", out, "--device", "cpu", "-d", "outliers,label-errors",
                                 "--labels", one_class], capsys)
    assert code == 1 and "detector label-errors failed: InputError: Label errors need at least two classes" in err
    assert "label-errors failed" in stdout  # the summary line says it too
    run = json.loads((out / "inspect.json").read_text())
    assert run["status"] == "finished" and run["detector_failures"][0]["detector"] == "label-errors"
    assert len(Issues.from_csv((out / "issues.csv").read_text()).of("outlier")) == 39


def test_bad_detector_names_fail_before_embedding(planted, tmp_path, capsys):
    code, _, err = run_cli(["inspect", planted, "--out", tmp_path / "r", "-d", "duplicates"], capsys)
    assert code == 1 and "'detectors' parameter must hold names from" in err and err.count("\n") <= 2
    assert not (tmp_path / "r" / "embeddings").exists()
    code, _, err = run_cli(["inspect", planted, "--out", tmp_path / "r2", "--near-dup-threshold", "0"], capsys)
    assert code == 1 and "'threshold' parameter of NearDuplicateDetector must be a float in the range (0, inf)" in err
    code, _, err = run_cli(["inspect", planted, "--out", tmp_path / "r3", "--near-dup-ratio", "2"], capsys)
    assert code == 1 and "'ratio' parameter of NearDuplicateDetector must be a float in the range (0, 1]. Got 2.0" in err
    assert not (tmp_path / "r3" / "embeddings").exists()
