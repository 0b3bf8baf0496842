"""The probe benchmark end to end on a few hundred real JPEGs: cells, report, resume after
a kill, extension, refusal to mix configurations; method specs; prefix consistency."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from _selection_contract import LABELED, REQUIRED
from labelscout.bench.harness import load_cells, repeat_pool_rows, run_probe_benchmark, stratified_subset
from labelscout.bench.methods import parse_method, parse_methods, transform_space
from labelscout.errors import ConfigError, InputError
from labelscout.strategies import STRATEGIES

REPO = Path(__file__).resolve().parents[2]
METHODS = "random,coreset@raw,coreset@pca:space_dim=4"
TINY = {"min_images": 48, "max_images": 96, "batch_size": 24}


@pytest.fixture(scope="module")
def bench_data(cifar_root, tmp_path_factory) -> Path:
    """train/ (3 classes x 40) and test/ (3 classes x 10) real CIFAR JPEGs."""
    root = tmp_path_factory.mktemp("benchdata")
    for split, n in (("train", 40), ("test", 10)):
        for cls in ("airplane", "frog", "truck"):
            (root / split / cls).mkdir(parents=True)
            for f in sorted((cifar_root / split / cls).iterdir())[:n]:
                shutil.copy2(f, root / split / cls / f.name)
    return root


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    yield 1
    torch.set_num_threads(before)


def _run(data, out, model, **kw):
    args = dict(budgets=[12, 24], methods=METHODS, repeats=2, embeddings={"default": str(model)}, recipe="smoke",
                recipe_overrides=TINY, device="cpu", threads=1, progress=False)
    args.update(kw)
    return run_probe_benchmark(data, out=out, **args)


def test_end_to_end_and_resume(bench_data, small_model_dir, tmp_path, one_thread):
    out = tmp_path / "bench"
    first = _run(bench_data, out, small_model_dir)
    assert first.computed == 12 and len(first.cells) == 12
    for name in ("results.csv", "summary.csv", "summary.md", "accuracy.png", "run.json", "bench.json"):
        assert (out / name).is_file(), name
    table = (out / "summary.md").read_text()
    assert "`coreset@raw`" in table and "Δ vs random" in table and "airplane" in table
    rows = {(r["method"], r["budget"]): r for r in first.summary}
    assert "diff" not in rows[("random", 12)] and rows[("coreset@raw", 24)]["pairs"] == 2
    for c in first.cells:
        assert sum(c["selection"]["class_counts"].values()) == c["budget"]
        assert 0 <= c["accuracy"] <= 1 and c["n_test"] == 30 and set(c["per_class"]) == {"airplane", "frog", "truck"}
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "finished" and run["counts"]["cells_computed"] == 12
    assert run["platform"]["logical_cpus"] >= 1 and "simd_flags" in run["platform"]  # the machine is on record
    # random and coreset are prefix-consistent: one selection per repeat at the largest budget
    assert {p.name.split("-")[1] for p in (out / "selections").rglob("*.npy")} == {"n000024.npy"}

    # a rerun computes nothing and rebuilds the identical table
    again = _run(bench_data, out, small_model_dir)
    assert again.computed == 0 and (out / "summary.md").read_text() == table
    # lost cells are recomputed, identically (same seeds)
    for p in sorted((out / "cells").rglob("*.json"))[:3]:
        p.unlink()
    again = _run(bench_data, out, small_model_dir)
    assert again.computed == 3 and (out / "summary.md").read_text() == table
    # more repeats: only the new cells run
    more = _run(bench_data, out, small_model_dir, repeats=3)
    assert more.computed == 6 and all(r["repeats"] == 3 for r in more.summary)
    # another probe recipe must not mix with these cells
    with pytest.raises(ConfigError, match="different benchmark configuration"):
        _run(bench_data, out, small_model_dir, recipe_overrides={**TINY, "lr": 0.05})


def test_killed_run_resumes_to_the_same_table(bench_data, small_model_dir, tmp_path, one_thread):
    """kill -9 in the middle of a CLI run, rerun: finished cells are kept, the table equals an
    uninterrupted run's."""
    ref = _run(bench_data, tmp_path / "ref", small_model_dir)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "labelscout", "--quiet", "bench", "probe", "--data", str(bench_data), "--budgets", "12,24",
           "--methods", METHODS, "--repeats", "2", "--embedding", f"default={small_model_dir}", "--recipe", "smoke",
           "--device", "cpu", "--threads", "1", "--out", str(out)]
    for k, v in TINY.items():
        cmd += ["--recipe-set", f"{k}={v}"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("cells/*/*.json"))) < 3 and proc.poll() is None:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = len(list(out.glob("cells/*/*.json")))
    assert 0 < done < 12, proc.stderr.read().decode()[-2000:]
    assert len(load_cells(out)) == done  # every cell file that exists is complete (atomic writes)
    resumed = _run(bench_data, out, small_model_dir)
    assert resumed.computed == 12 - done
    assert (out / "summary.md").read_text() == (tmp_path / "ref" / "summary.md").read_text()
    assert [c["accuracy"] for c in resumed.cells] == [c["accuracy"] for c in ref.cells]


