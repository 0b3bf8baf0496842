"""Typed run configs: validated in one place, written whole into run.json, and a run
replayed from its run.json repeats its selection byte for byte."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import _video as V
from _cli import run_cli
from labelscout.config import EmbedConfig, InspectConfig, ModelConfig, SelectConfig, TrainConfig, VideoConfig
from labelscout.errors import ConfigError, InputError

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cifar10-sample"

_text = st.text(alphabet="abcxyz/._-0123456789", min_size=1, max_size=12)
_configs = st.builds(
    SelectConfig,
    source=_text, n=st.one_of(st.integers(1, 10**6), st.sampled_from(["10%", "0.5", "7"])),
    strategy=st.sampled_from(["coreset", "random", "typicality"]), seed=st.integers(0, 2**31),
    strategy_params=st.dictionaries(st.sampled_from(["k", "metric"]), st.one_of(st.integers(1, 50), st.just("l2"))),
    exclude=st.one_of(st.none(), st.lists(_text, max_size=5)), dedupe=st.booleans(),
    near_dup_threshold=st.one_of(st.none(), st.floats(0, 1)), space=st.sampled_from([None, "raw", "norm", "pca", "umap"]),
    model=st.builds(ModelConfig, model=st.one_of(st.none(), _text), batch_size=st.integers(1, 512)),
    video=st.builds(VideoConfig, fps=st.one_of(st.none(), st.floats(0.1, 60)), sequence_length=st.integers(1, 8)),
)


@settings(max_examples=60, deadline=None)
@given(cfg=_configs)
def test_to_dict_round_trips_through_json(cfg):
    data = json.loads(json.dumps(cfg.to_dict()))
    assert SelectConfig.from_dict(data) == cfg


@pytest.mark.parametrize("cls", [SelectConfig, InspectConfig, EmbedConfig, TrainConfig])
def test_every_config_round_trips_its_defaults_and_rejects_unknown_fields(cls):
    cfg = cls()
    assert cls.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match=rf"{cls.__name__} has no field 'colour'; its fields are "):
        cls.from_dict({**cfg.to_dict(), "colour": 1})


@pytest.mark.parametrize("changes, message", [
    ({"n": 0}, "'n' parameter of SelectConfig must be"),
    ({"n": "ten"}, "'n' parameter must be a count"),
    ({"metric": "cosin"}, "'metric' parameter of SelectConfig must be one of"),
    ({"strategy": "nope"}, "'strategy' parameter must be one of"),
    ({"strategy_params": {"kk": 3}}, "has no parameter 'kk'"),
    ({"space": "umap", "space_dim": 0}, "'space_dim' parameter of SelectConfig must be"),
    ({"space": "warp"}, "'space' parameter must be one of"),
    ({"place": "move"}, "'place' parameter of SelectConfig must be one of"),
    ({"frame_format": "gif"}, "'frame_format' parameter must be one of"),
    ({"embeddings": "x.npy"}, "Give exactly one of 'source'"),
    ({"exclude": ["a", 3]}, "list of sample ids"),
    ({"model": ModelConfig(batch_size=0)}, "'batch_size' parameter of ModelConfig"),
    ({"video": VideoConfig(fps=-1)}, "'fps' parameter of VideoOptions"),
    ({"dedupe": True, "near_dup_ratio": 2.0}, "'near_dup_ratio' parameter of SelectConfig"),
])
def test_validation_names_the_field_and_the_value(changes, message):
    with pytest.raises(ConfigError, match=message):
        SelectConfig(source="images", **changes).validate()


def test_validation_normalises_paths_and_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = SelectConfig(source="images", video=VideoConfig(fps="all"), labels="labels.csv").validate()
    assert cfg.source == str(tmp_path / "images") and cfg.labels == str(tmp_path / "labels.csv") and cfg.video.fps is None
    assert SelectConfig(source="images", video=VideoConfig(fps="5")).validate().video.fps == 5.0
    with pytest.raises(ConfigError, match="TrainConfig.params has no trainer parameter 'widht'"):
        TrainConfig(source="x", params={"widht": 3}).validate()
    with pytest.raises(InputError, match="holds no SelectConfig"):
        (tmp_path / "old").mkdir()
        (tmp_path / "old" / "run.json").write_text(json.dumps({"config": {"n": 3}}))
        SelectConfig.from_run(tmp_path / "old")


def _replay(first: Path, second: Path, capsys) -> None:
    code, _, err = run_cli(["select", "--config", first / "run.json", "--out", second], capsys)
    assert code == 0, err
    assert (second / "selection.txt").read_bytes() == (first / "selection.txt").read_bytes()
    assert (second / "selection.csv").read_bytes() == (first / "selection.csv").read_bytes()
    a, b = (json.loads((d / "run.json").read_text()) for d in (first, second))
    assert a["config"] == b["config"] and a["config_type"] == "SelectConfig"
    assert b["command"].startswith("labelscout select --config") and b["origin"] == b["command"]


@pytest.mark.parametrize("extra", [[], ["--exclude", "LABELED"], ["-s", "combine", "--dedupe", "--space", "pca"]])
def test_select_config_replays_an_image_run_byte_for_byte(extra, small_model_dir, tmp_path, capsys):
    labeled = tmp_path / "labeled.txt"
    labeled.write_text("cat/0000.jpg\nship/0001.jpg\nnot/in/pool.jpg\n")
    extra = [str(labeled) if a == "LABELED" else a for a in extra]
    first = tmp_path / "a"
    code, _, err = run_cli(["select", SAMPLE, "-n", "25", "--out", first, "--model", small_model_dir, "--no-report",
                            "--workers", "0", *extra], capsys)
    assert code == 0, err
    record = json.loads((first / "run.json").read_text())
    if "--exclude" in extra:  # the ids themselves are recorded, so the replay needs no file
        assert record["config"]["exclude"] == ["cat/0000.jpg", "ship/0001.jpg", "not/in/pool.jpg"]
        labeled.unlink()
    _replay(first, tmp_path / "b", capsys)


def test_select_config_replays_a_video_run_byte_for_byte(small_model_dir, tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    V.cuts_clip(videos / "cuts.mp4", n_scenes=4, frames_per_scene=15)
    V.static_clip(videos / "still.mp4", n_frames=40)
    first = tmp_path / "a"
    code, _, err = run_cli(["select", videos, "-n", "8", "--out", first, "--model", small_model_dir, "--no-report",
                            "--fps", "10"], capsys)
    assert code == 0, err
    assert all("#frame=" in line for line in (first / "selection.txt").read_text().splitlines())
    _replay(first, tmp_path / "b", capsys)
    assert sorted(p.name for p in (tmp_path / "b" / "frames").rglob("*.jpg")) == \
        sorted(p.name for p in (first / "frames").rglob("*.jpg"))


def test_config_with_other_options_is_refused(small_model_dir, tmp_path, capsys):
    code, _, err = run_cli(["select", "--config", tmp_path / "x" / "run.json", "--out", tmp_path / "b", "-n", "5"], capsys)
    assert code == 2 and "drop -n" in err
    assert not (tmp_path / "b").exists()


def test_the_api_records_its_own_origin_not_sys_argv(tmp_path, monkeypatch, rng):
    import numpy as np

    import labelscout

    monkeypatch.setattr("sys.argv", ["celery", "worker", "--concurrency=4"])
    np.save(tmp_path / "X.npy", rng.normal(size=(30, 4)).astype(np.float32))
    (tmp_path / "ids.txt").write_text("".join(f"s{i}\n" for i in range(30)))
    res = labelscout.select(embeddings=tmp_path / "X.npy", ids=tmp_path / "ids.txt", n=5, out=tmp_path / "r", report=False)
    assert res.record.command == "python api"
    res = labelscout.run_select(res.record.config and SelectConfig.from_run(tmp_path / "r"), out=tmp_path / "r2",
                                origin="service job 42")
    record = json.loads((tmp_path / "r2" / "run.json").read_text())
    assert record["command"] == record["origin"] == "service job 42"
    assert (tmp_path / "r2" / "selection.txt").read_bytes() == (tmp_path / "r" / "selection.txt").read_bytes()
