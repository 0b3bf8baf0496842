"""`labelscout select` on precomputed embeddings and in a chosen space: the run folder
records the space, caches it, and still gets its report."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from labelscout import api
from labelscout.errors import ConfigError
from labelscout.strategies.coreset import CoresetSelector
from _cli import run_cli


@pytest.fixture
def pool(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 12)) * 4
    X = (centres[rng.integers(5, size=120)] + rng.normal(size=(120, 12))).astype(np.float32)
    ids = [f"clip{i // 10}/seg{i % 10}.wav" for i in range(120)]  # any modality: ids are just names
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    return X, ids, tmp_path


@pytest.mark.slow  # UMAP's numba compilation takes ~20 s on first use
def test_select_embeddings_npy_in_umap_space(pool, tmp_path, capsys):
    X, ids, d = pool
    out = tmp_path / "run"
    code, stdout, err = run_cli(["select", "--embeddings", d / "X.npy", "--ids", d / "ids.txt", "-s", "coreset", "--space", "umap",
                                 "--space-dim", "4", "-n", "10", "--out", out], capsys)
    assert code == 0, err
    picked = (out / "selection.txt").read_text().split()
    assert len(picked) == 10 and set(picked) <= set(ids)
    rec = json.loads((out / "run.json").read_text())
    space = rec["space"]
    assert space["name"] == "umap" and space["dim"] == 4 and space["input_dim"] == 12 and space["cached"] is False
    assert (out / space["file"]).is_file() and rec["config"]["space"] == "umap"
    assert rec["embedding"]["fingerprint"]["format"] == "npy"
    # the selection is the coreset of the cached space vectors, with L2
    Z = np.load(out / space["file"])
    ref = CoresetSelector(n=10, metric="l2", seed=0).fit(Z).selected_
    assert picked == [ids[i] for i in ref]
    assert (out / "report.html").is_file() and "report_error" not in rec
    # a rerun reuses the fitted space
    code, _, err = run_cli(["select", "--embeddings", d / "X.npy", "--ids", d / "ids.txt", "-s", "coreset", "--space", "umap",
                            "--space-dim", "4", "-n", "10", "--out", out, "--no-report"], capsys)
    assert code == 0, err
    rec2 = json.loads((out / "run.json").read_text())
    assert rec2["space"]["cached"] is True and (out / "selection.txt").read_text().split() == picked


def test_select_lightly_csv_with_pca_space_and_report(pool, tmp_path, capsys):
    X, ids, _ = pool
    path = tmp_path / "embeddings.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["filenames", *[f"embedding_{j}" for j in range(X.shape[1])], "labels"])
        for i, v in zip(ids, X):
            w.writerow([i, *[repr(float(x)) for x in v], 0])
    out = tmp_path / "run"
    code, stdout, err = run_cli(["select", "--embeddings", path, "--space", "pca", "--space-dim", "3", "-n", "8", "--out", out], capsys)
    assert code == 0, err
    assert "Selected 8 of 120" in stdout
    rec = json.loads((out / "run.json").read_text())
    assert rec["space"]["name"] == "pca" and rec["space"]["dim"] == 3 and rec["config"]["metric"] == "cosine"
    assert rec["embedding"]["fingerprint"]["format"] == "csv"
    sel = (out / "selection.csv").read_text()
    assert "label" in sel.splitlines()[0]  # Lightly's labels column is carried along
    html = (out / "report.html").read_text()
    assert "pca" in html and "report_error" not in rec


@pytest.mark.parametrize("space, metric, expect_space, expect_metric", [
    (None, "cosine", "norm", "cosine"), (None, "l2", "raw", "l2"), ("raw", "cosine", "raw", "l2"), ("norm", "l2", "norm", "cosine"),
])
def test_space_wins_over_metric_and_raw_norm_match_the_metric_paths(pool, space, metric, expect_space, expect_metric):
    X, ids, d = pool
    res = api.select(embeddings=d / "X.npy", ids=d / "ids.txt", n=12, space=space, metric=metric, strategy="coreset")
    assert res.record.extra["space"]["name"] == expect_space and res.record.extra["space"]["metric"] == expect_metric
    # raw / norm in the space are exactly the strategy's own metric handling on the raw vectors
    ref = CoresetSelector(n=12, metric=expect_metric, seed=0).fit(X).selected_
    np.testing.assert_array_equal(res.selection.indices, ref)


def test_exactly_one_source(pool, tmp_path, capsys):
    _, _, d = pool
    code, _, err = run_cli(["select", d, "--embeddings", d / "X.npy", "-n", "3", "--out", tmp_path / "r"], capsys)
    assert code != 0 and "SOURCE or --embeddings" in err
    code, _, err = run_cli(["select", "-n", "3", "--out", tmp_path / "r"], capsys)
    assert code != 0 and "SOURCE or --embeddings" in err
    with pytest.raises(ConfigError, match="exactly one of 'source'"):
        api.select(n=3)
    with pytest.raises(ConfigError, match="'space_dim' parameter applies to the pca and umap"):
        api.select(embeddings=d / "X.npy", n=3, space="norm", space_dim=3)


def test_bad_embeddings_file_is_one_line(pool, tmp_path, capsys):
    _, _, d = pool
    (d / "ids.txt").write_text("a\nb\n")
    code, _, err = run_cli(["select", "--embeddings", d / "X.npy", "-n", "3", "--out", tmp_path / "r"], capsys)
    assert code == 1 and err.startswith("error: ") and "120 rows" in err and "Traceback" not in err