def test_budget_larger_than_pool(bench_data, small_model_dir, tmp_path):
    with pytest.raises(InputError, match="exceeds the pool of 120"):
        _run(bench_data, tmp_path / "b", small_model_dir, budgets=[500])


def test_missing_embedding_is_named(bench_data, tmp_path):
    with pytest.raises(ConfigError, match="needs the embedding 'ssl'"):
        run_probe_benchmark(bench_data, budgets=[10], methods="coreset@umap/ssl", out=tmp_path / "x",
                            embeddings={"default": "builtin"})


def test_saved_embeddings_with_split_prefix_are_aligned(bench_data, small_model_dir, tmp_path, one_thread):
    """Embeddings of the whole data root (ids 'train/cls/x.jpg', test images included) work too."""
    from labelscout import embed

    emb = embed(bench_data, model=str(small_model_dir), device="cpu").embeddings
    emb.save(tmp_path / "emb")
    res = _run(bench_data, tmp_path / "b", small_model_dir, embeddings={"default": str(tmp_path / "emb")},
               methods="random,coreset@norm", repeats=1, budgets=[12])
    assert res.computed == 2


# -- method specs -----------------------------------------------------------------------

@pytest.mark.parametrize("text,strategy,space,embedding,params,space_params", [
    ("random", "random", "norm", None, {}, {}),
    ("coreset@raw", "coreset", "raw", None, {}, {}),
    ("coreset@umap/ssl:space_dim=32", "coreset", "umap", "ssl", {}, {"dim": 32}),
    ("coreset@pca:stop_radius=0.5:space_dim=8", "coreset", "pca", None, {"stop_radius": 0.5}, {"dim": 8}),
])
def test_parse_method(text, strategy, space, embedding, params, space_params):
    m = parse_method(text)
    assert (m.strategy, m.space, m.embedding, m.params, m.space_params) == (strategy, space, embedding, params, space_params)
    assert m.label == text and "/" not in m.slug


@pytest.mark.parametrize("text,needle", [
    ("kmeans", "strategy must be one of"),
    ("coreset@tsne", "space must be one of"),
    ("coreset:metric", "must be KEY=VALUE"),
    ("coreset:space_size=3", "unknown space parameter"),
    ("coreset:metric=cosin", "'metric' parameter of CoresetSelector"),
    ("random@umap", "random selection uses no embedding"),
    ("core set", "Cannot parse method"),
])
def test_bad_method_specs(text, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_method(text)


def test_min_budget_limits_a_method_to_large_budgets(bench_data, small_model_dir, tmp_path, one_thread):
    res = _run(bench_data, tmp_path / "b", small_model_dir, methods="random,coreset@norm:min_budget=20", repeats=1)
    assert sorted((c["method"], c["budget"]) for c in res.cells) == [
        ("coreset@norm:min_budget=20", 24), ("random", 12), ("random", 24)]
    with pytest.raises(ConfigError, match="min_budget must be an int"):
        parse_method("coreset:min_budget=0")


def test_duplicate_methods_rejected():
    with pytest.raises(ConfigError, match="listed twice"):
        parse_methods("random,coreset,random")


def test_strategy_gets_l2_in_the_space_and_the_repeat_seed():
    s = parse_method("coreset@umap").build_strategy(10, seed=7)
    assert s.metric == "l2" and s.seed == 7 and s.n == 10
    fixed = parse_method("coreset:seed=3:metric=cosine").build_strategy(10, seed=7)
    assert fixed.seed == 3 and fixed.metric == "cosine"


@pytest.mark.parametrize("space", ["raw", "norm", "pca"])
def test_spaces(space, rng):
    X = rng.normal(size=(50, 6)).astype(np.float32) * 3
    Z = transform_space(X, space, dim=4 if space == "pca" else None)
    assert Z.dtype == np.float32 and Z.shape == (50, 4 if space == "pca" else 6)
    if space == "norm":
        np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1, rtol=1e-5)
    if space == "raw":
        np.testing.assert_array_equal(Z, X)


