"""Decoding videos frame by frame in memory: exact timestamps, fps sampling, parallel segments.

Decoding is the floor of video selection on a CPU, so this module does the least work per
frame and keeps every core busy:

* FFmpeg decodes (PyAV, ``thread_type="AUTO"``) and releases the GIL while it does, so a
  pool of Python threads decodes several videos, or several time segments of one long
  video, at once, each segment opened with its own container and seek.
* Frames the fps grid does not want are decoded (they must be, to reach the next) but never
  converted; the kept ones are scaled by libswscale straight from YUV to the model's input
  size (``to_ndarray(width, height)``), then centre-cropped: only small arrays leave FFmpeg.
* With ``keyframes_only`` the decoder skips every non-key frame (``skip_frame="NONKEY"``).
* A segment's result holds at most a few hundred small frames, and at most two segments per
  thread are in flight, so memory stays flat with video length and with the number of
  videos; the caller embeds each segment as it arrives, overlapping embedding with decoding.

Segments: a video is cut at keyframes. Segment k starts at the first keyframe packet whose
pts is >= its boundary ``d_k`` and ends where segment k+1 starts; both neighbours see the
same packet (keyframes are never reordered among themselves, and a segment only starts
reading from a keyframe whose pts lies before its boundary), so the segments partition the
frames exactly. Each segment counts its
packets; a frame's number is the count of all packets before it in presentation order (see
:mod:`labelscout.sources.video`), so numbers and timestamps are identical to those of a
plain decode from the start. If segments ever disagree (no timestamps, a demux error inside
a segment), the video is decoded again from start to end in one piece.
"""
from __future__ import annotations

import fractions
import itertools
import logging
import math
import os
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..errors import BadSampleError
from .video import VideoInfo, default_decode_workers, open_container, probe_video

