"""Active learning end to end on real JPEGs: predictions from a file or from labels alone,
fisher-match against a validation folder, and bad prediction files rejected before
anything is written over, with the pool untouched."""
from __future__ import annotations

import csv
import hashlib
import json
import shutil

import numpy as np
import pytest

import labelscout
from labelscout.errors import ConfigError, InputError

from _cli import run_cli


def _select(src, model, out, **kw):
    kw.setdefault("n", 8)
    return labelscout.select(src, out=out, model=str(model), device="cpu", workers=0, progress=False, report=False, **kw)


def _labeled_csv(tmp_path, ids, every=4):
    path = tmp_path / "labeled.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label"])
        for i in ids[::every]:
            w.writerow([i, i.split("/")[0]])
    return path, set(ids[::every])


def _validation_folder(cifar_root, tmp_path):
    """12 labeled CIFAR-10 test JPEGs in class folders (the pool's three classes)."""
    val = tmp_path / "val"
    for cls in ("airplane", "cat", "ship"):
        (val / cls).mkdir(parents=True)
        for f in sorted((cifar_root / "test" / cls).iterdir())[100:104]:
            shutil.copy2(f, val / cls / f.name)
    return val


def _tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_uncertainty_from_labels_alone_and_from_a_predictions_file(cifar_sample, small_model_dir, tmp_path):
    ids = sorted(str(p.relative_to(cifar_sample)) for p in cifar_sample.rglob("*.jpg"))
    labeled, known = _labeled_csv(tmp_path, ids)
    res = _select(cifar_sample, small_model_dir, tmp_path / "head", strategy="uncertainty", labels=str(labeled))
    assert not set(res.selection.ids) & known and len(res.selection) == 8
    # the same pool with the model's predictions from a file: sharp on all but three samples
    unsure = [i for i in ids if i not in known][:3]
    pred = tmp_path / "preds.csv"
    with open(pred, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "prob_airplane", "prob_cat", "prob_ship"])
        for i in ids:
            w.writerow([i, 0.34, 0.33, 0.33] if i in unsure else [i, 0.98, 0.01, 0.01])
    before = _tree_digest(cifar_sample)
    out = tmp_path / "file"
    res = _select(cifar_sample, small_model_dir, out, n=3, strategy="uncertainty", predictions=pred,
                  strategy_params={"measure": "margin"})
    assert sorted(res.selection.ids) == sorted(unsure)
    run = json.loads((out / "run.json").read_text())
    assert run["predictions"]["matched"] == 60 and run["predictions"]["classes"] == ["airplane", "cat", "ship"]
    assert run["config"]["predictions"] == str(pred)
    assert _tree_digest(cifar_sample) == before


def test_a_faulty_predictions_file_is_rejected_naming_file_line_and_fix(cifar_sample, small_model_dir, tmp_path, capsys):
    ids = sorted(str(p.relative_to(cifar_sample)) for p in cifar_sample.rglob("*.jpg"))
    pred = tmp_path / "preds.csv"
    with open(pred, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "airplane", "cat", "ship"])
        for k, i in enumerate(ids):
            w.writerow([i, 0.5, 0.5, "nan" if k == 6 else 0.0])
    before, pred_before = _tree_digest(cifar_sample), pred.read_bytes()
    code, _, err = run_cli(["select", cifar_sample, "-n", 5, "--out", tmp_path / "run", "-s", "uncertainty",
                            "--predictions", pred, "--model", small_model_dir, "--device", "cpu", "--no-report"], capsys)
    assert code != 0
    assert str(pred) in err and "line 8" in err and repr(ids[6]) in err and "Re-export" in err
    assert _tree_digest(cifar_sample) == before and pred.read_bytes() == pred_before
    with pytest.raises(ConfigError, match="--predictions is used by the prediction-based strategies"):
        _select(cifar_sample, small_model_dir, tmp_path / "x", strategy="coreset", predictions=pred)


