"""The training loop end to end on a few dozen real CIFAR-10 JPEGs: outputs, model-folder
round trip, resume equivalence, bad files, parameter errors, the CLI."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from labelscout.errors import ConfigError, InputError
from labelscout.models.model_dir import load_model_dir
from labelscout.ssl import SSLTrainer, train_model
from labelscout.ssl import trainer as trainer_mod
from labelscout.ssl.data import load_image_folder
from labelscout.ssl.views import normalize, to_float

# Small enough that one run takes a second or two on a CPU.
TINY = dict(epochs=2, batch_size=16, width=4, embedding_dim=16, knn_k=10, holdout=0.2, progress=False, threads=1)


def _weights(path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


@pytest.mark.parametrize("method", ["simclr", "swav", "autoencoder"])
def test_training_writes_a_loadable_model_and_a_record(cifar_sample, tmp_path, method):
    out = train_model(cifar_sample, tmp_path / "m", method=method, **TINY)
    assert out == tmp_path / "m"
    record = json.loads((out / "train.json").read_text())
    assert record["status"] == "finished"
    assert record["config"]["method"] == method
    assert [h["epoch"] for h in record["history"]] == [1, 2]
    assert all(np.isfinite(h["loss"]) and 0.0 <= h["knn_top1"] <= 1.0 for h in record["history"])
    assert record["counts"] == {"images_found": 60, "train_images": 48, "skipped": 0, "steps_per_epoch": 3}
    assert record["monitor"]["kind"] == "holdout" and record["monitor"]["queries"] == 12
    assert {"torch", "numpy", "labelscout"} <= set(record["versions"])
    assert record["seed"] == 0 and record["device"] == "cpu"
    assert record["export"]["embedding_dim"] == 16

    model, spec, _ = load_model_dir(out)
    assert spec.embedding_dim == 16 and spec.input_size == 32
    assert spec.mean == record["normalization"]["mean"]
    x = load_image_folder(cifar_sample, 32, progress=False).images[:5]
    with torch.no_grad():
        emb = model(normalize(to_float(x), spec.mean, spec.std))
    assert emb.shape == (5, 16) and torch.isfinite(emb).all()


def test_pca_export_is_the_centred_projection_of_the_backbone_features(cifar_sample, tmp_path):
    # monitor off: the PCA is then fitted on exactly the 60 images checked below
    trainer = SSLTrainer("simclr", **{**TINY, "epochs": 1, "embedding_dim": 8, "monitor": "none"})  # width 4: 32 features
    trainer.fit(cifar_sample, tmp_path / "m")
    info = trainer.record_["export"]
    assert info["reduce"] == "pca" and info["feature_dim"] == 32 and 0 < info["pca_explained_variance"] <= 1
    model, spec, _ = load_model_dir(tmp_path / "m")
    data = load_image_folder(cifar_sample, 32, progress=False)
    with torch.no_grad():
        emb = model(normalize(to_float(data.images), spec.mean, spec.std)).double()  # (60, 8)
    # the folded layer centres and rotates onto the principal axes: the projections have
    # zero mean, are uncorrelated, and come in order of decreasing variance
    cov = torch.cov(emb.T)
    var = torch.diag(cov)
    assert emb.mean(dim=0).abs().max() < 1e-3 * var.max().sqrt()
    assert torch.all(var[:-1] >= var[1:] * (1 - 1e-4))
    assert (cov - torch.diag(var)).abs().max() < 1e-3 * var.max()


def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(cifar_sample, tmp_path, monkeypatch):
    params = {**TINY, "epochs": 3, "method": "swav"}
    full = train_model(cifar_sample, tmp_path / "full", **params)

    real_lr_at = trainer_mod.lr_at

    def lr_at_then_crash(step, *args):
        if step == 3:  # the first step of epoch 2 (3 steps per epoch): the user presses Ctrl-C
            raise KeyboardInterrupt
        return real_lr_at(step, *args)

    monkeypatch.setattr(trainer_mod, "lr_at", lr_at_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train_model(cifar_sample, tmp_path / "resumed", **params)
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    partial = json.loads((tmp_path / "resumed" / "train.json").read_text())
    assert partial["status"] == "running" and len(partial["history"]) == 1

    monkeypatch.setattr(trainer_mod, "lr_at", real_lr_at)
    trainer = SSLTrainer(**params).fit(cifar_sample, tmp_path / "resumed")
    assert trainer.record_["resumed_from_epoch"] == 1
    a, b = _weights(full), _weights(tmp_path / "resumed")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    losses_full = [h["loss"] for h in json.loads((full / "train.json").read_text())["history"]]
    assert [h["loss"] for h in trainer.history_] == losses_full


def test_rerun_with_other_parameters_is_refused_and_no_resume_starts_over(cifar_sample, tmp_path):
    train_model(cifar_sample, tmp_path / "m", **{**TINY, "epochs": 1})
    with pytest.raises(ConfigError, match=r"other parameters \(batch_size: 16 -> 8, ") as exc:
        train_model(cifar_sample, tmp_path / "m", **{**TINY, "epochs": 1, "batch_size": 8})
    assert "--no-resume" in exc.value.hint
    trainer = SSLTrainer(**{**TINY, "epochs": 1, "batch_size": 8, "resume": False}).fit(cifar_sample, tmp_path / "m")
    assert trainer.record_["resumed_from_epoch"] is None
    assert trainer.record_["config"]["batch_size"] == 8


def test_same_seed_same_weights_other_seed_other_weights(cifar_sample, tmp_path):
    params = {**TINY, "epochs": 1, "monitor": "none"}
    a = _weights(train_model(cifar_sample, tmp_path / "a", seed=1, **params))
    b = _weights(train_model(cifar_sample, tmp_path / "b", seed=1, **params))
    c = _weights(train_model(cifar_sample, tmp_path / "c", seed=2, **params))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_bad_files_are_skipped_and_reported(cifar_sample, tmp_path):
    (cifar_sample / "cat" / "empty.jpg").write_bytes(b"")
    (cifar_sample / "ship" / "broken.png").write_bytes(b"not an image at all")
    trainer = SSLTrainer(**{**TINY, "epochs": 1, "monitor": "none", "weights_dtype": "float16"}).fit(cifar_sample, tmp_path / "m")
    skipped = {s["id"]: s["reason"] for s in trainer.record_["skipped"]}
    assert skipped == {"cat/empty.jpg": "empty_file", "ship/broken.png": "not_an_image"}
    assert trainer.record_["counts"]["train_images"] == 60
    assert all(v.dtype == torch.float16 for v in _weights(tmp_path / "m").values() if v.is_floating_point())


def test_separate_monitor_folder_uses_the_training_images_as_bank(cifar_root, cifar_sample, tmp_path):
    queries = tmp_path / "queries"
    for cls in ("airplane", "cat", "ship", "truck"):
        (queries / cls).mkdir(parents=True)
        for f in sorted((cifar_root / "train" / cls).iterdir())[:4]:
            shutil.copy2(f, queries / cls / f.name)
    trainer = SSLTrainer(**{**TINY, "epochs": 1, "monitor": str(queries)}).fit(cifar_sample, tmp_path / "m")
    mon = trainer.record_["monitor"]
    assert mon["kind"] == "folder" and mon["queries"] == 16 and mon["bank"] == 60
    # "truck" is not a training class: its queries can never be right
    assert trainer.history_[-1]["knn_top1"] <= 12 / 16


class NeighbourPairs:
    """A stand-in for a temporal sampler: image i is paired with image i + 1 (its "next frame")."""

    def __init__(self, n, batch_size):
        self.n, self.batch_size, self.seen = n, batch_size, []

    def num_batches(self):
        return (self.n - 1) // self.batch_size

    def batches(self, epoch, generator):
        order = torch.randperm(self.n - 1, generator=generator)
        for i in range(self.num_batches()):
            a = order[i * self.batch_size : (i + 1) * self.batch_size]
            self.seen.append((epoch, a.clone()))
            yield a, a + 1

    def describe(self):
        return {"sampler": "neighbours", "n": self.n}


def test_a_custom_pair_sampler_plugs_in(cifar_sample, tmp_path):
    sampler = NeighbourPairs(60, 16)
    trainer = SSLTrainer(**{**TINY, "monitor": "none"}).fit(cifar_sample, tmp_path / "m", pair_sampler=sampler)
    assert trainer.record_["config"]["sampler"] == {"sampler": "neighbours", "n": 60}
    assert trainer.record_["counts"]["steps_per_epoch"] == 3
    assert [e for e, _ in sampler.seen] == [0, 0, 0, 1, 1, 1]
    # each epoch's batches come from a generator seeded by (seed, epoch): epochs differ
    assert not torch.equal(sampler.seen[0][1], sampler.seen[3][1])


@pytest.mark.parametrize("kwargs, fragment", [
    ({"method": "byol"}, "'method' parameter of SSLTrainer must be one of {'autoencoder', 'simclr', 'swav'}. Got 'byol'"),
    ({"epochs": 0}, "'epochs' parameter of SSLTrainer must be an int in the range [1, inf]. Got 0"),
    ({"lr": -0.1}, "'lr' parameter of SSLTrainer must be a float in the range (0, inf) or None. Got -0.1"),
    ({"holdout": 1.0}, "'holdout' parameter of SSLTrainer must be a float in the range (0, 1). Got 1.0"),
    ({"blocks": [1, 0]}, "'blocks' parameter of SSLTrainer must be a non-empty list of ints >= 1. Got [1, 0]"),
    ({"method": "autoencoder", "temperature": 0.2}, "'temperature' parameter of SSLTrainer does not apply to method 'autoencoder'"),
    ({"method": "autoencoder", "input_size": 36}, "'input_size' parameter of SSLTrainer must be divisible by 8"),
    ({"monitor": "/no/such/folder"}, "'monitor' parameter of SSLTrainer must be 'auto', 'none' or an existing folder. Got '/no/such/folder'"),
    ({"device": "tpu"}, "'device' parameter must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'. Got 'tpu'"),
    ({"method_params": {"n_prototypes": 1}, "method": "swav"}, "'n_prototypes' parameter of SwAV must be an int in the range [2, inf]. Got 1"),
    ({"method_params": {"not_a_param": 1}}, "'method_params' parameter of SSLTrainer has an argument SimCLR does not take"),
])
def test_parameter_errors_name_parameter_rule_and_value(cifar_sample, tmp_path, kwargs, fragment):
    with pytest.raises(ConfigError) as exc:
        SSLTrainer(**{**TINY, **kwargs}).fit(cifar_sample, tmp_path / "m")
    assert fragment in str(exc.value)


def test_input_errors(tmp_path, cifar_sample):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(InputError, match=r"No images found .* \(found only: 1 \.txt\)"):
        train_model(tmp_path / "empty", tmp_path / "m", **TINY)
    with pytest.raises(InputError, match="batch_size 64 is larger than the 48 training images") as exc:
        train_model(cifar_sample, tmp_path / "m", **{**TINY, "batch_size": 64})
    assert exc.value.hint == "Use --batch-size 48 or less, or train on more images."


def test_seeds_of_epochs_and_streams_differ():
    seeds = {trainer_mod._seed_for(s, e, k) for s in range(3) for e in range(5) for k in range(2)}
    assert len(seeds) == 30
    assert all(0 <= s < 2**63 for s in seeds)


def test_cli_help_and_a_tiny_real_run(cifar_sample, tmp_path, capsys):
    from typer.testing import CliRunner

    from labelscout.cli import app, main

    result = CliRunner().invoke(app, ["train", "--help"], terminal_width=200)
    assert result.exit_code == 0
    help_text = result.output
    assert "Train an embedding model on unlabeled images" in help_text
    for option in ("--method", "--out", "--epochs", "--batch-size", "--lr", "--width", "--embedding-dim",
                   "--input-size", "--seed", "--device", "--resume"):
        assert option in help_text

    out = tmp_path / "cli-model"
    try:
        main(["-q", "train", str(cifar_sample), "--out", str(out), "--method", "simclr", "--epochs", "1", "--batch-size", "16",
              "--width", "4", "--embedding-dim", "16", "--holdout", "0.2", "--threads", "1"])
    except SystemExit as exc:  # the entry point may exit explicitly with status 0
        assert exc.code in (0, None)
    printed = capsys.readouterr().out
    assert f"-> {out}" in printed and f"labelscout select IMAGES -n N --model {out}" in printed
    model, spec, _ = load_model_dir(out)
    assert spec.embedding_dim == 16


def test_cli_errors_are_one_line_with_a_hint(cifar_sample, tmp_path, capsys):
    from labelscout.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train", str(cifar_sample), "--out", str(tmp_path / "m"), "--method", "simclrr"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: The 'method' parameter of SSLTrainer must be one of")
    with pytest.raises(SystemExit):
        main(["train", str(cifar_sample), "--out", str(tmp_path / "m"), "--blocks", "1,x"])
    err = capsys.readouterr().err
    assert err.startswith("error: --blocks must be comma-separated integers such as 1,1,1,1. Got '1,x' instead.")
    assert "hint: Use 1,1,1,1" in err
