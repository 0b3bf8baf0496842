"""Embedding videos: frames become samples beside images, vectors are those of the decoded
frames, a second run decodes nothing, clips are means of their frames, bad videos are
reported and the rest goes on."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import _video as V
from labelscout.embed.embedder import Embedder
from labelscout.sources.video import VideoOptions


@pytest.fixture
def mixed(tmp_path, videos_dir) -> Path:
    """Two real clips, one generated clip in a sub-folder, two images and two broken videos."""
    root = tmp_path / "data"
    (root / "cam").mkdir(parents=True)
    shutil.copy(videos_dir / "street_cuts.mp4", root / "street_cuts.mp4")
    V.cuts_clip(root / "cam" / "cuts.mkv", bframes=2, gop=10)
    from PIL import Image

    Image.fromarray(V.scene_frame(7, 0)).save(root / "photo.png")
    Image.fromarray(V.scene_frame(8, 0)).save(root / "cam" / "photo2.jpg")
    V.audio_only(root / "voice.m4a")  # .m4a is not a video extension: ignored, not reported
    V.audio_only(root / "podcast.mp4")
    # a recording cut off mid-way, written for streaming (index first): its first half is usable
    V.truncate(V.cuts_clip(tmp_path / "whole.mp4", bframes=2), root / "cut_short.mp4", 0.5)
    return root


@pytest.fixture
def small_clips(tmp_path) -> Path:
    root = tmp_path / "clips"
    root.mkdir()
    V.cuts_clip(root / "a.mp4", n_scenes=5, frames_per_scene=25, bframes=3, gop=20)
    V.cuts_clip(root / "b.webm", n_scenes=3, codec="libvpx-vp9", options={"deadline": "realtime", "cpu-used": "8"})
    return root


def _embedder(model_dir, **kw) -> Embedder:
    kw.setdefault("video", VideoOptions(fps=2.0))
    return Embedder(str(model_dir), device="cpu", progress=False, **kw)


def test_videos_and_images_embed_together(mixed, small_model_dir):
    res = _embedder(small_model_dir).embed(mixed)
    emb = res.embeddings
    ref = V.reference_decode(mixed / "street_cuts.mp4")
    video_ids = [i for i in emb.ids if "#" in i]
    assert {"photo.png", "cam/photo2.jpg"} <= set(emb.ids)
    # 10 s at 2 fps: the first frame at or after every half second
    street = [i for i in video_ids if i.startswith("street_cuts.mp4#")]
    assert len(street) == 20
    frames = [int(i.split("=")[1]) for i in street]
    assert frames == [next(k for k, (_, _, t, _) in enumerate(ref) if t >= s / 2 - 1e-9) for s in range(20)]
    meta = emb.sample_meta
    for col in ("video", "frame", "timestamp", "pts"):
        assert len(meta[col]) == len(emb)
    r = emb.ids.index("street_cuts.mp4#frame=13")
    assert (meta["video"][r], meta["frame"][r], meta["timestamp"][r], meta["pts"][r]) == ("street_cuts.mp4", 13, ref[13][2], ref[13][1])
    assert meta["video"][emb.ids.index("photo.png")] is None
    # bad videos are reported with reasons; the truncated one keeps its first frames
    reasons = {(s["id"], s["reason"]) for s in res.skipped}
    assert ("podcast.mp4", "no_video_stream") in reasons
    assert ("cut_short.mp4", "truncated") in reasons
    assert any(i.startswith("cut_short.mp4#frame=") for i in emb.ids)
    assert res.stats["videos_found"] == 4 and res.stats["videos_decoded"] == 3 and res.stats["videos_failed"] == 1


def test_frame_vectors_are_the_model_on_the_decoded_frames(videos_dir, small_model_dir, tmp_path):
    """The vector of frame N is the model applied to frame N of an independent decode
    (scaled by swscale like the pipeline; at the model size no scaling happens)."""
    import av

    from labelscout.sources.video_decode import DecodeSettings, to_model_input

    emb_er = _embedder(small_model_dir, cache_dir=None)
    emb = emb_er.embed(videos_dir / "dashcam_highway.mp4").embeddings
    settings = DecodeSettings(size=32, resize=32)
    with av.open(str(videos_dir / "dashcam_highway.mp4")) as c:
        frames = [to_model_input(f, settings) for f in c.decode(video=0)]
    for row in (0, 5, len(emb) - 1):
        n = emb.sample_meta["frame"][row]
        x = torch.from_numpy(frames[n]).permute(2, 0, 1)[None]
        np.testing.assert_allclose(emb.vectors[row], emb_er.forward_uint8(x)[0], rtol=1e-4, atol=1e-5)


def test_a_second_run_decodes_nothing(mixed, small_model_dir, monkeypatch):
    first = _embedder(small_model_dir).embed(mixed)
    assert first.stats["videos_decoded"] == 3

    import av

    opened = []
    real_open = av.open

    def spy_open(file, *a, **k):
        opened.append(Path(file).name)
        return real_open(file, *a, **k)

    monkeypatch.setattr(av, "open", spy_open)
    second = _embedder(small_model_dir).embed(mixed)
    # FFmpeg opens only the video that failed (it is probed again, cheaply: nothing of it is cached)
    assert opened == ["podcast.mp4"]
    assert second.stats["videos_decoded"] == 0 and second.stats["videos_from_cache"] == 3
    assert second.embeddings.ids == first.embeddings.ids
    np.testing.assert_array_equal(second.embeddings.vectors, first.embeddings.vectors)
    # problems found when decoding are reported again from the cache
    assert {(s["id"], s["reason"]) for s in second.skipped} == {(s["id"], s["reason"]) for s in first.skipped}


def test_other_decode_settings_miss_the_cache(mixed, small_model_dir):
    _embedder(small_model_dir).embed(mixed)
    again = _embedder(small_model_dir, video=VideoOptions(fps=1.0)).embed(mixed)
    assert again.stats["videos_decoded"] == 3


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_threads_do_not_change_the_result(small_clips, small_model_dir, workers):
    base = _embedder(small_model_dir, cache_dir=None, workers=0, video=VideoOptions(fps=10)).embed(small_clips).embeddings
    got = _embedder(small_model_dir, cache_dir=None, workers=workers, video=VideoOptions(fps=10)).embed(small_clips).embeddings
    assert got.ids == base.ids
    np.testing.assert_allclose(got.vectors, base.vectors, rtol=1e-5, atol=1e-6)


def test_sequences_are_means_of_consecutive_frames(videos_dir, small_model_dir):
    frames = _embedder(small_model_dir, cache_dir=None).embed(videos_dir / "street_cuts.mp4").embeddings
    clips = _embedder(small_model_dir, cache_dir=None, video=VideoOptions(fps=2.0, sequence_length=3)).embed(
        videos_dir / "street_cuts.mp4").embeddings
    assert len(clips) == 7  # 20 frames -> 6 clips of 3 and a last clip of 2
    f = frames.sample_meta["frame"]
    assert clips.ids[0] == f"street_cuts.mp4#frames={f[0]}-{f[2]}"
    assert clips.ids[-1] == f"street_cuts.mp4#frames={f[18]}-{f[19]}"
    np.testing.assert_allclose(clips.vectors[1], frames.vectors[3:6].mean(axis=0), rtol=1e-5, atol=1e-6)
    assert clips.sample_meta["clip_frames"][1] == " ".join(str(x) for x in f[3:6])
    assert clips.sample_meta["timestamp_end"][1] == frames.sample_meta["timestamp"][5]


def test_a_folder_of_only_bad_videos_reports_each(tmp_path, small_model_dir):
    V.audio_only(tmp_path / "a.mp4")
    (tmp_path / "b.mkv").write_bytes(b"")
    res = _embedder(small_model_dir).embed(tmp_path)
    assert len(res.embeddings) == 0
    assert {(s["id"], s["reason"]) for s in res.skipped} == {("a.mp4", "no_video_stream"), ("b.mkv", "empty_file")}
