"""The synthetic long 1080p video the video benchmark decodes (kept out of git, in .data/).

A base clip is encoded once with PyAV/libx264: scenes of real street and highway footage
(the shared clips, upscaled to 1920x1080 with a slow pan and sensor-like grain, so the
bitrate is that of camera footage, not of flat synthetic colour) alternating with scenes of
moving shapes over a textured background, joined by hard cuts. Longer videos are made by
remuxing the base clip end to end (packets copied, timestamps shifted; no re-encode), which
takes seconds even for 71 minutes and decodes at exactly the cost of real footage of that
bitrate, because every copy starts on an IDR frame.
"""
from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / ".data" / "bench-video"
SHARED_VIDEOS = REPO.parent / "shared" / "data" / "videos"


def _source_frames(path: Path):
    """Yield the frames of a shared clip as RGB arrays, forever (ping-pong, so motion stays smooth)."""
    frames = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="rgb24"))
    order = list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))
    while True:
        for i in order:
            yield frames[i]


def _fit_1080p(rgb: np.ndarray, t: float, zoom: float) -> np.ndarray:
    """Scale to cover 1920x1080 (times ``zoom``) and take a window that pans slowly."""
    h, w = rgb.shape[:2]
    scale = max(1920 / w, 1080 / h) * zoom
    sw, sh = int(math.ceil(w * scale)), int(math.ceil(h * scale))
    img = Image.fromarray(rgb).resize((sw, sh), Image.BILINEAR)
    x0 = int((sw - 1920) * (0.5 + 0.5 * math.sin(t * 0.3)))
    y0 = int((sh - 1080) * (0.5 + 0.5 * math.cos(t * 0.2)))
    return np.asarray(img)[y0 : y0 + 1080, x0 : x0 + 1920]


def _shapes_frame(rng_seed: int, t: float, texture: np.ndarray) -> np.ndarray:
    """Moving discs and bars over a drifting texture: synthetic content with motion."""
    rng = np.random.default_rng(rng_seed)
    dx = int(t * 40) % texture.shape[1]
    frame = np.roll(texture, dx, axis=1)[:1080, :1920].copy()
    yy, xx = np.ogrid[:1080, :1920]
    for _ in range(6):
        cx0, cy0, vx, vy, r = rng.uniform(0, 1920), rng.uniform(0, 1080), rng.uniform(-300, 300), rng.uniform(-200, 200), rng.uniform(40, 160)
        cx, cy = (cx0 + vx * t) % 1920, (cy0 + vy * t) % 1080
        colour = rng.integers(0, 256, 3, dtype=np.uint8)
        x_lo, x_hi, y_lo, y_hi = int(max(cx - r, 0)), int(min(cx + r, 1920)), int(max(cy - r, 0)), int(min(cy + r, 1080))
        if x_hi <= x_lo or y_hi <= y_lo:
            continue
        mask = (xx[:, x_lo:x_hi] - cx) ** 2 + (yy[y_lo:y_hi] - cy) ** 2 <= r * r
        frame[y_lo:y_hi, x_lo:x_hi][mask] = colour
    return frame


def make_base_clip(path: Path, seconds: float = 120.0, fps: int = 30, crf: int = 18, gop: int = 60) -> Path:
    """Encode the base clip (1920x1080 h264, yuv420p) to ``path`` if it is not there yet."""
    path = Path(path)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial.mp4")
    rng = np.random.default_rng(0)
    grain = [rng.normal(0, 3.0, (1080 + 64, 1920 + 64, 3)).astype(np.int16) for _ in range(4)]
    texture_small = (rng.random((68, 120, 3)) * 255).astype(np.uint8)
    texture = np.asarray(Image.fromarray(texture_small).resize((1920 * 2, 1080), Image.BICUBIC))
    sources = {"highway": _source_frames(SHARED_VIDEOS / "dashcam_highway.mp4"),
               "street": _source_frames(SHARED_VIDEOS / "street_cuts.mp4")}
    kinds = ["highway", "shapes", "street", "highway", "street", "shapes"]
    n_frames = int(seconds * fps)
    with av.open(str(tmp), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = 1920, 1080, "yuv420p"
        st.options = {"crf": str(crf), "preset": "veryfast", "g": str(gop), "keyint_min": str(gop)}
        scene, scene_end, scene_start = -1, 0, 0
        for i in range(n_frames):
            if i >= scene_end:  # hard cut to the next scene, 6-14 s long
                scene += 1
                scene_start, scene_end = i, i + int(fps * rng.uniform(6, 14))
                zoom = rng.uniform(1.0, 1.4)
            kind = kinds[scene % len(kinds)]
            t = (i - scene_start) / fps
            if kind == "shapes":
                rgb = _shapes_frame(scene, t, texture)
            else:
                rgb = _fit_1080p(next(sources[kind]), t + scene, zoom)
            g = grain[i % 4]
            oy, ox = (i * 7) % 64, (i * 13) % 64
            noisy = np.clip(rgb.astype(np.int16) + g[oy : oy + 1080, ox : ox + 1920], 0, 255).astype(np.uint8)
            for packet in st.encode(av.VideoFrame.from_ndarray(noisy, format="rgb24")):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    tmp.replace(path)
    return path


def make_long_video(base: Path, path: Path, minutes: float) -> Path:
    """Remux ``base`` end to end until the video lasts ``minutes`` (no re-encode)."""
    path = Path(path)
    if path.is_file():
        return path
    tmp = path.with_suffix(".partial.mp4")
    with av.open(str(base)) as src:
        s_in = src.streams.video[0]
        tb = s_in.time_base
        span = None
        with av.open(str(tmp), "w") as out:
            s_out = out.add_stream_from_template(s_in)
            target = minutes * 60
            offset = 0
            while offset * tb < target:
                src.seek(0)
                last_end = 0
                for pkt in src.demux(s_in):
                    if pkt.dts is None:
                        continue
                    end = pkt.pts + (pkt.duration or 0)
                    last_end = max(last_end, end)
                    pkt.pts += offset
                    pkt.dts += offset
                    pkt.stream = s_out
                    out.mux(pkt)
                span = last_end
                offset += span
    tmp.replace(path)
    return path


def bench_video(minutes: float, base_seconds: float = 120.0) -> Path:
    """The benchmark video of about ``minutes`` length (built on first use)."""
    base = make_base_clip(DATA / f"base-1080p30-{int(base_seconds)}s.mp4", seconds=base_seconds)
    if minutes * 60 <= base_seconds:
        return base
    return make_long_video(base, DATA / f"long-1080p30-{minutes:g}min.mp4", minutes)
