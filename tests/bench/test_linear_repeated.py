"""The linear probe recipe end to end on real JPEGs (repeats per budget, auto's choice kept
beside its cells), the probe's standardisation, and the repeated-copies pool builder."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from labelscout.bench.harness import run_probe_benchmark
from labelscout.bench.linear import LinearProbe, standardize_features
from labelscout.bench.repeated import build_repeated_pool, join_embeddings
from labelscout.embed.embedder import Embedder
from labelscout.errors import ConfigError, InputError


@pytest.fixture(scope="module")
def tiny_cifar(cifar_root, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    for split, n in (("train", 30), ("test", 8)):
        for cls in ("airplane", "frog", "truck"):
            (root / split / cls).mkdir(parents=True)
            for f in sorted((cifar_root / split / cls).iterdir())[:n]:
                shutil.copy2(f, root / split / cls / f.name)
    return root


@pytest.fixture(scope="module")
def tiny_emb(tiny_cifar, small_model_dir, tmp_path_factory) -> Path:
    res = Embedder(str(small_model_dir), device="cpu", workers=0, cache_dir=None, progress=False).embed(tiny_cifar)
    return res.embeddings.save(tmp_path_factory.mktemp("emb") / "embeddings")


def test_linear_recipe_end_to_end(tiny_cifar, tiny_emb, tmp_path):
    out = tmp_path / "bench"
    res = run_probe_benchmark(tiny_cifar, budgets=[9, 30], methods="random,probcover,auto", repeats=[3, 2], out=out,
                              embeddings={"default": str(tiny_emb)}, recipe="linear", progress=False)
    assert res.computed == 3 * 3 + 3 * 2
    assert {(r["method"], r["budget"]): r["repeats"] for r in res.summary}[("auto", 30)] == 2
    auto = [c for c in res.cells if c["method"] == "auto"]
    assert all(c["selection"]["choice"]["strategy"] and c["selection"]["choice"]["why"] for c in auto)
    assert all(c["n_test"] == 24 and c["probe"]["recipe"] == "linear" for c in res.cells)
    assert "repeats 3 at 9, 2 at 30" in (out / "summary.md").read_text()
    again = run_probe_benchmark(tiny_cifar, budgets=[9, 30], methods="random,probcover,auto", repeats=[3, 2], out=out,
                                embeddings={"default": str(tiny_emb)}, recipe="linear", progress=False)
    assert again.computed == 0 and [c["accuracy"] for c in again.cells] == [c["accuracy"] for c in res.cells]
    with pytest.raises(ConfigError, match="one count or one per budget"):
        run_probe_benchmark(tiny_cifar, budgets=[9, 30], methods="random", repeats=[3], out=tmp_path / "x",
                            embeddings={"default": str(tiny_emb)}, recipe="linear", progress=False)


def test_linear_probe_needs_the_test_split_in_the_embeddings(tiny_cifar, small_model_dir, tmp_path):
    train_only = Embedder(str(small_model_dir), device="cpu", workers=0, cache_dir=None, progress=False).embed(tiny_cifar / "train")
    path = train_only.embeddings.save(tmp_path / "train-emb")
    with pytest.raises(InputError, match="lack 90 of the 90 pool images.*embed the whole dataset folder"):
        run_probe_benchmark(tiny_cifar, budgets=[9], methods="random", repeats=1, out=tmp_path / "b",
                            embeddings={"default": str(path)}, recipe="linear", progress=False)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(3, 40), m=st.integers(1, 10), seed=st.integers(0, 100))
def test_standardisation_uses_the_pool_only(n, m, seed):
    rng = np.random.default_rng(seed)
    pool, a, b = rng.normal(size=(n, 5)), rng.normal(size=(m, 5)), rng.normal(size=(m, 5))
    p1, fa = standardize_features(pool, a)
    p2, fb = standardize_features(pool, b)
    assert np.array_equal(p1, p2)  # test rows never change the pool's features
    unit = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    std = unit.std(0)
    np.testing.assert_allclose(p1, (unit - unit.mean(0)) / np.where(std > 1e-8, std, 1), rtol=1e-4, atol=1e-5)


def test_linear_probe_single_class_and_unfitted():
    probe = LinearProbe(3).fit(np.ones((4, 2)), np.array([2, 2, 2, 2]))
    assert probe.score(np.zeros((3, 2)), np.array([2, 0, 2])).accuracy == pytest.approx(2 / 3)
    with pytest.raises(InputError, match="not fitted"):
        LinearProbe(3).predict(np.zeros((1, 2)))


def test_repeated_pool(tiny_cifar, tiny_emb, small_model_dir, tmp_path):
    dest = tmp_path / "rep"
    m = build_repeated_pool(tiny_cifar, dest, n_images=6, min_copies=2, max_copies=4, seed=1, progress=False)
    assert m["n_images"] == 6 and len(m["groups"]) == 6
    counts = [len(g) for g in m["groups"].values()]
    assert all(2 <= c <= 4 for c in counts) and m["n_pool"] == sum(counts)
    assert sorted(Path(o).parts[0] for o in m["groups"]) == ["airplane"] * 2 + ["frog"] * 2 + ["truck"] * 2  # stratified
    files = sorted(p.relative_to(dest / "train").as_posix() for p in (dest / "train").rglob("*.jpg"))
    assert files == sorted(c for g in m["groups"].values() for c in g)
    for orig, copies in m["groups"].items():
        src = tiny_cifar / "train" / orig
        assert (dest / "train" / copies[0]).read_bytes() == src.read_bytes()  # copy 0 is the original
        a = np.asarray(Image.open(src).convert("RGB"), np.float64)
        coarse = lambda x: x.reshape(4, 8, 4, 8, 3).mean(axis=(1, 3))  # 4x4 blocks: a shift of <= 3 px barely moves them
        for c in copies[1:]:
            b = np.asarray(Image.open(dest / "train" / c).convert("RGB"), np.float64)
            assert b.shape == a.shape and np.abs(a - b).mean() > 0  # altered
            # the same picture: brightness-invariant correlation of the block means
            assert np.corrcoef(coarse(a).ravel(), coarse(b).ravel())[0, 1] > 0.7
    assert (dest / "test").is_symlink() and (dest / "test").resolve() == (tiny_cifar / "test").resolve()
    assert json.loads((dest / "repeated.json").read_text())["groups"] == m["groups"]
    with pytest.raises(InputError, match="not empty"):
        build_repeated_pool(tiny_cifar, dest, n_images=2, progress=False)
    # the probe's embeddings: the copies' own vectors plus the source's test split
    pool_emb = Embedder(str(small_model_dir), device="cpu", workers=0, cache_dir=None, progress=False).embed(dest / "train")
    joined = join_embeddings(pool_emb.embeddings.save(tmp_path / "pe"), tiny_emb, tmp_path / "joined")
    res = run_probe_benchmark(dest, budgets=[6], methods="random,probcover", repeats=2, out=tmp_path / "b",
                              embeddings={"default": str(joined)}, recipe="linear", progress=False)
    assert len(res.cells) == 4 and all(c["n_test"] == 24 for c in res.cells)
