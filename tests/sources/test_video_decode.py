"""Decoding videos in memory: frame numbers, timestamps, fps sampling and pixels are checked
against a plain, independent PyAV decode from the start; segmented (parallel) decoding must
give exactly what one sequential pass gives; damaged files are reported and their good frames
kept."""
from __future__ import annotations

import fractions
import math
from pathlib import Path

import numpy as np
import pytest

import _video as V
from labelscout.sources.video import probe_video
from labelscout.sources.video_decode import (
    DecodedVideo,
    DecodeSettings,
    SegmentDecoded,
    VideoFailed,
    VideoRestarted,
    decode_videos,
    plan_segments,
    read_frames_at,
)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    out = {
        "bframes.mp4": V.cuts_clip(d / "bframes.mp4", bframes=3, gop=12),
        "plain.mkv": V.cuts_clip(d / "plain.mkv", bframes=2, gop=10),
        "vp9.webm": V.cuts_clip(d / "vp9.webm", codec="libvpx-vp9", gop=15, options={"deadline": "realtime", "cpu-used": "8"}),
        "mpeg4.avi": V.cuts_clip(d / "mpeg4.avi", codec="mpeg4", gop=10, options={"qscale": "3"}),
    }
    rng = np.random.default_rng(0)
    pts = np.concatenate([[0], np.cumsum(rng.choice([20, 40, 70, 300], size=59))])
    frames = [V.scene_frame(i // 15, i) for i in range(60)]
    out["vfr.mp4"] = V.encode_video(d / "vfr.mp4", frames, pts=pts, time_base=fractions.Fraction(1, 1000), bframes=2)
    out["vfr.mkv"] = V.encode_video(d / "vfr.mkv", frames, pts=pts, time_base=fractions.Fraction(1, 1000), bframes=2)
    return out


def _decode(path: Path, settings: DecodeSettings, workers: int = 0) -> DecodedVideo:
    frames: dict[int, np.ndarray] = {}
    video = None
    for ev in decode_videos([("v", path)], settings, workers=workers):
        if isinstance(ev, SegmentDecoded):
            frames[ev.result.k] = ev.result.frames
        elif isinstance(ev, VideoRestarted):
            frames.clear()
        elif isinstance(ev, DecodedVideo):
            video = ev
        elif isinstance(ev, VideoFailed):
            raise AssertionError(f"{path.name} failed: {ev.reason} {ev.detail}")
    assert video is not None
    video.pixels = np.stack([frames[k][i] for k, i in video.rows]) if video.rows else np.empty((0,))
    return video


def _expected_fps_picks(ref, fps: float | None, start_s: float = 0.0) -> list[int]:
    """Frame numbers of the first frame at or after each 1/fps step, from reference timestamps."""
    if fps is None:
        return [i for i, *_ in ref]
    picks, last = [], None
    for i, _, t, _ in ref:
        step = math.floor(round((t - start_s) * fps, 9))
        if step != last:
            picks.append(i)
            last = step
    return picks


@pytest.mark.parametrize("name", ["bframes.mp4", "plain.mkv", "vp9.webm", "mpeg4.avi", "vfr.mp4", "vfr.mkv"])
@pytest.mark.parametrize("fps", [None, 5.0, 1.5])
def test_frames_match_an_independent_decode(clips, name, fps):
    path = clips[name]
    ref = V.reference_decode(path)
    info = probe_video(path)
    got = _decode(path, DecodeSettings(size=16, fps=fps))
    expected = _expected_fps_picks(ref, fps, float(info.start_pts * info.time_base))
    assert got.frame_index.tolist() == expected
    assert got.pts.tolist() == [ref[i][1] for i in expected]
    np.testing.assert_allclose(got.timestamps, [ref[i][2] - float(info.start_pts * info.time_base) for i in expected], atol=1e-6)
    assert got.n_source_frames == len(ref)
    assert got.problems == []


def test_shared_clips_match_an_independent_decode(videos_dir):
    for path in sorted(videos_dir.glob("*.mp4")):
        ref = V.reference_decode(path)
        got = _decode(path, DecodeSettings(size=16, fps=5.0, min_segment_s=1.0), workers=3)
        assert got.segments > 1  # really decoded in parallel segments
        expected = _expected_fps_picks(ref, 5.0)
        assert got.frame_index.tolist() == expected
        assert got.pts.tolist() == [ref[i][1] for i in expected]


def test_pixels_are_the_decoded_frame_centre(videos_dir):
    """At full size (no scaling) the model input is exactly the centre of the decoded RGB frame."""
    path = videos_dir / "street_cuts.mp4"  # 640x272
    ref = V.reference_decode(path)
    got = _decode(path, DecodeSettings(size=272, fps=2.0), workers=2)
    x0 = (640 - 272) // 2
    for n, pix in zip(got.frame_index, got.pixels):
        np.testing.assert_array_equal(pix, ref[n][3][:, x0 : x0 + 272])


@pytest.mark.parametrize("name", ["bframes.mp4", "plain.mkv", "vp9.webm", "vfr.mp4", "vfr.mkv"])
@pytest.mark.parametrize("workers", [1, 2, 3, 5, 8])
def test_segmented_decoding_equals_one_pass(clips, name, workers):
    path = clips[name]
    one = _decode(path, DecodeSettings(size=8, fps=None), workers=0)
    settings = DecodeSettings(size=8, fps=None, min_segment_s=0.2)
    many = _decode(path, settings, workers=workers)
    assert (many.segments > 1) == (workers > 1)
    assert many.frame_index.tolist() == one.frame_index.tolist()
    assert many.pts.tolist() == one.pts.tolist()
    np.testing.assert_array_equal(many.pixels, one.pixels)


def test_segments_are_cut_at_keyframes_and_bounded(clips):
    path = clips["bframes.mp4"]  # 80 frames, keyframe every 12
    info = probe_video(path)
    settings = DecodeSettings(size=8, fps=None, max_frames_per_segment=10, min_segment_s=0.1)
    segs = plan_segments("v", info, settings, workers=1)
    assert len(segs) > 3
    assert all(s.d_start in info.keyframe_ts for s in segs[1:])
    sizes = [ev.result.n_kept for ev in decode_videos([("v", path)], settings, workers=0) if isinstance(ev, SegmentDecoded)]
    assert sum(sizes) == 80 and max(sizes) <= 12  # one GOP at most: memory does not grow with length


def test_keyframes_only_keeps_exactly_the_keyframes(clips):
    import av

    path = clips["bframes.mp4"]
    with av.open(str(path)) as c:
        keys = [i for i, f in enumerate(c.decode(video=0)) if f.key_frame]
    got = _decode(path, DecodeSettings(size=8, fps=None, keyframes_only=True, min_segment_s=0.5), workers=2)
    assert got.frame_index.tolist() == keys
    assert got.n_source_frames == 80


def test_rotation_metadata_turns_the_picture(tmp_path):
    frame = np.zeros((48, 96, 3), np.uint8)
    frame[:, :48] = 255  # left half white
    path = V.encode_video(tmp_path / "rot.mp4", [frame] * 3, rotation=90)
    got = _decode(path, DecodeSettings(size=48, resize=48, fps=None))
    # PyAV: rotation is counter-clockwise; the white left half ends up at the bottom
    pix = got.pixels[0].astype(int)
    assert pix[-8:].mean() > 200 and pix[:8].mean() < 50


def test_read_frames_at_returns_exact_full_resolution_frames(clips, videos_dir):
    for path in [clips["bframes.mp4"], clips["vfr.mkv"], videos_dir / "dashcam_highway.mp4"]:
        ref = V.reference_decode(path)
        rng = np.random.default_rng(1)
        pick = sorted(rng.choice(len(ref), size=12, replace=False).tolist())
        pick += [pick[3], len(ref) - 1, 0]  # repeats and both ends
        got = {p: (arr, prob) for p, arr, prob in read_frames_at(path, [ref[i][1] for i in pick], seek_gap_s=0.3)}
        for i in pick:
            arr, problem = got[ref[i][1]]
            assert problem == ""
            np.testing.assert_array_equal(arr, ref[i][3])


def test_read_frames_at_reports_frames_that_do_not_exist(clips):
    ref = V.reference_decode(clips["bframes.mp4"])
    out = list(read_frames_at(clips["bframes.mp4"], [ref[5][1] + 1, ref[6][1]]))
    assert out[0][1] is None and "no frame" in out[0][2]
    np.testing.assert_array_equal(out[1][1], ref[6][3])


# -- damaged and unusable files ------------------------------------------------------------


@pytest.fixture(scope="module")
def broken(clips, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("broken")
    src = clips["bframes.mp4"]
    slow = V.cuts_clip(d / "index_last.mp4", faststart=False, bframes=3)
    (d / "empty.mp4").write_bytes(b"")
    (d / "noise.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return {
        "truncated.mp4": V.truncate(src, d / "truncated.mp4", 0.6),
        "truncated.mkv": V.truncate(clips["plain.mkv"], d / "truncated.mkv", 0.6),
        "no_index.mp4": V.truncate(slow, d / "no_index.mp4", 0.7),
        "corrupt.mp4": V.corrupt_middle(src, d / "corrupt.mp4"),
        "empty.mp4": d / "empty.mp4",
        "noise.mp4": d / "noise.mp4",
        "audio.m4a": V.audio_only(d / "audio.m4a"),
        "zero_frames.avi": V.zero_frame_video(d / "zero_frames.avi"),
        "unknown_codec.mp4": V.unknown_codec(src, d / "unknown_codec.mp4"),
    }


@pytest.mark.parametrize(
    "name, reason, keeps_frames",
    [
        ("truncated.mp4", "truncated", True),
        ("truncated.mkv", "truncated", True),
        ("corrupt.mp4", "corrupt", True),
        ("no_index.mp4", "truncated", False),
        ("empty.mp4", "empty_file", False),
        ("noise.mp4", "not_a_video", False),
        ("audio.m4a", "no_video_stream", False),
        ("zero_frames.avi", "no_frames", False),
        ("unknown_codec.mp4", "unsupported_codec", False),
    ],
)
@pytest.mark.parametrize("workers", [0, 3])
def test_bad_videos_are_reported_with_a_reason(broken, name, reason, keeps_frames, workers):
    path = broken[name]
    events = list(decode_videos([(name, path)], DecodeSettings(size=8, fps=None, min_segment_s=0.3), workers=workers))
    final = events[-1]
    if keeps_frames:
        assert isinstance(final, DecodedVideo)
        assert [p["reason"] for p in final.problems][:1] == [reason]
        # the frames a plain decode gets are kept (a frame-threaded decoder may also drop the
        # two or three that reference the damaged one); numbers stay those of the intact stream
        ref_pts = [r[1] for r in V.reference_decode(path)]
        assert set(final.pts.tolist()) <= set(ref_pts)
        assert len(ref_pts) - 4 <= len(final) < 80
        all_pts = V.packet_pts(path)
        assert final.frame_index.tolist() == [all_pts.index(p) for p in final.pts]
    else:
        assert isinstance(final, VideoFailed)
        assert final.reason == reason
        assert final.detail


def test_huge_frames_are_refused_before_decoding(clips):
    (ev,) = list(decode_videos([("v", clips["bframes.mp4"])], DecodeSettings(size=8), max_pixels=1000))
    assert isinstance(ev, VideoFailed) and ev.reason == "too_large" and "160x96" in ev.detail


def test_one_bad_video_does_not_stop_the_others(clips, broken):
    jobs = [("a", broken["noise.mp4"]), ("b", clips["bframes.mp4"]), ("c", broken["audio.m4a"]), ("d", clips["plain.mkv"])]
    done = {ev.video_id: ev for ev in decode_videos(jobs, DecodeSettings(size=8, fps=5), workers=2) if not isinstance(ev, SegmentDecoded)}
    assert isinstance(done["a"], VideoFailed) and isinstance(done["c"], VideoFailed)
    assert isinstance(done["b"], DecodedVideo) and isinstance(done["d"], DecodedVideo)


def test_frames_off_the_grid_that_nothing_refers_to_are_not_decoded(clips, videos_dir):
    """H.264 non-reference frames between two kept frames are skipped without decoding; the
    kept frames are bit-identical to those of a full decode."""
    from labelscout.sources.video_decode import decode_segment

    for path in (clips["bframes.mp4"], clips["plain.mkv"], videos_dir / "street_cuts.mp4"):
        info = probe_video(path)
        (seg,) = plan_segments("v", info, DecodeSettings(size=16), workers=1)
        sampled = decode_segment(seg, info, DecodeSettings(size=16, fps=4.0))
        full = decode_segment(seg, info, DecodeSettings(size=16, fps=None))
        assert sampled.skipped_frames > 0 and full.skipped_frames == 0
        np.testing.assert_array_equal(sampled.packet_pts, full.packet_pts)  # numbering unchanged
        rows = np.searchsorted(full.pts, sampled.pts)
        np.testing.assert_array_equal(sampled.frames, full.frames[rows])