def test_fisher_match_against_a_validation_folder(cifar_root, cifar_sample, small_model_dir, tmp_path):
    val = _validation_folder(cifar_root, tmp_path)
    ids = sorted(str(p.relative_to(cifar_sample)) for p in cifar_sample.rglob("*.jpg"))
    labeled, known = _labeled_csv(tmp_path, ids, every=3)
    out = tmp_path / "fm"
    res = _select(cifar_sample, small_model_dir, out, strategy="fisher-match", labels=str(labeled), validation=val)
    assert len(res.selection) == 8 and not set(res.selection.ids) & known
    assert all("Fisher kernel" in r for r in res.selection.reasons)
    run = json.loads((out / "run.json").read_text())
    assert run["validation"]["samples"] == 12 and run["validation"]["classes"] == ["airplane", "cat", "ship"]
    with pytest.raises(ConfigError, match="needs a labeled validation set"):
        _select(cifar_sample, small_model_dir, tmp_path / "nv", strategy="fisher-match", labels=str(labeled))


def test_validation_folder_reaches_fisher_match_inside_combine(cifar_root, cifar_sample, small_model_dir, tmp_path):
    """--validation works for a combination with a fisher-match component (the issue's "each
    combines with the label-free ones"), and is refused for a strategy without one."""
    val = _validation_folder(cifar_root, tmp_path)
    ids = sorted(str(p.relative_to(cifar_sample)) for p in cifar_sample.rglob("*.jpg"))
    labeled, known = _labeled_csv(tmp_path, ids, every=3)
    out = tmp_path / "combo"
    res = _select(cifar_sample, small_model_dir, out, strategy="combine", labels=str(labeled), validation=val,
                  strategy_params={"strategies": {"fisher-match": 1.0, "coreset": 1.0}})
    assert len(res.selection) == 8 and not set(res.selection.ids) & known
    assert all("fisher-match" in r and "coreset" in r for r in res.selection.reasons)
    assert json.loads((out / "run.json").read_text())["validation"]["samples"] == 12
    with pytest.raises(ConfigError, match="--validation is used by fisher-match"):
        _select(cifar_sample, small_model_dir, tmp_path / "cc", strategy="combine", labels=str(labeled), validation=val,
                strategy_params={"strategies": {"uncertainty": 1.0, "coreset": 1.0}})


def test_density_match_against_a_folder_without_class_folders(cifar_root, cifar_sample, small_model_dir, tmp_path):
    """density-match needs no labels: a flat folder of validation images will do (fisher-match
    refuses it, naming the fix), and it runs beside fisher-match in a combination."""
    val = _validation_folder(cifar_root, tmp_path)
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in val.rglob("*.jpg"):
        shutil.copy2(f, flat / f"{f.parent.name}_{f.name}")
    before = _tree_digest(flat)
    out = tmp_path / "dm"
    res = _select(cifar_sample, small_model_dir, out, strategy="density-match", validation=flat)
    assert len(res.selection) == 8 and all("density ratio" in r for r in res.selection.reasons)
    run = json.loads((out / "run.json").read_text())
    assert run["validation"]["samples"] == 12 and run["validation"]["classes"] is None
    assert _tree_digest(flat) == before
    ids = sorted(str(p.relative_to(cifar_sample)) for p in cifar_sample.rglob("*.jpg"))
    labeled, known = _labeled_csv(tmp_path, ids, every=3)
    with pytest.raises(InputError, match="needs class folders"):
        _select(cifar_sample, small_model_dir, tmp_path / "fm", strategy="fisher-match", labels=str(labeled), validation=flat)
    res = _select(cifar_sample, small_model_dir, tmp_path / "both", strategy="combine", labels=str(labeled), validation=val,
                  strategy_params={"strategies": {"fisher-match": 1.0, "density-match": 1.0}})
    assert len(res.selection) == 8 and not set(res.selection.ids) & known
    assert all("fisher-match" in r and "density-match" in r for r in res.selection.reasons)
