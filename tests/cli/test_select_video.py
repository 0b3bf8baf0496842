"""``labelscout select`` over videos, end to end: frame ids, timestamps and written frames are
checked against an independent decode; bad videos are reported and the run goes on; a rerun
decodes nothing; clips of frames; a near-static clip needs far fewer picks than one with cuts;
the default strategy sees a clip of repeated scenes and picks each scene once."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import _video as V
from labelscout import select
from labelscout.cli import main


def run_cli(*args: str) -> None:
    try:
        main(list(args))
    except SystemExit as exc:
        assert not exc.code, f"labelscout {' '.join(args)} exited with {exc.code}"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def drives(tmp_path, videos_dir) -> Path:
    root = tmp_path / "drives"
    (root / "day2").mkdir(parents=True)
    shutil.copy(videos_dir / "dashcam_highway.mp4", root / "highway.mp4")
    V.cuts_clip(root / "day2" / "town.mkv", n_scenes=4, frames_per_scene=25, bframes=2, gop=10)
    return root


def test_select_writes_frames_that_match_an_independent_decode(drives, small_model_dir, tmp_path, capsys):
    out = tmp_path / "runs" / "drive"
    run_cli("-q", "select", str(drives), "-n", "12", "--fps", "4", "--model", str(small_model_dir), "--out", str(out),
            "--frame-format", "png")
    assert "Selected 12 of" in capsys.readouterr().out
    rows = read_csv(out / "selection.csv")
    assert len(rows) == 12
    refs = {v: V.reference_decode(drives / v) for v in ("highway.mp4", "day2/town.mkv")}
    for row in rows:
        video, n = row["video"], int(row["frame"])
        assert row["id"] == f"{video}#frame={n}"
        i, pts, t, pixels = refs[video][n]
        assert int(row["pts"]) == pts
        assert float(row["timestamp"]) == pytest.approx(t, abs=1e-6)
        stem = Path(video).stem
        assert row["file"] == f"frames/{Path(video).with_suffix('').as_posix()}/{stem}-{n:06d}.png"
        written = np.asarray(Image.open(out / row["file"]))
        np.testing.assert_array_equal(written, pixels)  # full resolution, lossless
    # only the selected frames are on disk
    assert len(list((out / "frames").rglob("*.png"))) == 12
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished" and record["counts"]["frames_written"] == 12
    assert record["embedding"]["videos_decoded"] == 2


def test_jpeg_frames_by_default(drives, small_model_dir, tmp_path):
    out = tmp_path / "run"
    res = select(drives / "highway.mp4", 3, out=out, model=str(small_model_dir), fps=1, progress=False)
    ref = V.reference_decode(drives / "highway.mp4")
    for file, n in zip(res.selection.extra_columns["file"], res.selection.extra_columns["frame"]):
        assert file.endswith(".jpg")
        got = np.asarray(Image.open(out / file)).astype(np.float64)
        mse = np.mean((got - ref[n][3]) ** 2)
        assert 10 * np.log10(255**2 / mse) > 35  # quality 95 at full resolution


def test_bad_videos_are_reported_and_the_run_goes_on(drives, small_model_dir, tmp_path, capsys):
    V.audio_only(drives / "dashcam_audio.mp4")
    V.truncate(V.cuts_clip(tmp_path / "whole.mp4", bframes=2), drives / "cut_off.mp4", 0.5)
    (drives / "empty.mov").write_bytes(b"")
    out = tmp_path / "run"
    run_cli("select", str(drives), "-n", "5", "--fps", "2", "--model", str(small_model_dir), "--out", str(out))
    line = capsys.readouterr().out
    # the truncated video's good frames are used: it is a damaged video, not an unreadable one
    assert "skipped 2 unreadable (1 empty_file, 1 no_video_stream)" in line
    assert "1 damaged video(s) whose good frames are used" in line
    record = json.loads((out / "run.json").read_text())
    skipped = {s["id"]: s for s in record["skipped"]}
    assert skipped["dashcam_audio.mp4"]["reason"] == "no_video_stream"
    assert skipped["empty.mov"]["reason"] == "empty_file"
    assert skipped["cut_off.mp4"]["reason"] == "truncated" and int(skipped["cut_off.mp4"]["kept_frames"]) > 0
    ids = (out / "selection.txt").read_text().split()
    assert len(ids) == 5
    pool = json.loads((out / "embeddings" / "embeddings.json").read_text())["ids"]
    assert any(i.startswith("cut_off.mp4#frame=") for i in pool)  # frames before the cut are used


def test_a_rerun_decodes_nothing_and_keeps_written_frames(drives, small_model_dir, tmp_path):
    out = tmp_path / "run"
    args = ("-q", "select", str(drives), "-n", "6", "--fps", "3", "--model", str(small_model_dir), "--out", str(out))
    run_cli(*args)
    first = (out / "selection.txt").read_text()
    run_cli(*args)
    second = json.loads((out / "run.json").read_text())
    assert second["embedding"]["videos_decoded"] == 0 and second["embedding"]["videos_from_cache"] == 2
    assert second["embedding"]["video_source_frames_decoded"] == 0
    assert second["frames"]["frames_existing"] == 6 and second["frames"]["frames_written"] == 0
    assert (out / "selection.txt").read_text() == first


def test_sequences_write_each_clip_as_a_folder(drives, small_model_dir, tmp_path):
    out = tmp_path / "run"
    run_cli("-q", "select", str(drives / "day2" / "town.mkv"), "-n", "3", "--fps", "5", "--sequence-length", "4",
            "--model", str(small_model_dir), "--out", str(out))
    rows = read_csv(out / "selection.csv")
    ref = V.reference_decode(drives / "day2" / "town.mkv")
    for row in rows:
        frames = [int(x) for x in row["clip_frames"].split()]
        assert row["id"] == f"town.mkv#frames={frames[0]}-{frames[-1]}" and len(frames) == 4  # a file: ids relative to its folder
        assert float(row["timestamp_end"]) == pytest.approx(ref[frames[-1]][2])
        files = sorted((out / row["file"]).iterdir())
        assert [f.name for f in files] == [f"town-{n:06d}.jpg" for n in frames]


def test_a_near_static_clip_needs_far_fewer_picks_than_one_with_cuts(tmp_path, small_model_dir):
    static = V.static_clip(tmp_path / "static.mp4", n_frames=100)
    cuts = V.cuts_clip(tmp_path / "cuts.mp4", n_scenes=5, frames_per_scene=20)
    kw = dict(model=str(small_model_dir), fps="all", progress=False, strategy="coreset")  # stop_radius is coreset's
    full = select(cuts, "100%", **kw).selection
    radius = 0.1 * float(full.scores[1])  # a tenth of the largest gap in the clip with cuts
    n_static = len(select(static, "100%", strategy_params={"stop_radius": radius}, **kw).selection)
    n_cuts = len(select(cuts, "100%", strategy_params={"stop_radius": radius}, **kw).selection)
    assert n_static <= 2 and n_cuts >= 5 * n_static


def test_fps_all_and_bad_values(drives, small_model_dir, tmp_path):
    res = select(drives / "day2" / "town.mkv", "100%", model=str(small_model_dir), fps="all", progress=False)
    assert len(res.selection) == 100
    from labelscout.errors import ConfigError

    with pytest.raises(ConfigError, match="'fps' parameter of VideoOptions"):
        select(drives, 2, model=str(small_model_dir), fps="fast")
    with pytest.raises(ConfigError, match="'sequence_length'"):
        select(drives, 2, model=str(small_model_dir), sequence_length=0)
    with pytest.raises(ConfigError, match="'frame_format'"):
        select(drives, 2, model=str(small_model_dir), frame_format="gif")


@pytest.mark.parametrize("n", [2, 4])
def test_auto_sees_a_clip_of_repeated_scenes_and_picks_each_scene_once(tmp_path, small_model_dir, n):
    """Every frame of a clip of 5 static scenes: the default strategy finds the pool
    repetitive, says so, chooses by the budget per estimated scene, and spends the budget on
    different scenes."""
    from labelscout.strategies.auto import choose_repetitive

    cuts = V.cuts_clip(tmp_path / "cuts.mp4", n_scenes=5, frames_per_scene=20)
    res = select(cuts, n, model=str(small_model_dir), fps="all", progress=False, out=tmp_path / "run", report=False)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    choice = record["selection"]["choice"]
    assert choice["repetition"]["repetitive"] and 4 <= choice["repetition"]["groups"] <= 12, choice["repetition"]
    strategy = choose_repetitive(n, choice["repetition"]["groups"])[0].strategy
    assert choice["strategy"] == strategy
    rows = read_csv(tmp_path / "run" / "selection.csv")
    assert all(r["reason"].startswith(f"auto -> {strategy} (repetitive pool") for r in rows)
    scenes = [int(r["frame"]) // 20 for r in rows]
    assert len(rows) == n == len(res.selection) and len(set(scenes)) == n
