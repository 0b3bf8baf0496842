"""Writing the selected video frames at full resolution into the run folder.

Only selected frames ever reach the disk: after the selection, one more pass per video
seeks to each selected frame (by its exact pts) and writes it as
``frames/<video>/<video-stem>-<frame>.jpg`` (frame numbers zero-padded to 6 digits, so
file browsers sort them in time order). A selected clip (``--sequence-length``) becomes a
folder ``frames/<video>/<video-stem>-<first>-<last>/`` holding its frames. ``<video>`` is
the video's id without its extension (``drive/day1.mp4`` -> ``frames/drive/day1/``), or
with the dot replaced where two videos would share that folder. Files are written
atomically, and a rerun keeps frames already written after the video last changed.
"""
from __future__ import annotations

import logging
import math
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from .._progress import progress_bar
from ..errors import ConfigError
from .atomic import atomic_path

__all__ = ["FRAME_FORMATS", "frame_files", "write_selected_frames"]

log = logging.getLogger(__name__)

FRAME_FORMATS = ("jpg", "png")
FRAMES_DIR = "frames"


def _video_folders(videos: Sequence[str]) -> dict[str, str]:
    by_stem: dict[str, list[str]] = defaultdict(list)
    for v in sorted(set(videos)):
        by_stem[str(PurePosixPath(v).with_suffix(""))].append(v)
    out = {}
    for stem, vs in by_stem.items():
        for v in vs:
            out[v] = stem if len(vs) == 1 else v.replace(".", "_")
    return out


def frame_files(meta: dict[str, list[Any]], rows: Sequence[int], pool_videos: Sequence[str], fmt: str = "jpg") -> list[str]:
    """Relative path (in the run folder) of the file or clip folder of each selected row; "" for images."""
    if fmt not in FRAME_FORMATS:
        raise ConfigError(f"The 'frame_format' parameter must be one of {set(FRAME_FORMATS)}. Got {fmt!r} instead.")
    folders = _video_folders([v for v in pool_videos if v])
    out = []
    for r in rows:
        video = meta["video"][r]
        if not video:
            out.append("")
            continue
        stem = PurePosixPath(video).stem
        base = f"{FRAMES_DIR}/{folders[video]}/{stem}"
        if meta.get("frame_end") and meta["frame_end"][r] is not None:
            out.append(f"{base}-{int(meta['frame'][r]):06d}-{int(meta['frame_end'][r]):06d}")
        else:
            out.append(f"{base}-{int(meta['frame'][r]):06d}.{fmt}")
    return out


def _targets(meta: dict[str, list[Any]], rows: Sequence[int], files: Sequence[str], fmt: str) -> dict[str, list[tuple[int, str]]]:
    """video -> [(pts, relative file)] of every frame to write."""
    out: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r, f in zip(rows, files):
        video = meta["video"][r]
        if not video:
            continue
        if meta.get("clip_pts") and meta["clip_pts"][r]:
            stem = PurePosixPath(video).stem
            for n, p in zip(str(meta["clip_frames"][r]).split(), str(meta["clip_pts"][r]).split()):
                out[video].append((int(p), f"{f}/{stem}-{int(n):06d}.{fmt}"))
        else:
            out[video].append((int(meta["pts"][r]), f))
    return out


def _save(arr, dest: Path, fmt: str, quality: int) -> None:
    from PIL import Image

    img = Image.fromarray(arr)
    with atomic_path(dest) as tmp:
        if fmt == "png":
            img.save(tmp, format="PNG", compress_level=1)
        else:
            # 4:2:0 like the video itself: full-resolution chroma would only cost time and bytes
            img.save(tmp, format="JPEG", quality=quality, subsampling=2)


def write_selected_frames(
    out: Path,
    root: Path,
    meta: dict[str, list[Any]],
    rows: Sequence[int],
    files: Sequence[str],
    *,
    fmt: str = "jpg",
    quality: int = 95,
    workers: int | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Decode and write the frames of the selected ``rows`` (positions in ``meta``'s columns).

    Returns counts and the frames that could not be written, with the reason.
    """
    from ..sources.video_decode import read_frames_at

    targets = _targets(meta, rows, files, fmt)
    workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    jobs: list[tuple[str, list[tuple[int, str]]]] = []
    existing = 0
    for video, items in targets.items():
        try:
            video_mtime = (root / video).stat().st_mtime
        except OSError:
            video_mtime = math.inf
        need = []
        for pts, rel in items:
            dest = out / rel
            if dest.is_file() and dest.stat().st_mtime >= video_mtime:
                existing += 1  # written by an earlier run over the same video
            else:
                need.append((pts, rel))
        need.sort()
        # a long video's frames are split into runs decoded by separate threads
        n_chunks = max(1, min(workers, math.ceil(len(need) / 25)))
        size = math.ceil(len(need) / n_chunks) if need else 0
        for c in range(n_chunks):
            part = need[c * size : (c + 1) * size]
            if part:
                jobs.append((video, part))
    total = sum(len(p) for _, p in jobs)
    failed: list[dict[str, str]] = []
    written = 0

    def run(job: tuple[str, list[tuple[int, str]]]) -> tuple[int, list[dict[str, str]]]:
        video, part = job
        by_pts: dict[int, list[str]] = defaultdict(list)
        for pts, rel in part:
            by_pts[pts].append(rel)
        ok, bad = 0, []
        threads = max(1, (os.cpu_count() or 1) // max(1, min(workers, len(jobs))))
        done: set[int] = set()
        try:
            for pts, arr, problem in read_frames_at(root / video, list(by_pts), threads=threads):
                done.add(pts)
                for rel in by_pts[pts]:
                    if arr is None:
                        bad.append({"file": rel, "video": video, "pts": str(pts), "reason": problem})
                        continue
                    _save(arr, out / rel, fmt, quality)
                    ok += 1
        except Exception as exc:  # one video's failure must not lose the other videos' frames
            for pts in set(by_pts) - done:
                bad.extend({"file": rel, "video": video, "pts": str(pts), "reason": f"{type(exc).__name__}: {exc}"} for rel in by_pts[pts])
        return ok, bad

    with progress_bar("writing frames", total=total, progress=progress, unit="frames") as bar, \
            ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs))), thread_name_prefix="labelscout-frames") as pool:
        # threads: FFmpeg decoding and Pillow's encoders release the GIL
        for (video, part), (ok, bad) in zip(jobs, pool.map(run, jobs)):
            written += ok
            failed.extend(bad)
            bar.advance(len(part))
    for b in failed:
        log.warning("frame not written: %s (%s)", b["file"], b["reason"])
    return {"frames_written": written, "frames_existing": existing, "frames_failed": len(failed), "failed": failed,
            "format": fmt, "folder": FRAMES_DIR}
