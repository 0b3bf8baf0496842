"""Small real videos for tests, encoded with PyAV, and an independent reference decoder.

Every clip is generated from known pixels (so tests can tell frames apart) and written
with a real encoder; broken variants are made from these by cutting or overwriting bytes,
the way files break in practice (an interrupted copy, a bad sector, a wrong codec tag).
"""
from __future__ import annotations

import fractions
from pathlib import Path
from typing import Sequence

import av
import numpy as np


def scene_frame(scene: int, t: int, size: tuple[int, int] = (160, 96), motion: float = 4.0, seed: int = 0) -> np.ndarray:
    """A (H, W, 3) frame of scene ``scene`` at step ``t``: a scene-specific colour field with a moving block."""
    w, h = size
    rng = np.random.default_rng(seed * 1000 + scene)
    base = rng.integers(0, 256, 3)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.empty((h, w, 3), np.float64)
    phase = rng.uniform(0, 6.28, 3)
    for c in range(3):
        img[..., c] = base[c] * 0.6 + 60 * np.sin(xx / (9 + 4 * c) + phase[c] + scene) * np.cos(yy / (7 + 3 * c))
    x0 = int(t * motion) % max(1, w - 24)
    y0 = int(t * motion * 0.5) % max(1, h - 24)
    img[y0 : y0 + 24, x0 : x0 + 24] = 255 - base
    return np.clip(img, 0, 255).astype(np.uint8)


def encode_video(
    path: Path,
    frames: Sequence[np.ndarray],
    *,
    fps: int = 25,
    codec: str = "libx264",
    pts: Sequence[int] | None = None,
    time_base: fractions.Fraction | None = None,
    gop: int = 12,
    bframes: int | None = None,
    options: dict[str, str] | None = None,
    rotation: int | None = None,
    faststart: bool = True,
) -> Path:
    """Encode RGB ``frames`` to ``path``; ``pts`` (in ``time_base``) gives a variable frame rate."""
    path = Path(path)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart and path.suffix in (".mp4", ".mov", ".m4v") else {}) as out:
        st = out.add_stream(codec, rate=fps)
        h, w = frames[0].shape[:2]
        st.width, st.height = w, h
        st.pix_fmt = "yuv420p"
        opts = {"g": str(gop)}
        if codec == "libx264":
            opts.update({"preset": "ultrafast" if bframes is None else "veryfast", "crf": "18"})
            if bframes is not None:
                opts["bf"] = str(bframes)
        opts.update(options or {})
        st.options = opts
        if time_base is not None:
            st.codec_context.time_base = time_base
            st.time_base = time_base
        if rotation is not None:
            st.set_display_rotation(rotation)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if pts is not None:
                frame.pts = int(pts[i])
                frame.time_base = time_base
            for packet in st.encode(frame):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    return path


def cuts_clip(path: Path, n_scenes: int = 4, frames_per_scene: int = 20, **kw) -> Path:
    frames = [scene_frame(s, t) for s in range(n_scenes) for t in range(frames_per_scene)]
    return encode_video(path, frames, **kw)


def static_clip(path: Path, n_frames: int = 80, seed: int = 1, **kw) -> Path:
    """A near-static clip: one scene with faint sensor-like noise, no motion."""
    rng = np.random.default_rng(seed)
    base = scene_frame(0, 0, motion=0.0, seed=seed).astype(np.int16)
    frames = [np.clip(base + rng.integers(-2, 3, base.shape), 0, 255).astype(np.uint8) for _ in range(n_frames)]
    return encode_video(path, frames, **kw)


def audio_only(path: Path, seconds: float = 1.0) -> Path:
    with av.open(str(path), "w") as out:
        st = out.add_stream("aac", rate=44100)
        n = int(44100 * seconds)
        samples = (np.sin(np.arange(n) / 20.0) * 0.2).astype(np.float32).reshape(1, -1)
        for start in range(0, n, 1024):
            chunk = samples[:, start : start + 1024]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="flt", layout="mono")
            frame.sample_rate = 44100
            frame.pts = start
            for packet in st.encode(frame):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    return path


def zero_frame_video(path: Path) -> Path:
    """A container (AVI) whose header declares a video stream that holds no frames.

    (MP4 drops an empty track from its header altogether, which reads as no video stream.)
    """
    with av.open(str(path), "w", format="avi") as out:
        st = out.add_stream("mpeg4", rate=25)
        st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()
    return path


def truncate(src: Path, dst: Path, fraction: float) -> Path:
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return Path(dst)


def corrupt_middle(src: Path, dst: Path, at: float = 0.5, length: int = 4000, seed: int = 0) -> Path:
    """Overwrite ``length`` bytes at ``at`` of the file with random bytes (a damaged region)."""
    data = bytearray(Path(src).read_bytes())
    start = int(len(data) * at)
    data[start : start + length] = np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def unknown_codec(src: Path, dst: Path) -> Path:
    """The same mp4 with its codec tag renamed, as a file made by a codec this FFmpeg lacks looks."""
    data = Path(src).read_bytes()
    if b"avc1" not in data:
        raise ValueError("expected an h264 mp4")
    Path(dst).write_bytes(data.replace(b"avc1", b"zzz1").replace(b"avcC", b"zzzC"))
    return Path(dst)


def reference_decode(path: Path) -> list[tuple[int, int, float, np.ndarray]]:
    """Decode every frame from the start, the plain way: (index, pts, seconds, RGB array)."""
    out = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for packet in c.demux(s):
            try:
                frames = s.decode(packet)
            except av.FFmpegError:  # damaged packet: skipped, as a player does
                continue
            for f in frames:
                out.append((len(out), f.pts, float(f.pts * f.time_base), f.to_ndarray(format="rgb24")))
    return out


def packet_pts(path: Path) -> list[int]:
    """Sorted pts of every video packet (one per frame): frame N of a stream is the N-th of these."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return sorted(p.pts for p in c.demux(s) if p.size and p.pts is not None)
