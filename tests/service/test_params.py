"""Job params -> validated config: every bad value is refused naming its parameter."""
from __future__ import annotations

import pytest

from labelscout.service.params import ParamError, job_config


@pytest.mark.parametrize("kind,params,param", [
    ("select", {}, "n"),
    ("select", {"n": 5, "metric": "cosin"}, "metric"),
    ("select", {"n": 5, "strategy": "nope"}, "strategy"),
    ("select", {"n": 5, "batch_size": 0}, "batch_size"),
    ("select", {"n": 5, "no_such_option": 1}, "no_such_option"),
    ("select", {"n": 5, "strategy": "typiclust", "strategy_params": {"k": -1}}, "strategy_params.k"),
    ("select", {"n": 5, "strategy_params": {"zz": 1}}, "strategy_params.zz"),
    ("select", {"n": 50}, "n"),  # more than the 10-file pool
    ("select", {"n": "12 percent"}, "n"),
    ("select", {"n": 5, "fps": -1}, "fps"),
    ("select", {"n": 5, "labels": "/etc/passwd"}, "labels"),
    ("select", {"n": 5, "exclude": "/etc/passwd"}, "exclude"),
    ("inspect", {"detectors": ["x"]}, "detectors"),
    ("inspect", {"contamination": 0.9}, "contamination"),
    ("embed", {"out": "/tmp/x"}, "out"),
    ("embed", {"cache_dir": "/tmp/x"}, "cache_dir"),
    ("train", {"epochs": 0}, "epochs"),
    ("train", {"method": "byol"}, "method"),
    ("train", {"source": "/etc"}, "source"),
    ("train", {"lr": 0.1}, "lr"),  # trainer options go in params, as in TrainConfig
    ("train", {"params": {"lr": -1}}, "params.lr"),
    ("train", {"params": {"no_such": 1}}, "params.no_such"),
    ("train", {"params": {"monitor": "/etc"}}, "params.monitor"),
    ("train", {"temporal": {"fpz": 1}}, "temporal.fpz"),
    ("nope", {}, "kind"),
    # a validation dataset: only for a strategy that takes one, in a space it fits, named by an id
    ("select", {"n": 5, "validation": "abc"}, "validation"),  # auto does not use one
    ("select", {"n": 5, "strategy": "coreset", "validation": "abc"}, "validation"),
    ("select", {"n": 5, "strategy": "density-match", "validation": "abc", "space": "pca"}, "validation"),
    ("select", {"n": 5, "strategy": "density-match", "validation": "../etc"}, "validation"),
    ("select", {"n": 5, "strategy": "density-match", "validation": ""}, "validation"),
    ("select", {"n": 5, "strategy": "density-match"}, "validation"),  # it needs one
    ("select", {"n": 5, "strategy": "fisher-match"}, "validation"),
    # a model's files: inside the dataset, and only for a prediction-based strategy
    ("select", {"n": 5, "strategy": "uncertainty", "predictions": "/etc/passwd"}, "predictions"),
    ("select", {"n": 5, "strategy": "uncertainty", "predictions": "../other/preds.csv"}, "predictions"),
    ("select", {"n": 5, "strategy": "uncertainty", "predictions": "a/../../preds.csv"}, "predictions"),
    ("select", {"n": 5, "strategy": "uncertainty", "predictions": "C:\\preds.csv"}, "predictions"),
    ("select", {"n": 5, "strategy": "badge", "predictions": "p.csv", "features": "\\\\host\\f.npy"}, "features"),
    ("select", {"n": 5, "strategy": "coreset", "predictions": "preds.csv"}, "predictions"),
    ("select", {"n": 5, "strategy": "uncertainty", "logits": True}, "logits"),
])
def test_bad_params_name_the_parameter(kind, params, param):
    with pytest.raises(ParamError) as info:
        job_config(kind, params, pool_size=10)
    assert info.value.param == param, info.value


