"""Embedding the frames of videos: decoded in memory, embedded as they arrive, cached per video.

Called by :meth:`labelscout.embed.embedder.Embedder.embed` when a collection holds videos.
Each video's frames are decoded by a pool of threads (:func:`decode_videos`) while this
thread embeds the segments already decoded, so the pipeline runs at decoding speed; only
the vectors are kept. All frame vectors of a video at given decode settings are stored as
one cache group, so a second run over the same videos decodes nothing.

Samples: frame ``N`` of ``clip.mp4`` is ``clip.mp4#frame=N``, with columns ``video``,
``frame``, ``timestamp`` (seconds from the stream start) and ``pts`` (exact, in the
stream's time base). With ``sequence_length`` L > 1, each sample is a clip of L consecutive
sampled frames, ``clip.mp4#frames=A-B`` (mean of their vectors).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._progress import progress_bar
from ..sources.scan import open_regular
from ..sources.video import VideoOptions, clip_id, default_decode_workers, frame_id
from ..sources.video_decode import DecodedVideo, DecodeSettings, SegmentDecoded, VideoFailed, VideoRestarted, decode_videos
from .cache import EmbeddingCache

if TYPE_CHECKING:
    from ..sources.collection import Collection
    from .embedder import Embedder

__all__ = ["embed_videos", "decode_settings_for", "hash_video", "VIDEO_GROUP_FORMAT"]

log = logging.getLogger(__name__)

VIDEO_GROUP_FORMAT = "labelscout-video-frames/1"
_CHUNK = 32 << 20  # bytes per hashed chunk


def hash_video(path: str | Path, workers: int | None = None) -> str:
    """Content hash of a (large) file: BLAKE2b of the BLAKE2b-128 of each 32 MiB chunk, in threads.

    A multi-GB video hashes at the disk's speed instead of one core's; any changed byte
    changes the hash, as for images.
    """
    path = Path(path)
    size = path.stat().st_size
    n = max(1, -(-size // _CHUNK))

    def chunk(i: int) -> bytes:
        h = hashlib.blake2b(digest_size=16)
        with open_regular(path) as fh:  # never blocks on a FIFO
            fh.seek(i * _CHUNK)
            left = _CHUNK
            while left > 0:  # 1 MiB reads: memory stays at 1 MiB per thread
                data = fh.read(min(left, 1 << 20))
                if not data:
                    break
                h.update(data)
                left -= len(data)
        return h.digest()

    if n == 1:
        digests = [chunk(0)]
    else:
        with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
            digests = list(pool.map(chunk, range(n)))
    top = hashlib.blake2b(digest_size=16)
    top.update(f"video:{size}:{_CHUNK}:".encode())
    for d in digests:
        top.update(d)
    return top.hexdigest()


def decode_settings_for(embedder: "Embedder", options: VideoOptions) -> DecodeSettings:
    loaded = embedder.loaded
    return DecodeSettings(size=loaded.input_size, resize=loaded.resize_size, fps=options.fps, keyframes_only=options.keyframes_only)


def _group_key(content: str, settings: DecodeSettings) -> str:
    token = json.dumps({"format": VIDEO_GROUP_FORMAT, "video": content, **settings.token()}, sort_keys=True)
    return "video-" + hashlib.blake2b(token.encode(), digest_size=16).hexdigest()


def _embed_frames(embedder: "Embedder", frames: np.ndarray) -> np.ndarray:
    """(n, s, s, 3) uint8 -> (n, D) float32, in batches."""
    out = []
    for start in range(0, frames.shape[0], embedder.batch_size):
        chunk = torch.from_numpy(frames[start : start + embedder.batch_size]).permute(0, 3, 1, 2)  # (B, 3, s, s)
        out.append(embedder.forward_uint8(chunk.contiguous()))
    return np.concatenate(out) if out else np.empty((0, embedder.loaded.embedding_dim), np.float32)


def _problem_entries(video_id: str, problems: list[dict[str, str]], kept: int) -> list[dict[str, str]]:
    out = []
    for p in problems:
        detail = p.get("detail", "")
        if kept:
            detail += f"; the {kept} frame(s) that decoded are used"
        out.append({"id": video_id, "reason": p["reason"], "detail": detail, "kept_frames": str(kept)})
    return out


def embed_videos(embedder: "Embedder", col: "Collection", cache: EmbeddingCache):
    """Embed every video of ``col``: returns (ids, keys, vectors, meta_columns, skipped, stats)."""
    options = getattr(embedder, "video", None) or VideoOptions()
    settings = decode_settings_for(embedder, options)
    dim = embedder.loaded.embedding_dim
    workers = embedder.workers  # None: one decode thread per core; 0: decode in this thread
    skipped: list[dict[str, str]] = []
    per_video: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
    t_start = time.perf_counter()

    # 1. content keys, then the cache: a video seen before with these settings is not decoded
    todo: list[tuple[str, Path, str]] = []
    from_cache = 0
    t_hash = time.perf_counter()
    for vid in col.videos:
        path = col.root / vid
        try:
            content = hash_video(path)
        except OSError as exc:
            skipped.append({"id": vid, "reason": "unreadable", "detail": f"{type(exc).__name__}: {exc}"})
            continue
        key = _group_key(content, settings)
        hit = cache.get_group(key)
        if hit is not None and hit[1].get("format") == VIDEO_GROUP_FORMAT and len(hit[1].get("frames", [])) == len(hit[0]):
            per_video[vid] = (hit[0], {**hit[1], "key": key})
            from_cache += 1
            skipped.extend(_problem_entries(vid, hit[1].get("problems", []), len(hit[0])))
        else:
            todo.append((vid, path, key))
    t_hash = time.perf_counter() - t_hash
    keys = {vid: key for vid, _, key in todo}

    # 2. decode (threads) and embed (here) at the same time. Torch's CPU thread pool spins
    # while it waits for its threads; beside busy decoding threads that spinning slows a small
    # model 50x (measured: 2.5 s instead of 0.05 s for 20 frames on 2 cores), so the model
    # gets the cores the decoders leave free, at least one.
    decode_threads = default_decode_workers() if workers is None else workers
    torch_threads = torch.get_num_threads()
    if decode_threads > 0:
        torch.set_num_threads(max(1, min(torch_threads, (os.cpu_count() or 1) - decode_threads)))
    try:
        per_video, seg_stats = _decode_and_embed(embedder, cache, todo, settings, options, workers, per_video, skipped)
    finally:
        torch.set_num_threads(torch_threads)
    decoded_seconds, source_frames, t_embed = seg_stats
    t_decode = time.perf_counter() - t_start - t_hash

    # 3. samples in collection order (frames, or clips of sequence_length frames)
    ids: list[str] = []
    out_keys: list[str] = []
    out_vecs: list[np.ndarray] = []
    L = options.sequence_length
    columns = ["video", "frame", "timestamp", "pts"] + (["frame_end", "timestamp_end", "clip_frames", "clip_pts"] if L > 1 else [])
    meta_cols: dict[str, list[Any]] = {c: [] for c in columns}
    for vid in col.videos:
        if vid not in per_video:
            continue
        vectors, meta = per_video[vid]
        frames, pts, stamps, key = meta["frames"], meta["pts"], meta["timestamps"], meta["key"]
        if L == 1:
            for j, n in enumerate(frames):
                ids.append(frame_id(vid, n))
                out_keys.append(f"{key}#frame={n}")
                meta_cols["video"].append(vid)
                meta_cols["frame"].append(int(n))
                meta_cols["timestamp"].append(float(stamps[j]))
                meta_cols["pts"].append(int(pts[j]))
            out_vecs.append(vectors)
            continue
        for a in range(0, len(frames), L):
            b = min(a + L, len(frames))  # the last clip of a video may be shorter
            ids.append(clip_id(vid, frames[a], frames[b - 1]))
            out_keys.append(f"{key}#frames={frames[a]}-{frames[b - 1]}")
            out_vecs.append(vectors[a:b].mean(axis=0, keepdims=True))
            meta_cols["video"].append(vid)
            meta_cols["frame"].append(int(frames[a]))
            meta_cols["frame_end"].append(int(frames[b - 1]))
            meta_cols["timestamp"].append(float(stamps[a]))
            meta_cols["timestamp_end"].append(float(stamps[b - 1]))
            meta_cols["pts"].append(int(pts[a]))
            meta_cols["clip_frames"].append(" ".join(str(int(x)) for x in frames[a:b]))
            meta_cols["clip_pts"].append(" ".join(str(int(x)) for x in pts[a:b]))
    matrix = np.concatenate(out_vecs).astype(np.float32) if out_vecs else np.empty((0, dim), np.float32)
    stats = {
        "videos_decoded": sum(1 for vid in keys if vid in per_video),
        "videos_from_cache": from_cache,
        "videos_failed": sum(1 for vid in col.videos if vid not in per_video),
        "video_samples": len(ids),
        "video_source_frames_decoded": source_frames,
        "video_seconds_decoded": round(decoded_seconds, 3),
        "video_hash_s": round(t_hash, 3),
        "video_decode_s": round(t_decode, 3),
        "video_embed_s": round(t_embed, 3),
        "video_x_realtime": round(decoded_seconds / t_decode, 2) if decoded_seconds and t_decode > 0 else None,
        "video_fps": options.fps,
        "video_sequence_length": L,
        "video_keyframes_only": options.keyframes_only,
    }
    return ids, out_keys, list(matrix), meta_cols, skipped, stats


def _decode_and_embed(embedder: "Embedder", cache: EmbeddingCache, todo: list[tuple[str, Path, str]], settings: DecodeSettings,
                      options: VideoOptions, workers: int | None, per_video: dict, skipped: list[dict[str, str]]):
    """Run the decoder threads over ``todo`` and embed each segment as it arrives."""
    dim = embedder.loaded.embedding_dim
    keys = {vid: key for vid, _, key in todo}
    seg_vectors: dict[str, dict[int, np.ndarray]] = {}
    decoded_seconds = 0.0
    source_frames = 0
    t_embed = 0.0
    with progress_bar("decoding videos", total=None, progress=embedder.progress, unit="s of video") as bar:
        totals = {"s": 0.0}

        def on_probe(vid, info, n_segments) -> None:
            totals["s"] += info.duration_s or 0.0
            bar.update(total=totals["s"])

        def on_progress(seconds: float) -> None:
            bar.advance(seconds)

        events = decode_videos([(vid, path) for vid, path, _ in todo], settings, workers=workers,
                               max_pixels=options.max_pixels, on_progress=on_progress, on_probe=on_probe)
        for ev in events:
            if isinstance(ev, SegmentDecoded):
                res = ev.result
                t0 = time.perf_counter()
                seg_vectors.setdefault(ev.video_id, {})[res.k] = _embed_frames(embedder, res.frames)
                t_embed += time.perf_counter() - t0
                res.frames = res.frames[:0]  # the pixels are not needed any more
            elif isinstance(ev, VideoRestarted):
                seg_vectors.pop(ev.video_id, None)
            elif isinstance(ev, VideoFailed):
                seg_vectors.pop(ev.video_id, None)
                skipped.append({"id": ev.video_id, "reason": ev.reason, "detail": ev.detail})
            elif isinstance(ev, DecodedVideo):
                vecs_by_seg = seg_vectors.pop(ev.video_id, {})
                vectors = (np.stack([vecs_by_seg[k][i] for k, i in ev.rows]).astype(np.float32)
                           if ev.rows else np.empty((0, dim), np.float32))
                meta = {
                    "format": VIDEO_GROUP_FORMAT,
                    "video": ev.video_id,
                    "frames": ev.frame_index.tolist(),
                    "pts": ev.pts.tolist(),
                    "timestamps": ev.timestamps.tolist(),
                    "problems": ev.problems,
                    "source_frames": ev.n_source_frames,
                    "info": ev.info.to_json(),
                    "settings": settings.token(),
                }
                cache.put_group(keys[ev.video_id], vectors, meta)
                per_video[ev.video_id] = (vectors, {**meta, "key": keys[ev.video_id]})
                skipped.extend(_problem_entries(ev.video_id, ev.problems, len(ev.rows)))
                decoded_seconds += ev.info.duration_s or (float(ev.timestamps[-1]) if ev.timestamps.size else 0.0)
                source_frames += ev.n_source_frames
    return per_video, (decoded_seconds, source_frames, t_embed)