@pytest.mark.slow
def test_umap_space_is_deterministic(rng):
    X = rng.normal(size=(300, 8)).astype(np.float32)
    a, b = transform_space(X, "umap", dim=3, seed=1), transform_space(X, "umap", dim=3, seed=1)
    assert a.shape == (300, 3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(n for n, c in STRATEGIES.items() if c.prefix_consistent))
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 50), n_small=st.integers(1, 20), extra=st.integers(0, 20))
def test_prefix_consistent_strategies_really_are(name, seed, n_small, extra):
    # the harness selects once at the largest budget and takes prefixes: that is only
    # right for strategies whose claim holds
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 5)).astype(np.float32)
    cls = STRATEGIES[name]
    params = {**REQUIRED.get(name, {}), **({"seed": seed} if "seed" in cls._param_names() else {})}
    # prediction-based strategies get predictions (fisher-match's validation rows: labels); vaal a labeled sample
    labels = rng.integers(0, 3, 60).tolist() if cls.requires_labels else None
    extra_fit = {"exclude": LABELED.get(name)}
    if getattr(cls, "uses_predictions", False):
        P = rng.dirichlet(np.ones(3), 60)
        extra_fit["predictions"] = P
        if name == "fisher-match":  # an outside validation set with the model's view of it
            params = {"validation_vectors": X[:6] + 0.1, "validation_labels": ["0", "1", "2"] * 2,
                      "validation_probabilities": P[:6], "seed": seed}
    if name == "vaal":
        params["steps"] = 5  # the claim is about the ranking, not about a well-trained game
    big = cls(n=n_small + extra, **params).fit(X, labels=labels, **extra_fit).selected_
    small = cls(n=n_small, **params).fit(X, labels=labels, **extra_fit).selected_
    np.testing.assert_array_equal(small, big[:n_small])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 5))
def test_stratified_subset(n, seed):
    labels = np.repeat(np.arange(4), [100, 50, 30, 20])
    rows = stratified_subset(labels, n, seed)
    assert len(rows) == min(n, 200) and len(np.unique(rows)) == len(rows)
    counts = np.bincount(labels[rows], minlength=4)
    assert np.all(np.abs(counts - np.array([100, 50, 30, 20]) * len(rows) / 200) <= 1)


def test_load_cells_ignores_damaged_files(tmp_path):
    (tmp_path / "cells" / "m").mkdir(parents=True)
    (tmp_path / "cells" / "m" / "b1-r1.json").write_text("{not json")
    assert load_cells(tmp_path) == []


@given(n=st.integers(1, 400), fraction=st.floats(0.01, 0.99), seed=st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_repeat_pool_rows(n, fraction, seed):
    rows = repeat_pool_rows(n, fraction, seed)
    assert rows.size == round(fraction * n) and np.all(np.diff(rows) > 0) and (rows.size == 0 or rows[-1] < n)
    assert np.array_equal(rows, repeat_pool_rows(n, fraction, seed))  # fixed for a seed
    assert np.array_equal(repeat_pool_rows(n, None, seed), np.arange(n))  # None: the whole pool


def test_pool_fraction_gives_every_repeat_its_own_pool(bench_data, small_model_dir, tmp_path, one_thread):
    """With pool_fraction, each repeat's picks (every method's, random's too) come from that
    repeat's rows, and a deterministic method's picks change between repeats."""
    out = tmp_path / "sub"
    res = _run(bench_data, out, small_model_dir, methods="random,probcover@raw", pool_fraction=0.75)
    assert res.computed == 8
    n_pool = 120
    sel = {}
    for path in (out / "selections").rglob("*.npy"):
        method, repeat = path.parent.name, int(path.name[1:4])
        picks = np.load(path)
        assert np.isin(picks, repeat_pool_rows(n_pool, 0.75, repeat)).all(), (method, repeat)
        sel[(method, repeat)] = set(picks.tolist())
    probcover = [k for k in sel if k[0].startswith("probcover")]
    assert len(probcover) == 2 and sel[probcover[0]] != sel[probcover[1]]
    assert all(c["selection"]["pool_rows"] == 90 for c in res.cells)
    assert json.loads((out / "run.json").read_text())["config"]["pool_fraction"] == 0.75
    # the same folder with the whole pool (or another fraction) is another benchmark
    with pytest.raises(ConfigError, match="pool_fraction"):
        _run(bench_data, out, small_model_dir, methods="random,probcover@raw")
    with pytest.raises(InputError, match="a repeat's pool of 12 images"):
        _run(bench_data, tmp_path / "tiny", small_model_dir, pool_fraction=0.1)
