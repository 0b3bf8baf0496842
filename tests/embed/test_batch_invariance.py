"""A sample's vector is bit-identical whatever batch it is embedded in: alone, with other
images, at another position, with another batch_size, or mixed with pictures of the other
input size. Sharded jobs, cache-resumed runs and single runs all rely on it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelscout.embed.embedder import Embedder
from labelscout.models.registry import load_model

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cifar10-sample"


@pytest.fixture(scope="module")
def lite0():
    return load_model("efficientnet-lite0")


@pytest.fixture(scope="module")
def pictures():
    from PIL import Image

    files = sorted(SAMPLE.rglob("*.jpg"))[::29][:9]
    pics = [Image.open(f).convert("RGB") for f in files]  # 32 px thumbnails: the 128 px input
    # one photo-sized: the 224 px input, so a batch holding it splits into two shapes
    return [p.resize((260, 240), Image.BICUBIC) if i == 4 else p for i, p in enumerate(pics)]


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_vectors_do_not_depend_on_the_batch(lite0, pictures, runtime):
    if runtime == "onnx":
        pytest.importorskip("onnxruntime")

    def embed(pics, batch_size):
        e = Embedder(lite0, device="cpu", runtime=runtime, cache_dir=None, workers=0, progress=False,
                     batch_size=batch_size)
        assert e.runtime_name == ("onnxruntime" if runtime == "onnx" else "torch")
        return e.embed_pictures(pics)

    alone = np.concatenate([embed([p], 1) for p in pictures])  # (9, D), one picture per call
    for batch_size in (2, 4, 64):
        got = embed(pictures, batch_size)
        assert np.array_equal(got, alone), f"batch_size {batch_size}: max |diff| {np.abs(got - alone).max()}"
    order = np.random.default_rng(0).permutation(len(pictures))  # other neighbours, other positions
    shuffled = embed([pictures[i] for i in order], 7)
    assert np.array_equal(shuffled, alone[order])


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_batches_longer_than_one_network_call_split_the_same_way(lite0, runtime):
    import torch

    if runtime == "onnx":
        pytest.importorskip("onnxruntime")
    e = Embedder(lite0, device="cpu", runtime=runtime, cache_dir=None, workers=0, progress=False)
    x = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (37, 3, 128, 128), dtype=np.uint8))  # (B, 3, s, s)
    assert e.forward_rows == 16  # 37 rows: two whole calls and a padded one
    whole = e.forward_uint8(x)
    assert whole.shape == (37, lite0.embedding_dim)
    assert np.array_equal(np.concatenate([e.forward_uint8(x[:21]), e.forward_uint8(x[21:])]), whole)
    assert np.array_equal(e.forward_uint8(x[30:31]), whole[30:31])
    assert e.forward_uint8(x[:0]).shape == (0, lite0.embedding_dim)
