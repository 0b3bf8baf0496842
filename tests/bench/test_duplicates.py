"""Planting near duplicates into a copy of real images, and scoring found pairs."""
from __future__ import annotations

import pytest
from PIL import Image

from labelscout.bench.duplicates import (
    DUPLICATE_KINDS, PlantedDuplicates, alter, pairs_from_groups, plant_duplicates, run_duplicate_benchmark, score_pairs)
from labelscout.errors import ConfigError, InputError


@pytest.mark.parametrize("kind", DUPLICATE_KINDS)
def test_alter_keeps_the_photo(kind):
    img = Image.linear_gradient("L").resize((32, 32)).convert("RGB")
    out, save = alter(img, kind)
    assert out.size == ((64, 64) if kind == "resize" else (32, 32)) and 1 <= save["quality"] <= 100


def test_plant_and_score(cifar_sample, tmp_path):
    before = sorted(p.name for p in cifar_sample.rglob("*.jpg"))
    planted = plant_duplicates(cifar_sample, tmp_path / "pool", n_pool=40, n_duplicates=8, seed=1)
    assert sorted(p.name for p in cifar_sample.rglob("*.jpg")) == before  # the source is only read
    assert planted.n_images == 48 and len(list((tmp_path / "pool").rglob("*.jpg"))) == 48
    assert [k for _, _, k in planted.pairs] == list(DUPLICATE_KINDS) * 2
    for orig, dup, kind in planted.pairs:
        assert (tmp_path / "pool" / orig).is_file() and (tmp_path / "pool" / dup).is_file() and f".dup-{kind}" in dup
    again = PlantedDuplicates.load(tmp_path / "pool.planted.json")
    assert again.pairs == planted.pairs and again.n_images == 48

    perfect = score_pairs([(o, d) for o, d, _ in planted.pairs], planted)
    assert perfect["recall"] == 1.0 and perfect["pairs_not_planted"] == 0 and perfect["precision"] == 1.0
    half = planted.pairs[:4]
    s = score_pairs([[o, d, "x.jpg"] for o, d, _ in half], planted, groups=True)
    assert s["recall"] == 0.5 and s["true_pairs"] == 4 and s["pairs_not_planted"] == 8  # each 3-group adds 2 extra pairs
    assert s["recall_by_kind"] == {k: 0.5 for k in DUPLICATE_KINDS}  # one of the two copies of each kind

    with pytest.raises(InputError, match="not empty"):
        plant_duplicates(cifar_sample, tmp_path / "pool")
    with pytest.raises(ConfigError, match="duplicate kind"):
        plant_duplicates(cifar_sample, tmp_path / "p2", kinds=["blur"])


def test_pairs_from_groups():
    assert pairs_from_groups([["a", "b", "c"], ["d"]]) == {frozenset("ab"), frozenset("ac"), frozenset("bc")}


def test_reference_baseline_end_to_end(cifar_sample, small_model_dir, tmp_path):
    r = run_duplicate_benchmark(cifar_sample, tmp_path / "dups", model=str(small_model_dir), n_pool=40, n_duplicates=8,
                                kinds=["jpeg", "flip"], device="cpu", detector_params={"threshold": 0.999})
    assert r["planted"] == 8 and 0 <= r["recall"] <= 1 and r["images"] == 48
    assert set(r["recall_by_kind"]) == {"jpeg", "flip"}
    assert (tmp_path / "dups" / "duplicates.json").is_file() and (tmp_path / "dups" / "run.json").is_file()


def test_near_duplicate_detector_end_to_end(cifar_sample, small_model_dir, tmp_path):
    r = run_duplicate_benchmark(cifar_sample, tmp_path / "dups", model=str(small_model_dir), n_pool=40, n_duplicates=8,
                                kinds=["jpeg", "flip"], device="cpu", detector_params={"threshold": 0.01})
    assert r["detector"] == "near-duplicates" and r["planted"] == 8 and 0 <= r["recall"] <= 1 and r["images"] == 48
    # every found pair comes from one group of the detector; a looser threshold only adds pairs
    loose = run_duplicate_benchmark(cifar_sample, tmp_path / "dups", model=str(small_model_dir), n_pool=40, n_duplicates=8,
                                    kinds=["jpeg", "flip"], device="cpu", detector_params={"threshold": 0.5})
    assert loose["found_pairs"] >= r["found_pairs"] and loose["recall"] >= r["recall"]


def test_unknown_detector_is_named(cifar_sample, small_model_dir, tmp_path):
    from labelscout.bench.duplicates import detector_pairs

    with pytest.raises(ConfigError, match=r"'detector' parameter must be one of \['exact-duplicates', 'near-duplicates', 'knn-threshold'\]"):
        detector_pairs("outliers", [[0.0, 1.0], [1.0, 0.0]], ["a", "b"])
