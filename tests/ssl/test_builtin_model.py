"""The shipped CIFAR-10 SimCLR model (the default before EfficientNet-Lite0): its folder, its format, and the kNN accuracy documented in docs/models.md."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from labelscout.ssl.knn_probe import knn_accuracy
from labelscout.models.registry import BUILTIN_DIR, CIFAR_MODEL, load_model
from labelscout.ssl.data import load_image_folder
from labelscout.ssl.views import normalize, to_float

MODEL_DIR = BUILTIN_DIR / CIFAR_MODEL
RESULT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "knn_builtin.json"


@torch.inference_mode()
def _embed(model, spec, images):
    return torch.cat([model(normalize(to_float(images[s : s + 500]), spec.mean, spec.std)) for s in range(0, len(images), 500)])


def _subset(root: Path, split: str, per_class: int, dest: Path) -> Path:
    """Symlinks to the first ``per_class`` images of each class: a small, balanced, real split."""
    for cls_dir in sorted((root / split).iterdir()):
        (dest / cls_dir.name).mkdir(parents=True)
        for f in sorted(cls_dir.iterdir())[:per_class]:
            (dest / cls_dir.name / f.name).symlink_to(f)
    return dest


def test_the_cifar_model_is_shipped_small_in_fp16_and_loads_by_name():
    assert (MODEL_DIR / "model.json").is_file(), f"the CIFAR model {CIFAR_MODEL} is not in {BUILTIN_DIR}"
    assert (MODEL_DIR / "model.safetensors").stat().st_size < 5 * 2**20
    weights = load_file(str(MODEL_DIR / "model.safetensors"))
    assert all(v.dtype == torch.float16 for v in weights.values() if v.is_floating_point())
    spec = json.loads((MODEL_DIR / "model.json").read_text())
    assert spec["name"] == CIFAR_MODEL and spec["embedding_dim"] <= 128
    for name in (CIFAR_MODEL, f"builtin:{CIFAR_MODEL}"):  # by its bare name or as builtin:NAME
        loaded = load_model(name)
        assert loaded.model_id == f"builtin:{CIFAR_MODEL}" and loaded.embedding_dim == spec["embedding_dim"]
    out = loaded.module(torch.zeros(2, 3, loaded.input_size, loaded.input_size))
    assert out.shape == (2, spec["embedding_dim"]) and torch.isfinite(out).all()


def test_cifar_model_separates_cifar_classes_on_a_small_split(cifar_root, tmp_path):
    # 2,000 train images as the bank, 500 test images as queries: chance is 10 %
    model, spec = _load()
    train = load_image_folder(_subset(cifar_root, "train", 200, tmp_path / "train"), spec.input_size, progress=False)
    test = load_image_folder(_subset(cifar_root, "test", 50, tmp_path / "test"), spec.input_size, classes=train.classes, progress=False)
    acc = knn_accuracy(_embed(model, spec, train.images).numpy(), train.labels, _embed(model, spec, test.images).numpy(),
                       test.labels, k=20)
    assert acc >= 0.5, f"kNN top-1 {acc:.3f} on the small split (0.560 when the model was shipped)"


@pytest.mark.slow
def test_cifar_model_reaches_the_documented_knn_accuracy(cifar_root):
    """The full protocol of benchmarks/knn_builtin.py: 50,000 train JPEGs as bank, 10,000 test JPEGs as queries."""
    documented = json.loads(RESULT.read_text())
    model, spec = _load()
    train = load_image_folder(cifar_root / "train", spec.input_size, progress=False)
    test = load_image_folder(cifar_root / "test", spec.input_size, classes=train.classes, progress=False)
    acc = knn_accuracy(_embed(model, spec, train.images).numpy(), train.labels, _embed(model, spec, test.images).numpy(),
                       test.labels, k=200, temperature=0.1)
    # float32 CPU inference is deterministic up to summation order across thread counts
    assert acc == pytest.approx(documented["knn_top1_k200"], abs=0.002)


def _load():
    from labelscout.models.model_dir import load_model_dir

    model, spec, _ = load_model_dir(MODEL_DIR)
    return model, spec
