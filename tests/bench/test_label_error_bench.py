"""Scoring of label-error rankings against closed forms and sklearn, and the benchmark run
end to end (with the cleanlab peer where installed)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from labelscout.bench.label_errors import precision_at_k, ranking_metrics, read_noisy_labels, run_label_error_benchmark
from labelscout.embed.store import EmbeddingSet
from labelscout.errors import InputError


def test_precision_at_k_closed_form():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    is_error = np.array([True, False, True, True, False])
    assert precision_at_k(scores, is_error, [1, 2, 3, 5, 10]) == {1: 1.0, 2: 0.5, 3: 2 / 3, 5: 0.6, 10: 0.6}


def test_ranking_metrics_match_sklearn(rng):
    from sklearn.metrics import average_precision_score, roc_auc_score

    is_error = rng.random(500) < 0.2
    scores = rng.random(500) + 0.5 * is_error
    flags = scores > 1.0
    m = ranking_metrics(scores, is_error, flags, ks=[10, 100])
    assert m["auroc"] == pytest.approx(roc_auc_score(is_error, scores))
    assert m["average_precision"] == pytest.approx(average_precision_score(is_error, scores))
    assert m["precision_flagged"] == pytest.approx(is_error[flags].mean())
    assert m["recall_flagged"] == pytest.approx(flags[is_error].mean())
    assert set(m["precision_at_k"]) == {10, 100, int(is_error.sum())}


def test_ranking_metrics_without_errors_is_undefined_not_wrong():
    m = ranking_metrics(np.ones(5), np.zeros(5, bool), np.zeros(5, bool))
    assert math.isnan(m["auroc"]) and math.isnan(m["recall_flagged"]) and m["errors"] == 0


def test_noisy_labels_match_ids_with_or_without_split_prefix(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("path,index,clean,worse\ntrain/cat/0000.jpg,0,cat,dog\ntrain/dog/0000.jpg,1,dog,dog\n")
    cols = read_noisy_labels(csv, ["cat/0000.jpg", "train/dog/0000.jpg"], ["clean", "worse"])
    assert cols == {"clean": ["cat", "dog"], "worse": ["dog", "dog"]}
    with pytest.raises(InputError, match="1 of 1 embedded samples are not in"):
        read_noisy_labels(csv, ["bird/0000.jpg"], ["clean"])
    with pytest.raises(InputError, match=r"lacks column\(s\) \['aggre'\]"):
        read_noisy_labels(csv, ["cat/0000.jpg"], ["aggre"])


def test_benchmark_end_to_end(tmp_path, rng):
    n_classes, per = 4, 60
    centres = rng.normal(size=(n_classes, 16)) * 2
    X = np.concatenate([c + rng.normal(size=(per, 16)) for c in centres]).astype(np.float32)
    truth = np.repeat(np.arange(n_classes), per)
    noisy = truth.copy()
    flip = rng.random(len(truth)) < 0.25
    noisy[flip] = (truth[flip] + 1) % n_classes
    ids = [f"c{t}/{i:04d}.jpg" for i, t in enumerate(truth)]
    lines = ["path,clean,worse"] + [f"train/{i},k{t},k{w}" for i, t, w in zip(ids, truth, noisy)]
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    emb = EmbeddingSet(X, ids)
    rows = run_label_error_benchmark(emb, tmp_path / "labels.csv", out=tmp_path / "out", given=["worse"], k=10)
    methods = {r["method"] for r in rows}
    assert {"knn", "logistic", "ensemble"} <= methods
    for r in rows:
        assert r["errors"] == flip.sum() and r["auroc"] > 0.9, r
    for name in ("label_errors.csv", "label_errors.md", "precision_at_k.png", "run.json"):
        assert (tmp_path / "out" / name).is_file()
    # the benchmark derives ensemble from its knn and logistic runs: it must equal a direct fit
    from sklearn.metrics import roc_auc_score

    from labelscout.detectors.label_errors import LabelErrorDetector

    direct = LabelErrorDetector(method="ensemble", k=10).fit(X, [f"k{w}" for w in noisy], ids=ids)
    ens = next(r for r in rows if r["method"] == "ensemble")
    assert ens["auroc"] == pytest.approx(roc_auc_score(flip, direct.scores_), abs=1e-12)
    assert ens["flagged"] == direct.flags_.sum()
    if "cleanlab" in methods:  # the peer saw the same probabilities as our logistic method
        ours = next(r for r in rows if r["method"] == "logistic")
        peer = next(r for r in rows if r["method"] == "cleanlab")
        assert peer["auroc"] == pytest.approx(ours["auroc"], abs=1e-9)
