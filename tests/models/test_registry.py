"""Model loading: built-in, model folders, checkpoints, TorchScript, torchvision and timm
from local weight files, and clear errors when weights are missing (never random weights)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from labelscout.errors import ConfigError, ModelWeightsMissing
from labelscout.models.architectures import CifarResNet
from labelscout.models.registry import list_builtin_models, load_model


def _probe(loaded, size=None):
    size = size or loaded.input_size
    with torch.no_grad():
        out = loaded.module(torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)))
    return torch.flatten(out, 1)


def test_model_dir_loads_identically(small_model_dir):
    a = load_model(str(small_model_dir))
    b = load_model(str(small_model_dir))
    assert a.embedding_dim == 16 and a.input_size == 32
    assert torch.equal(_probe(a), _probe(b))
    assert a.fingerprint == b.fingerprint and len(a.weights_sha256) == 64


def test_builtin_models_load():
    names = list_builtin_models()
    if not names:
        pytest.skip("no built-in model is installed in this checkout")
    for name in names:
        loaded = load_model(f"builtin:{name}")
        assert loaded.embedding_dim <= 128
        out = _probe(loaded)
        assert out.shape == (2, loaded.embedding_dim) and torch.isfinite(out).all()


def test_missing_builtin_names_the_available_ones():
    with pytest.raises(ModelWeightsMissing, match="not in this installation"):
        load_model("builtin:no-such-model")


def test_unknown_spec_is_a_config_error():
    with pytest.raises(ConfigError, match="Unknown model"):
        load_model("definitely/not/a/path.pt")


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    torch.hub.set_dir(str(tmp_path / "torch" / "hub"))
    yield tmp_path / "torch"
    torch.hub.set_dir(os.path.join(os.path.expanduser("~"), ".cache", "torch", "hub"))


def test_torchvision_missing_weights_say_how_to_get_them(torch_home):
    with pytest.raises(ModelWeightsMissing) as info:
        load_model("torchvision:resnet18")
    assert "https://download.pytorch.org/models/resnet18" in info.value.hint
    assert str(torch_home) in info.value.hint


def test_torchvision_loads_weights_from_local_cache(torch_home):
    import torchvision

    weights = torchvision.models.ResNet18_Weights.DEFAULT
    net = torchvision.models.resnet18(weights=None)
    torch.manual_seed(1)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.02)
    target = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    target.parent.mkdir(parents=True)
    torch.save(net.state_dict(), target)
    loaded = load_model("torchvision:resnet18")
    assert loaded.embedding_dim == 512 and loaded.input_size == 224 and loaded.resize_size == 256
    # the loaded weights are the file's, not a fresh random init
    assert torch.equal(loaded.module.net.conv1.weight, net.conv1.weight)
    x = torch.rand(1, 3, 224, 224)
    net.fc = torch.nn.Identity()
    net.eval()
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), net(x), atol=1e-5)


def test_torchvision_weights_file_option(tmp_path):
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    path = tmp_path / "mine.pth"
    torch.save({"state_dict": net.state_dict()}, path)
    loaded = load_model("torchvision:resnet18", weights=path)
    assert torch.equal(loaded.module.net.conv1.weight, net.conv1.weight)


def test_checkpoint_with_wrong_arch_is_refused(tmp_path):
    path = tmp_path / "small.pt"
    torch.save(CifarResNet(8, [1, 1, 1, 1]).state_dict(), path)
    with pytest.raises(ConfigError, match="does not fit"):
        load_model(str(path), arch="cifar_resnet18")


def test_checkpoint_state_dict_and_torchscript(tmp_path):
    net = CifarResNet(64, [2, 2, 2, 2]).eval()
    sd = tmp_path / "r18.pth"
    torch.save(net.state_dict(), sd)
    loaded = load_model(str(sd), arch="cifar_resnet18", input_size=32)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), net(x), atol=1e-5)
    ts = tmp_path / "r18.torchscript.pt"
    torch.jit.trace(net, x).save(str(ts))
    scripted = load_model(str(ts), input_size=32)
    assert scripted.embedding_dim == 512
    with pytest.raises(ConfigError, match="not a TorchScript model"):
        load_model(str(sd))


def test_timm_from_local_weights_file(tmp_path):
    timm = pytest.importorskip("timm", reason="timm (the 'hub' extra) is not installed")
    from safetensors.torch import save_file

    net = timm.create_model("resnet18", pretrained=False, num_classes=0)
    torch.manual_seed(2)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.02)
    path = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    loaded = load_model("timm:resnet18", weights=path)
    assert loaded.embedding_dim == 512
    assert torch.equal(loaded.module.conv1.weight, net.conv1.weight)


def test_timm_missing_weights_offline(monkeypatch, tmp_path):
    pytest.importorskip("timm", reason="timm (the 'hub' extra) is not installed")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelWeightsMissing) as info:
        load_model("timm:resnet18")
    assert "--weights" in info.value.hint