@pytest.mark.parametrize("kind,params", [
    ("select", {"n": 5}),
    ("select", {"n": "50%", "strategy": "typiclust", "strategy_params": {"k": 3}, "dedupe": True}),
    ("select", {"n": 0.5, "space": "pca", "space_dim": 4, "fps": "all"}),
    ("select", {"n": 5, "strategy": "density-match", "validation": "a1b2"}),
    ("select", {"n": 5, "strategy": "uncertainty", "predictions": "model/preds.csv", "logits": True}),
    ("select", {"n": 5, "strategy": "combine", "predictions": "preds.csv", "features": "feats.npy",
                "strategy_params": {"strategies": {"uncertainty": 1, "coreset": 1}}}),
    ("select", {"n": 5, "strategy": "fisher-match", "validation": "a1b2", "labels": "folders"}),
    ("select", {"n": 5, "strategy": "combine", "validation": "a1b2",
                "strategy_params": {"strategies": {"density-match": 1, "coreset": 1}}}),
    ("inspect", {"detectors": ["outliers"], "contamination": 0.1}),
    ("embed", {"batch_size": 8}),
    ("report", {"job": "abc"}),
    ("train", {}),
    ("train", {"method": "autoencoder", "epochs": 1, "batch_size": 8, "params": {"width": 8, "monitor": "none"}}),
])
def test_valid_params_fill_every_default_and_are_stable(kind, params):
    config = job_config(kind, params, pool_size=10)
    assert set(params) <= set(config)
    assert job_config(kind, config, pool_size=10) == config  # a stored config validates to itself


def test_defaults_are_the_library_configs():
    """A job without params is the CLI command without options (same strategy, same model...)."""
    from dataclasses import fields

    from labelscout.config import InspectConfig, ModelConfig, SelectConfig, TrainConfig, VideoConfig

    def defaults(cls):
        return {f.name: f.default_factory() if callable(f.default_factory) else f.default for f in fields(cls)}

    select = job_config("select", {"n": 5})
    library = {**defaults(SelectConfig), **defaults(ModelConfig), **defaults(VideoConfig)}
    shared = set(select) & set(library) - {"n", "exclude", "frame_format"}
    assert shared >= {"strategy", "metric", "batch_size", "fps", "labels", "report"}
    assert {k: select[k] for k in shared} == {k: library[k] for k in shared}
    assert select["frame_format"] == library["frame_format"] and select["exclude"] == []
    inspect = job_config("inspect", {})
    assert inspect["detectors"] == defaults(InspectConfig)["detectors"]
    train = job_config("train", {})
    assert train == {k: v for k, v in defaults(TrainConfig).items() if k != "source"}


@pytest.mark.parametrize("strategy,params,needs", [
    ("fisher-match", {}, True),
    ("density-match", {}, False),
    ("combine", {"strategies": {"density-match": 1, "coreset": 1}}, False),
    ("combine", {"strategies": {"fisher-match": 1, "coreset": 1}}, True),
])
def test_validation_labels_are_needed_only_by_fisher_match(strategy, params, needs):
    from labelscout.service.params import validation_needs_labels

    config = job_config("select", {"n": 5, "strategy": strategy, "strategy_params": params, "validation": "v1"}, pool_size=10)
    assert config["validation"] == "v1"
    assert validation_needs_labels(config) is needs


def test_dataset_file_stays_inside_the_dataset(tmp_path):
    from labelscout.service.params import dataset_file

    root, outside = tmp_path / "ds", tmp_path / "secret.csv"
    (root / "model").mkdir(parents=True)
    (root / "model" / "preds.csv").write_text("id,a\n")
    outside.write_text("id,a\n")
    (root / "link.csv").symlink_to(outside)
    assert dataset_file(root, "model/preds.csv") == (root / "model" / "preds.csv").resolve()
    assert dataset_file(root, "model\\preds.csv") == (root / "model" / "preds.csv").resolve()
    for rel in ("link.csv", "../secret.csv", "model", "missing.csv", str(outside)):
        assert dataset_file(root, rel) is None, rel
