"""The ONNX Runtime path gives PyTorch's vectors (it is the CPU default for EfficientNet-Lite) and is chosen as documented."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from labelscout.embed.embedder import Embedder
from labelscout.errors import ConfigError
from labelscout.models.registry import load_model

pytest.importorskip("onnxruntime")

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cifar10-sample"


@pytest.fixture(scope="module")
def lite0():
    return load_model("efficientnet-lite0")


def _embedder(model, runtime):
    return Embedder(model, device="cpu", runtime=runtime, cache_dir=None, workers=0, progress=False, batch_size=16)


@pytest.mark.parametrize("size", [160, 224])  # the thumbnail and the photo input size of the policy
def test_onnx_vectors_equal_pytorch_on_real_images(lite0, size):
    from PIL import Image

    files = sorted(SAMPLE.rglob("*.jpg"))[::25][:12]
    pics = [Image.open(f).convert("RGB") for f in files]  # 32 px: thumbnails, upscaled to 160
    if size == 224:
        pics = [p.resize((300, 300), Image.BICUBIC) for p in pics]  # photo-sized: resized to 224
    onnx, ref = _embedder(lite0, "onnx"), _embedder(lite0, "torch")
    a, b = onnx.embed_pictures(pics), ref.embed_pictures(pics)
    assert onnx.runtime_name == "onnxruntime" and ref.runtime_name == "torch"
    assert a.shape == b.shape == (len(files), lite0.embedding_dim)
    # float32 rounding only: 1e-4 of the vectors' scale
    assert np.abs(a - b).max() <= 1e-4 * np.abs(b).max()


def test_auto_uses_onnx_for_efficientnet_lite_and_torch_for_other_models(lite0, small_model_dir):
    assert _embedder(lite0, "auto").runtime_name == "onnxruntime"
    assert _embedder(str(small_model_dir), "auto").runtime_name == "torch"


def test_bad_runtime_is_a_clear_error(lite0):
    with pytest.raises(ConfigError, match="'runtime' parameter of Embedder must be one of"):
        Embedder(lite0, runtime="tensorrt")
    if not torch.cuda.is_available():
        return
    with pytest.raises(ConfigError, match="runs on the CPU only"):
        _ = Embedder(lite0, device="cuda", runtime="onnx").runtime_name
