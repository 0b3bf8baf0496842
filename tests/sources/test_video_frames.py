"""Video frames decoded once for training: pixels, numbers and timestamps agree with the
embedding pipeline's decoding and with an independent decode; storage on disk gives the
same frames; bad videos are reported."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import _video as V
from labelscout.errors import InputError
from labelscout.sources.video_decode import DecodeSettings, to_model_input
from labelscout.sources.video_frames import load_video_frames
from labelscout.ssl.temporal import TemporalPairSampler


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    V.cuts_clip(root / "a.mp4", n_scenes=3, frames_per_scene=25, bframes=2, gop=10)
    V.cuts_clip(root / "b.mkv", n_scenes=2, frames_per_scene=25)
    V.audio_only(root / "c.mp4")
    from PIL import Image

    Image.fromarray(V.scene_frame(1, 1)).save(root / "still.png")
    return root


@pytest.mark.parametrize("workers", [0, 2])
def test_frames_match_an_independent_decode(folder, workers):
    import av

    frames = load_video_frames(folder, size=24, fps=5, workers=workers, progress=False)
    assert frames.images.shape == (len(frames), 3, 24, 24) and frames.images.dtype == torch.uint8
    assert frames.videos == ["a.mp4", "b.mkv"]
    assert [s["id"] for s in frames.skipped] == ["c.mp4"]
    for v, name in enumerate(frames.videos):
        ref = V.reference_decode(folder / name)
        rows = np.flatnonzero(frames.video == v)
        assert len(rows) == {"a.mp4": 15, "b.mkv": 10}[name]  # 3 s and 2 s at 5 fps
        with av.open(str(folder / name)) as c:
            decoded = list(c.decode(video=0))
        for r in rows:
            n = frames.frame_index[r]
            assert frames.ids[r] == f"{name}#frame={n}"
            assert frames.timestamps[r] == pytest.approx(ref[n][2])
            expect = to_model_input(decoded[n], DecodeSettings(size=24))
            np.testing.assert_array_equal(frames.images[r].permute(1, 2, 0).numpy(), expect)


def test_storage_on_disk_gives_the_same_frames(folder, tmp_path):
    in_ram = load_video_frames(folder, size=16, fps="all", progress=False)
    on_disk = load_video_frames(folder, size=16, fps="all", storage=tmp_path / "frames.u8", progress=False)
    assert (tmp_path / "frames.u8").stat().st_size == len(in_ram) * 3 * 16 * 16
    assert on_disk.ids == in_ram.ids
    assert bool((on_disk.images == in_ram.images).all())


def test_frames_feed_the_temporal_sampler(folder):
    frames = load_video_frames(folder, size=8, fps=10, progress=False)
    # 3 s and 2 s of video, frames 1 s apart: at most 3 + 2 per batch
    sampler = TemporalPairSampler(frames.video, frames.timestamps, batch_size=4, max_dt=0.5, min_gap=1.0)
    for a, b in sampler:
        assert np.all(frames.video[a] == frames.video[b])
        batch = frames.images[a]  # what a trainer hands to make_views
        assert batch.shape == (4, 3, 8, 8)


def test_no_usable_video_is_an_error(tmp_path):
    V.audio_only(tmp_path / "a.mp4")
    with pytest.raises(InputError, match="a.mp4: no_video_stream"):
        load_video_frames(tmp_path, size=8, progress=False)
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    Image.fromarray(V.scene_frame(1, 1)).save(images / "still.png")
    with pytest.raises(InputError, match="No videos found"):
        load_video_frames(images, size=8, progress=False)