__all__ = [
    "DecodeSettings",
    "Segment",
    "SegmentResult",
    "DecodedVideo",
    "VideoFailed",
    "VideoRestarted",
    "SegmentDecoded",
    "decode_segment",
    "plan_segments",
    "assemble",
    "decode_videos",
    "read_frames_at",
    "to_model_input",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodeSettings:
    """What frames to keep and how to shrink them.

    size : side of the square frames returned (the model's input size).
    resize : the shorter side is scaled to this before the centre crop (>= size).
    fps : frames kept per second of video (first frame of each 1/fps step); None keeps all.
    keyframes_only : decode keyframes only.
    interpolation : libswscale filter for the downscale.
    max_frames_per_segment : memory bound: a segment keeps at most about this many frames.
    min_segment_s : shorter segments are not worth a seek.
    """

    size: int
    resize: int | None = None
    fps: float | None = None
    keyframes_only: bool = False
    interpolation: str = "AREA"
    max_frames_per_segment: int = 256
    min_segment_s: float = 4.0

    @property
    def shorter_side(self) -> int:
        return max(self.size, self.resize or self.size)

    def token(self) -> dict[str, Any]:
        """The settings that change the frames (for cache keys); segmenting does not."""
        return {"size": self.size, "resize": self.shorter_side, "fps": self.fps, "keyframes_only": self.keyframes_only,
                "interpolation": self.interpolation, "crop": "centre", "format": "rgb24"}


@dataclass
class Segment:
    video_id: str
    path: str
    k: int
    n: int
    d_start: int | None  # starts at the first keyframe packet with timestamp >= d_start (None: file start)
    d_end: int | None  # ends where the first keyframe packet with timestamp >= d_end starts (None: end of file)


@dataclass
class SegmentResult:
    video_id: str
    k: int
    started: bool = False
    start_pts: int | None = None  # pts of the segment's first keyframe (None for the first segment)
    end_pts: int | None = None  # pts of the next segment's first keyframe (None: went to the end)
    packet_pts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # sorted, one per frame in range
    pts_complete: bool = True
    # (n_kept, size, size, 3) uint8; empty, never None, for a segment that ended before its
    # first frame (a boundary beyond the data of a file that holds only its header)
    frames: np.ndarray = field(default_factory=lambda: np.empty((0, 0, 0, 3), np.uint8))
    pts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # (n_kept,)
    order: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # position among decoded frames
    n_decoded: int = 0
    skipped_frames: int = 0  # disposable frames not decoded at all (not on the fps grid)
    decode_errors: int = 0
    first_error: str = ""
    stream_error: str = ""
    open_error: BadSampleError | None = None
    seconds: float = 0.0

    @property
    def n_kept(self) -> int:
        return int(self.pts.size)


# -- frame conversion -------------------------------------------------------------------


def _crop_box(width: int, height: int, size: int, shorter: int) -> tuple[int, int]:
    """Scaled (width, height) whose shorter side is ``shorter`` (never below ``size``)."""
    scale = shorter / min(width, height)
    return max(size, int(round(width * scale))), max(size, int(round(height * scale)))


def to_model_input(frame, settings: DecodeSettings, reformatter=None) -> np.ndarray:
    """A decoded frame -> (size, size, 3) uint8 RGB: swscale downscale, centre crop, display rotation."""
    s = settings.size
    rw, rh = _crop_box(frame.width, frame.height, s, settings.shorter_side)
    if reformatter is not None:
        small = reformatter.reformat(frame, width=rw, height=rh, format="rgb24", interpolation=settings.interpolation)
        arr = small.to_ndarray()
    else:
        arr = frame.to_ndarray(format="rgb24", width=rw, height=rh, interpolation=settings.interpolation)
    y0, x0 = (rh - s) // 2, (rw - s) // 2
    arr = arr[y0 : y0 + s, x0 : x0 + s]  # (s, s, 3)
    return _apply_rotation(arr, frame)


def _apply_rotation(arr: np.ndarray, frame) -> np.ndarray:
    """Turn the picture the way a player shows it (phone videos store a display rotation)."""
    try:
        rot = int(frame.rotation or 0)
    except Exception:  # no display matrix
        rot = 0
    k = int(round(rot / 90.0)) % 4  # PyAV: degrees counter-clockwise, as np.rot90
    return np.ascontiguousarray(np.rot90(arr, k)) if k else np.ascontiguousarray(arr)


# -- one segment ---------------------------------------------------------------------------


def _key_pts(pkt) -> int | None:
    """The pts that decides where segments meet (keyframe packets only); dts if pts is unknown."""
    return pkt.pts if pkt.pts is not None else pkt.dts


def _is_flush(pkt) -> bool:
    return pkt.size == 0 and pkt.pts is None and pkt.dts is None


class _Packets:
    """Packets of the first video stream from a position, with demux errors caught."""

    def __init__(self, container, vs, head: Sequence[Any] = ()):
        self._head = deque(head)
        self._it = container.demux(vs)
        self.error = ""

    def __iter__(self):
        return self

    def __next__(self):
        if self._head:
            return self._head.popleft()
        try:
            return next(self._it)
        except StopIteration:
            raise
        except Exception as exc:  # a broken container ends the segment; frames so far are kept
            self.error = f"{type(exc).__name__}: {exc}"
            raise StopIteration from None


def _position(container, vs, info: VideoInfo, d_start: int | None) -> _Packets | str:
    """Packets starting at (or before) the segment boundary, "eof" when the data ends before
    it, or "failed" when no seek lands before it (the caller then reads from the start)."""
    if d_start is None:
        return _Packets(container, vs)
    tb = info.time_base
    ended = False
    for back_s in (0.0, 2.0, 20.0, 300.0):
        target = d_start - int(back_s / tb)
        try:
            container.seek(target, stream=vs, backward=True, any_frame=False)
        except Exception:  # seeking before the first sample fails in some demuxers
            continue
        packets = _Packets(container, vs)
        head = []
        for pkt in packets:
            head.append(pkt)
            if _key_pts(pkt) is not None:
                break
        if not head or _key_pts(head[-1]) is None:
            ended = True  # nothing after this point: the data ends before the boundary
            continue
        first = head[-1]
        # safe only from a keyframe at or before the boundary: every keyframe before it in
        # the file then has a smaller pts, so the boundary keyframe is still ahead
        if first.is_keyframe and _key_pts(first) <= d_start:
            packets._head.extend(head)
            return packets
    return "eof" if ended else "failed"


def _avcc_length_size(extradata: bytes | None) -> int | None:
    """NAL length-prefix size of an H.264 stream stored the MP4/Matroska way (avcC), else None."""
    if not extradata or len(extradata) < 7 or extradata[0] != 1:
        return None  # Annex-B start codes (raw streams, MPEG-TS): not parsed here
    return (extradata[4] & 3) + 1


def _h264_disposable(data: memoryview, length_size: int) -> bool:
    """True when the packet's picture is a non-reference one (nal_ref_idc 0): no other
    frame is predicted from it, so a frame that will not be kept need not be decoded."""
    i, n = 0, len(data)
    while i + length_size < n:
        size = int.from_bytes(data[i : i + length_size], "big")
        header = data[i + length_size]
        kind = header & 0x1F
        if kind in (1, 5):  # the first coded slice decides for the picture
            return kind == 1 and (header >> 5) & 3 == 0
        if size <= 0:
            return False
        i += length_size + size
    return False


def decode_segment(seg: Segment, info: VideoInfo, settings: DecodeSettings, threads: int = 1) -> SegmentResult:
    """Decode one segment and return its kept frames (small) with their pts and packet counts."""
    import av

    t0 = time.perf_counter()
    res = SegmentResult(seg.video_id, seg.k)
    try:
        container = open_container(seg.path)
    except BadSampleError as exc:
        res.open_error = exc
        return res
    with container:
        vs = container.streams.video[0]
        ctx = vs.codec_context
        ctx.thread_type = "AUTO"
        ctx.thread_count = max(1, int(threads))
        if settings.keyframes_only:
            ctx.skip_frame = "NONKEY"
        packets = _position(container, vs, info, seg.d_start)
        if packets == "eof":  # the boundary lies beyond the end of the data (a truncated file)
            res.seconds = time.perf_counter() - t0
            return res
        if packets == "failed":  # no seek lands before the boundary: demux from the start
            container.seek(0)
            packets = _Packets(container, vs)
        reformatter = av.video.reformatter.VideoReformatter()
        tb = info.time_base
        t_ref = info.start_pts
        fps_frac = fractions.Fraction(settings.fps).limit_denominator(1_000_000) if settings.fps else None
        # frames per time-base tick: bucket = floor((pts - t_ref) * tb * fps), in exact integers
        step = tb * fps_frac if fps_frac is not None else None
        # frames between two kept ones are decoded only if later frames are predicted from them
        length_size = _avcc_length_size(ctx.extradata) if (
            step is not None and not settings.keyframes_only and info.codec == "h264"
            and any(f in info.container for f in ("mov", "mp4", "matroska"))) else None
        bucket_min: dict[int, int] = {}  # fps step -> smallest pts demuxed in it so far
        started = seg.d_start is None
        res.started = started
        start_pts: int | None = None
        end_pts: int | None = None
        pkt_pts: list[int] = []
        kept: list[np.ndarray] = []
        kept_pts: list[int] = []
        kept_order: list[int] = []
        seen_buckets: set[int] = set()
        synthetic = 0  # running pts for streams whose frames carry none
        n_in_range = 0

        def take(frames) -> None:
            nonlocal synthetic, n_in_range
            for f in frames:
                p = f.pts
                if p is None:
                    res.pts_complete = False
                    p = synthetic
                synthetic = p + 1
                if start_pts is not None and p < start_pts:
                    continue  # leading frames of an open GOP belong to the previous segment
                if end_pts is not None and p >= end_pts:
                    continue  # the next segment's frames
                order = n_in_range
                n_in_range += 1
                if step is not None:
                    bucket = ((p - t_ref) * step.numerator) // step.denominator
                    if bucket in seen_buckets:
                        continue  # not the first frame of its 1/fps step: never converted
                    seen_buckets.add(bucket)
                kept.append(to_model_input(f, settings, reformatter))
                kept_pts.append(p)
                kept_order.append(order)

        for pkt in packets:
            if _is_flush(pkt):
                continue
            if not started:
                kp = _key_pts(pkt) if pkt.is_keyframe else None
                if kp is not None and kp >= seg.d_start:
                    started = res.started = True
                    start_pts = kp
                else:
                    continue  # before the boundary: demuxed, never decoded
            if seg.d_end is not None:
                if end_pts is None:
                    kp = _key_pts(pkt) if pkt.is_keyframe else None
                    if kp is not None and kp >= seg.d_end:
                        end_pts = kp
                elif (pkt.dts is not None and pkt.dts >= end_pts) or (pkt.dts is None and pkt.pts is not None and pkt.pts > end_pts):
                    break  # no later packet can hold a frame before the next segment
            in_range = False
            if pkt.pts is None:
                res.pts_complete = False
            elif (start_pts is None or pkt.pts >= start_pts) and (end_pts is None or pkt.pts < end_pts):
                pkt_pts.append(pkt.pts)
                in_range = True
            if length_size is not None and in_range:
                bucket = ((pkt.pts - t_ref) * step.numerator) // step.denominator
                first = bucket_min.get(bucket)
                if first is None or pkt.pts < first:
                    bucket_min[bucket] = pkt.pts
                elif _h264_disposable(memoryview(pkt), length_size):
                    res.skipped_frames += 1  # an earlier frame holds this step and nothing refers to this one
                    continue
            try:
                take(ctx.decode(pkt))
            except (av.FFmpegError, ValueError) as exc:  # a damaged packet or frame: count it, keep going
                res.decode_errors += 1
                if not res.first_error:
                    res.first_error = f"at pts {pkt.pts}: {exc}"
        res.stream_error = packets.error
        for _ in range(64):  # flush: frames the decoder still holds (B-frame reordering, threads)
            try:
                frames = ctx.decode(None)
                take(frames)
            except av.EOFError:
                break
            except (av.FFmpegError, ValueError) as exc:  # a frame-threaded decoder reports damage late
                res.decode_errors += 1
                res.first_error = res.first_error or f"at the end: {exc}"
                continue
            if not frames:
                break
        res.start_pts, res.end_pts = start_pts, end_pts
        res.packet_pts = np.sort(np.asarray(pkt_pts, dtype=np.int64))
        res.n_decoded = n_in_range
        s = settings.size
        res.frames = np.stack(kept) if kept else np.empty((0, s, s, 3), np.uint8)
        res.pts = np.asarray(kept_pts, dtype=np.int64)
        res.order = np.asarray(kept_order, dtype=np.int64)
    res.seconds = time.perf_counter() - t0
    return res


# -- planning and assembling -------------------------------------------------------------


def plan_segments(video_id: str, info: VideoInfo, settings: DecodeSettings, workers: int) -> list[Segment]:
    """Cut a video into segments at keyframes: enough to keep ``workers`` threads busy to the
    end, each small enough to keep memory bounded, none shorter than ``min_segment_s``."""
    whole = [Segment(video_id, info.path, 0, 1, None, None)]
    dur = info.duration_s
    if not info.seekable or not dur or dur <= 0:
        return whole
    eff_fps = settings.fps or info.average_rate or 30.0
    if info.average_rate:
        eff_fps = min(eff_fps, info.average_rate)
    by_memory = settings.max_frames_per_segment / max(eff_fps, 1e-6)
    # four segments per thread: the last segments to finish then leave few cores idle
    by_threads = dur / (4 * max(1, workers)) if workers > 1 else dur
    length = max(settings.min_segment_s, min(by_memory, by_threads))
    n = int(math.ceil(dur / length - 1e-9))
    if n <= 1:
        return whole
    tb = info.time_base
    t_first = info.keyframe_ts[0] if info.keyframe_ts else info.start_pts
    targets = [info.start_pts + int(round(dur * i / n / tb)) for i in range(1, n)]
    if len(info.keyframe_ts) > 1:
        # snap each boundary to a real keyframe so a seek lands exactly on it
        kf = np.asarray(info.keyframe_ts, dtype=np.int64)
        snapped = []
        for t in targets:
            j = int(np.searchsorted(kf, t))
            cands = [kf[x] for x in (j - 1, j) if 0 <= x < kf.size]
            snapped.append(int(min(cands, key=lambda c: abs(int(c) - t))))
        targets = snapped
    bounds = sorted({t for t in targets if t > t_first})
    if not bounds:
        return whole
    edges = [None, *bounds, None]
    return [Segment(video_id, info.path, k, len(edges) - 1, edges[k], edges[k + 1]) for k in range(len(edges) - 1)]


@dataclass
class DecodedVideo:
    """The kept frames of one video in order, as rows of its segment results."""

    video_id: str
    info: VideoInfo
    rows: list[tuple[int, int]]  # (segment k, row in that segment's frames) per kept frame
    frame_index: np.ndarray  # (n,) int64
    pts: np.ndarray  # (n,) int64
    timestamps: np.ndarray  # (n,) float64 seconds from the stream start
    n_source_frames: int
    problems: list[dict[str, str]]
    segments: int
    decode_seconds: float

    def __len__(self) -> int:
        return len(self.rows)


class _Inconsistent(Exception):
    """Segments disagree; the video must be decoded in one piece."""


def assemble(video_id: str, info: VideoInfo, results: Sequence[SegmentResult], settings: DecodeSettings) -> DecodedVideo:
    """Join a video's segment results: global frame numbers, fps dedupe across boundaries, problems."""
    results = sorted(results, key=lambda r: r.k)
    n_seg = len(results)
    if n_seg > 1:
        for prev, cur in zip(results, results[1:]):
            if not cur.started:
                continue
            if not prev.started or prev.end_pts is None or cur.start_pts != prev.end_pts or prev.stream_error:
                raise _Inconsistent(f"segment {cur.k} starts at pts {cur.start_pts}, segment {prev.k} ended at {prev.end_pts}")
        if not all(r.pts_complete for r in results):
            raise _Inconsistent("frames without timestamps")
    rows: list[tuple[int, int]] = []
    idx: list[int] = []
    pts: list[int] = []
    offset = 0
    for r in results:
        if r.pts_complete:
            local = np.searchsorted(r.packet_pts, r.pts) if r.packet_pts.size else r.order
        else:
            local = r.order  # no packet timestamps: numbers are decode order
        for i in range(r.n_kept):
            rows.append((r.k, i))
            idx.append(offset + int(local[i]))
            pts.append(int(r.pts[i]))
        offset += int(r.packet_pts.size) if r.pts_complete else r.n_decoded
    frame_index = np.asarray(idx, dtype=np.int64)
    pts_arr = np.asarray(pts, dtype=np.int64)
    order = np.argsort(pts_arr, kind="stable")
    rows = [rows[i] for i in order]
    frame_index, pts_arr = frame_index[order], pts_arr[order]
    if settings.fps and pts_arr.size:
        # a segment keeps the first frame of each step it sees; across a boundary the same step
        # can appear twice: keep the earlier frame
        step = info.time_base * fractions.Fraction(settings.fps).limit_denominator(1_000_000)
        buckets = ((pts_arr - info.start_pts) * step.numerator) // step.denominator
        first = np.ones(pts_arr.size, dtype=bool)
        first[1:] = buckets[1:] != buckets[:-1]
        rows = [r for r, f in zip(rows, first) if f]
        frame_index, pts_arr = frame_index[first], pts_arr[first]
    timestamps = np.round((pts_arr - info.start_pts).astype(np.float64) * float(info.time_base), 6)
    n_source = offset
    problems = _problems(info, results, n_source, timestamps)
    if not rows and not problems:
        problems.append({"reason": "no_frames", "detail": "the video stream holds no frames"})
    return DecodedVideo(video_id, info, rows, frame_index, pts_arr, timestamps, n_source, problems, n_seg,
                        sum(r.seconds for r in results))


def _problems(info: VideoInfo, results: Sequence[SegmentResult], n_source: int, timestamps: np.ndarray) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    opened = [r for r in results if r.open_error is not None]
    if opened:
        e = opened[0].open_error
        out.append({"reason": e.reason, "detail": e.message})
    stream_err = next((r.stream_error for r in results if r.stream_error), "")
    short = info.header_frames > 0 and n_source < info.header_frames
    ends_early = False
    if info.header_frames == 0 and info.duration_s and timestamps.size:
        frame_s = 1.0 / info.average_rate if info.average_rate else 0.04
        ends_early = float(timestamps[-1]) < info.duration_s - max(1.0, 3 * frame_s)
    if short or ends_early or (stream_err and ("end of file" in stream_err.lower() or "eof" in stream_err.lower())):
        if short:
            detail = f"the header lists {info.header_frames} frames, the file holds {n_source}"
        elif ends_early:
            detail = f"the header says {info.duration_s:.2f} s, the frames end at {float(timestamps[-1]):.2f} s"
        else:
            detail = stream_err
        out.append({"reason": "truncated", "detail": detail})
    elif stream_err:
        out.append({"reason": "corrupt", "detail": f"reading stopped: {stream_err}"})
    errors = sum(r.decode_errors for r in results)
    if errors:
        first = next(r.first_error for r in results if r.first_error)
        # the packet cut off by a truncation fails to decode too; that is the truncation, not damage
        if not (out and out[-1]["reason"] == "truncated" and errors == 1):
            out.append({"reason": "corrupt", "detail": f"{errors} packet(s) could not be decoded (first {first})"})
    return out


# -- many videos, many threads -------------------------------------------------------------


@dataclass
class SegmentDecoded:
    video_id: str
    result: SegmentResult


@dataclass
class VideoFailed:
    video_id: str
    reason: str
    detail: str


@dataclass
class VideoRestarted:
    """Segments of this video disagreed: drop what was received; it is decoded again whole."""

    video_id: str
    why: str


@dataclass
class _State:
    info: VideoInfo
    segments: list[Segment]
    results: list[SegmentResult] = field(default_factory=list)
    whole: bool = False


def decode_videos(
    videos: Iterable[tuple[str, str | Path]],
    settings: DecodeSettings,
    *,
    workers: int | None = None,
    max_pixels: int = 8192 * 8192,
    on_progress=None,
    on_probe=None,
) -> Iterator[SegmentDecoded | DecodedVideo | VideoFailed | VideoRestarted]:
    """Decode ``videos`` ((video_id, path) pairs), yielding events as work finishes.

    For each video: zero or more :class:`SegmentDecoded` (embed their ``frames`` right away,
    then drop them), possibly a :class:`VideoRestarted`, and finally either a
    :class:`DecodedVideo` (which segment rows make the kept frames, in order) or a
    :class:`VideoFailed`. ``workers`` decode threads (0: decode in the calling thread);
    at most ``2 * workers`` tasks are in flight, which bounds memory. ``on_progress(seconds)``
    is called with the seconds of video each finished segment covered, and
    ``on_probe(video_id, info, n_segments)`` once per video that opened.
    """
    workers = default_decode_workers() if workers is None else int(workers)
    cores = os.cpu_count() or 1
    jobs = deque((vid, str(p)) for vid, p in videos)
    ready: deque[Segment] = deque()
    state: dict[str, _State] = {}
    max_in_flight = max(1, 2 * workers)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labelscout-decode") if workers > 0 else None

    def probe_task(vid: str, path: str):
        try:
            info = probe_video(path, max_pixels)
        except BadSampleError as exc:
            return vid, exc, None
        except Exception as exc:  # an unexpected failure on one file must not end the run
            return vid, BadSampleError(f"{path}: {type(exc).__name__}: {exc}", reason="corrupt"), None
        return vid, info, plan_segments(vid, info, settings, max(1, workers))

    def seg_task(seg: Segment, info: VideoInfo, threads: int) -> SegmentResult:
        try:
            return decode_segment(seg, info, settings, threads)
        except Exception as exc:  # reported as a problem of this video; the others go on
            log.debug("segment %d of %s failed", seg.k, seg.video_id, exc_info=True)
            res = SegmentResult(seg.video_id, seg.k)
            res.open_error = BadSampleError(f"{seg.path}: {type(exc).__name__}: {exc}", reason="corrupt")
            return res

    def handle_probe(out) -> Iterator[Any]:
        vid, info, segs = out
        if isinstance(info, BadSampleError):
            yield VideoFailed(vid, info.reason, info.message)
            return
        state[vid] = _State(info, segs)
        if on_probe is not None:
            on_probe(vid, info, len(segs))
        ready.extend(segs)

    def handle_segment(res: SegmentResult) -> Iterator[Any]:
        st = state[res.video_id]
        st.results.append(res)
        if on_progress is not None and st.info.duration_s and not st.whole:
            on_progress(st.info.duration_s / len(st.segments))
        yield SegmentDecoded(res.video_id, res)
        if len(st.results) < len(st.segments):
            return
        try:
            video = assemble(res.video_id, st.info, st.results, settings)
        except _Inconsistent as exc:
            log.info("decoding %s again in one piece: %s", res.video_id, exc)
            yield VideoRestarted(res.video_id, str(exc))
            st.segments = [Segment(res.video_id, st.info.path, 0, 1, None, None)]
            st.results = []
            st.whole = True
            ready.appendleft(st.segments[0])
            return
        del state[res.video_id]
        if not len(video) and video.problems:
            p = video.problems[0]
            yield VideoFailed(res.video_id, p["reason"], p["detail"])
            return
        yield video

    in_flight: dict[Future, str] = {}

    def threads_for() -> int:
        if not workers:
            return cores  # one decoder at a time: give it every core
        busy = min(workers, len(in_flight) + len(ready) + 1)
        return max(1, cores // max(1, busy))

    try:
        while True:
            # started videos first: they finish sooner and free their memory
            while len(in_flight) < max_in_flight and (ready or jobs):
                if ready:
                    seg = ready.popleft()
                    args = (seg, state[seg.video_id].info, threads_for())
                    if pool is None:
                        yield from handle_segment(seg_task(*args))
                        continue
                    in_flight[pool.submit(seg_task, *args)] = "segment"
                else:
                    vid, path = jobs.popleft()
                    if pool is None:
                        yield from handle_probe(probe_task(vid, path))
                        continue
                    in_flight[pool.submit(probe_task, vid, path)] = "probe"
            if not in_flight:
                if not ready and not jobs:
                    break
                continue
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for fut in done:
                kind = in_flight.pop(fut)
                out = fut.result()
                if kind == "probe":
                    yield from handle_probe(out)
                else:
                    yield from handle_segment(out)
    finally:
        if pool is not None:
            for fut in in_flight:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)


# -- full-resolution frames at given timestamps ---------------------------------------------


def read_frames_at(path: str | Path, targets: Sequence[int], *, threads: int = 1, seek_gap_s: float = 2.0) -> Iterator[tuple[int, np.ndarray | None, str]]:
    """Yield ``(pts, full-resolution RGB array or None, problem)`` for each pts in ``targets``.

    Targets are visited in increasing order; the decoder seeks to the keyframe before a
    target unless the target lies less than ``seek_gap_s`` ahead of where decoding is.
    """
    import av

    todo = sorted(set(int(t) for t in targets))
    if not todo:
        return
    try:
        container = open_container(path)
    except BadSampleError as exc:
        for t in todo:
            yield t, None, exc.message
        return
    with container:
        vs = container.streams.video[0]
        ctx = vs.codec_context
        ctx.thread_type = "AUTO"
        ctx.thread_count = max(1, threads)
        tb = vs.time_base
        gap = int(seek_gap_s / tb)
        frames_iter: Iterator[Any] | None = None
        last_pts: int | None = None
        wanted = set(todo)
        length_size = _avcc_length_size(ctx.extradata) if ctx.name == "h264" and any(
            f in (container.format.name or "") for f in ("mov", "mp4", "matroska")) else None

        def skip(pkt) -> bool:
            """Frames that are not wanted and that no other frame refers to are not decoded."""
            return length_size is not None and pkt.pts not in wanted and _h264_disposable(memoryview(pkt), length_size)

        def frames_from(target: int) -> Iterator[Any]:
            for back_s in (0.0, 2.0, 20.0, 300.0):
                try:
                    container.seek(target - int(back_s / tb), stream=vs, backward=True, any_frame=False)
                except Exception:
                    continue
                it = _decoded(container, vs, skip)
                first = next(it, None)
                if first is None:
                    continue
                if first.pts is not None and first.pts <= target:
                    return itertools.chain([first], it)
            container.seek(0)  # last resort: from the start
            try:
                ctx.flush_buffers()
            except Exception:
                pass
            return _decoded(container, vs, skip)

        for t in todo:
            if frames_iter is None or last_pts is None or t <= last_pts or t - last_pts > gap:
                frames_iter = frames_from(t)
            found = None
            for f in frames_iter:
                if f.pts is None:
                    continue
                last_pts = f.pts
                if f.pts == t:
                    found = f
                    break
                if f.pts > t:
                    break
            if found is None:
                yield t, None, f"no frame with pts {t} could be decoded"
                frames_iter = None
                continue
            yield t, _apply_rotation(found.to_ndarray(format="rgb24"), found), ""


def _decoded(container, vs, skip=None) -> Iterator[Any]:
    """Decoded frames from the current position; damaged packets, and packets ``skip``
    says are not needed, are passed over."""
    import av

    packets = _Packets(container, vs)
    for pkt in packets:
        if _is_flush(pkt) or (skip is not None and skip(pkt)):
            continue
        try:
            frames = vs.codec_context.decode(pkt)
        except av.FFmpegError:
            continue
        yield from frames
    try:
        yield from vs.codec_context.decode(None)
    except av.FFmpegError:
        return
