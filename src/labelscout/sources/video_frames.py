"""Training data from videos: every sampled frame decoded once at training resolution.

Self-supervised training on small inputs is bound by the network once decoding is out of
the loop, so the frames of a collection's videos are decoded once (in parallel segments, see
:mod:`labelscout.sources.video_decode`), resized and centre-cropped to ``size`` (the same
swscale path the embedder uses at inference) and kept as one uint8 array of shape
``(n_frames, 3, size, size)``, in RAM or, with ``storage``, in a file on disk that is
memory-mapped. Every frame carries its video, frame number and timestamp, which is what a
temporal pair sampler (:mod:`labelscout.ssl.temporal`) needs. The layout matches the image
training data (``images``, ``ids``, ``labels``, ``skipped``), so a trainer takes either.

71 minutes of video at 5 fps and 32x32 take 65 MB; at 96x96, 590 MB (use ``storage``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._progress import progress_bar
from ..errors import InputError
from .collection import collect
from .video import DEFAULT_FPS, VideoOptions, frame_id
from .video_decode import DecodedVideo, DecodeSettings, SegmentDecoded, VideoFailed, VideoRestarted, decode_videos

__all__ = ["VideoFrames", "load_video_frames"]

log = logging.getLogger(__name__)


@dataclass
class VideoFrames:
    """Decoded frames of a collection of videos.

    images : uint8 tensor of shape (n_frames, 3, size, size), frames grouped by video in time order
    ids : ``clip.mp4#frame=N`` per frame
    video : int64 array of shape (n_frames,) indexing ``videos``
    videos : the video ids (paths relative to ``root``)
    frame_index : int64 array of shape (n_frames,), the frame number in its video
    timestamps : float64 array of shape (n_frames,), seconds from the start of its video
    skipped : one ``{"id", "reason", "detail"}`` per video (or damaged part of one) not used
    """

    root: Path
    images: torch.Tensor
    ids: list[str]
    video: np.ndarray
    videos: list[str]
    frame_index: np.ndarray
    timestamps: np.ndarray
    skipped: list[dict[str, str]] = field(default_factory=list)
    labels: None = None  # videos carry no class labels (same fields as image training data)
    classes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def duration(self, v: int) -> float:
        """Seconds spanned by the frames of video ``v``."""
        t = self.timestamps[self.video == v]
        return float(t.max() - t.min()) if t.size else 0.0

    def subset(self, index: np.ndarray) -> "VideoFrames":
        index = np.asarray(index, dtype=np.int64)
        return VideoFrames(self.root, self.images[torch.from_numpy(index)], [self.ids[i] for i in index],
                           self.video[index], list(self.videos), self.frame_index[index], self.timestamps[index], [])


class _Store:
    """Appends (n, 3, s, s) uint8 blocks in RAM or to a raw file mapped at the end."""

    def __init__(self, size: int, storage: Path | None):
        self.size, self.storage, self.count = size, storage, 0
        self.blocks: list[np.ndarray] = []
        self.fh = None
        if storage is not None:
            storage.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(storage, "wb")

    def append(self, block: np.ndarray) -> None:
        if self.fh is not None:
            self.fh.write(np.ascontiguousarray(block).tobytes())
        else:
            self.blocks.append(block)
        self.count += block.shape[0]

    def finish(self) -> torch.Tensor:
        s = self.size
        if self.fh is not None:
            self.fh.close()
            if self.count == 0:
                return torch.empty((0, 3, s, s), dtype=torch.uint8)
            arr = np.memmap(self.storage, dtype=np.uint8, mode="r+", shape=(self.count, 3, s, s))
            return torch.from_numpy(arr)
        if not self.blocks:
            return torch.empty((0, 3, s, s), dtype=torch.uint8)
        return torch.from_numpy(np.concatenate(self.blocks))


def load_video_frames(
    source: str | Path,
    size: int,
    *,
    fps: float | str | None = DEFAULT_FPS,
    keyframes_only: bool = False,
    resize: int | None = None,
    workers: int | None = None,
    storage: str | Path | None = None,
    progress: bool | None = None,
) -> VideoFrames:
    """Decode the videos under ``source`` (a folder or one file) for training.

    ``fps``: frames kept per second of video (see :class:`~labelscout.sources.video.VideoOptions`);
    ``size``: training resolution (shorter side scaled to ``resize`` or ``size``, centre crop);
    ``storage``: a file path to keep the frames on disk (memory-mapped) instead of in RAM.
    Images in ``source`` are ignored. Raises :class:`InputError` when no video yields frames.
    """
    options = VideoOptions(fps=fps, keyframes_only=keyframes_only)
    col = collect(source)
    if not col.videos:
        raise InputError(f"No videos found in {source}.", hint="Temporal training needs video files (mp4, mov, mkv, webm, avi...).")
    settings = DecodeSettings(size=size, resize=resize, fps=options.fps, keyframes_only=keyframes_only)
    store = _Store(size, Path(storage) if storage is not None else None)
    segments: dict[str, dict[int, np.ndarray]] = {}
    done: dict[str, DecodedVideo] = {}
    skipped: list[dict[str, str]] = []
    failed: set[str] = set()
    # videos are appended in collection order as soon as all earlier ones are finished
    next_video = 0
    ids: list[str] = []
    video_col: list[np.ndarray] = []
    frame_col: list[np.ndarray] = []
    time_col: list[np.ndarray] = []
    used_videos: list[str] = []

    def flush_ready() -> None:
        nonlocal next_video
        while next_video < len(col.videos):
            vid = col.videos[next_video]
            if vid in done:
                dv = done.pop(vid)
                segs = segments.pop(vid, {})
                if dv.rows:
                    block = np.stack([segs[k][i] for k, i in dv.rows])  # (n, s, s, 3)
                    store.append(block.transpose(0, 3, 1, 2))  # (n, 3, s, s)
                    v = len(used_videos)
                    used_videos.append(vid)
                    ids.extend(frame_id(vid, n) for n in dv.frame_index)
                    video_col.append(np.full(len(dv.rows), v, dtype=np.int64))
                    frame_col.append(dv.frame_index)
                    time_col.append(dv.timestamps)
                for p in dv.problems:
                    skipped.append({"id": vid, "reason": p["reason"], "detail": p["detail"], "kept_frames": str(len(dv.rows))})
            elif vid not in failed:
                return  # still decoding
            next_video += 1

    with progress_bar("decoding videos", total=None, progress=progress, unit="s of video") as bar:
        totals = {"s": 0.0}

        def on_probe(vid: str, info: Any, n: int) -> None:
            totals["s"] += info.duration_s or 0.0
            bar.update(total=totals["s"])

        for ev in decode_videos([(v, col.root / v) for v in col.videos], settings, workers=workers,
                                max_pixels=options.max_pixels, on_progress=bar.advance, on_probe=on_probe):
            if isinstance(ev, SegmentDecoded):
                segments.setdefault(ev.video_id, {})[ev.result.k] = ev.result.frames
            elif isinstance(ev, VideoRestarted):
                segments.pop(ev.video_id, None)
            elif isinstance(ev, VideoFailed):
                segments.pop(ev.video_id, None)
                skipped.append({"id": ev.video_id, "reason": ev.reason, "detail": ev.detail})
                failed.add(ev.video_id)
            elif isinstance(ev, DecodedVideo):
                done[ev.video_id] = ev
            flush_ready()
    flush_ready()
    images = store.finish()
    if not ids:
        raise InputError(f"None of the {len(col.videos)} video(s) in {source} yielded frames.",
                         hint="See the reasons: " + "; ".join(f"{s['id']}: {s['reason']}" for s in skipped[:5]))
    empty_i = np.empty(0, np.int64)
    return VideoFrames(
        col.root, images, ids,
        np.concatenate(video_col) if video_col else empty_i, used_videos,
        np.concatenate(frame_col) if frame_col else empty_i,
        np.concatenate(time_col) if time_col else np.empty(0, np.float64),
        skipped,
    )
