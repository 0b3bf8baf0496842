"""What a video file is to labelscout: its extensions, how it is probed, and why one cannot be used.

A video is probed once (container, first video stream, size, codec, time base, frame
count and duration from the header, keyframe positions from the demuxer's index) before
anything is decoded. Files that cannot be used raise :class:`BadSampleError` with one of
the reason codes in :data:`BAD_VIDEO_REASONS`; problems found while decoding (a truncated
file, damaged packets) are reported with the same codes, and every frame decoded before or
after the damage is kept.

Frame numbering: frame ``N`` of a video is the N-th frame (0-based) of its first video
stream in presentation order, counted over the stream's packets. For an intact stream this
is exactly the count of frames a plain decode from the start yields before it, so any tool
can find it again; for a damaged stream, frames that cannot be decoded keep their number
and the frames after them keep theirs.
"""
from __future__ import annotations

import fractions
import logging
import numbers
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .._validation import Instance, Interval, validate_params
from ..errors import BadSampleError, ConfigError

__all__ = [
    "VIDEO_EXTENSIONS",
    "BAD_VIDEO_REASONS",
    "DEFAULT_FPS",
    "parse_fps",
    "open_container",
    "default_decode_workers",
    "VideoInfo",
    "VideoOptions",
    "probe_video",
    "bad_video",
    "frame_id",
    "clip_id",
    "parse_frame_id",
]

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg"})

#: reason code -> what it means (shown in run.json and the summary line)
BAD_VIDEO_REASONS = {
    "empty_file": "the file has zero bytes",
    "not_a_video": "the file content is not a container FFmpeg can read",
    "truncated": "the video data ends early (interrupted recording, download or copy)",
    "no_video_stream": "the file holds no video stream (audio-only or data)",
    "unsupported_codec": "this installation's FFmpeg has no decoder for the video codec",
    "no_frames": "the video stream holds no decodable frames",
    "corrupt": "some packets of the video are damaged and cannot be decoded",
    "too_large": "the frames have more pixels than the limit",
    "unreadable": "the file cannot be opened (permissions or I/O error)",
    "not_a_regular_file": "the path is a FIFO, socket or device, not a file (it was not read)",
}

_HINTS = {
    "truncated": "Re-copy or re-download the file.",
    "unsupported_codec": "Convert the video to h264/h265/vp9/av1, or install PyAV built with that decoder.",
    "too_large": "Downscale the video (the limit is VideoOptions.max_pixels, 8192x8192 by default).",
    "unreadable": "Check the file permissions.",
    "corrupt": "Re-encode or re-copy the file.",
}

#: default sampling rate: 5 frames per second of video (see VideoOptions for why)
DEFAULT_FPS = 5.0

# Containers whose demuxers seek by an index to exact keyframes; only these are split into
# segments decoded in parallel. Others (MPEG program streams...) are decoded start to end.
_SEEKABLE_FORMATS = ("mov", "mp4", "matroska", "webm", "avi")


def parse_fps(value: Any) -> Any:
    """``"all"`` or None mean every frame (None); numeric strings become floats.

    Anything else (0, negative numbers, other words) is returned unchanged for
    :class:`VideoOptions` to reject with its message: 0 frames per second is no rate,
    and reading it as "every frame" hid typos.
    """
    if value is None:
        return None
    if isinstance(value, str):
        s = value.strip().lower()
        if s == "all":
            return None
        try:
            return float(s)
        except ValueError:
            return value
    return value


def bad_video(path: str | Path, reason: str, detail: str = "") -> BadSampleError:
    msg = f"{path}: {BAD_VIDEO_REASONS[reason]}" + (f" ({detail})" if detail else "")
    return BadSampleError(msg, reason=reason, hint=_HINTS.get(reason))


def frame_id(video_id: str, index: int) -> str:
    """Sample id of frame ``index`` of ``video_id``: ``clip.mp4#frame=123``."""
    return f"{video_id}#frame={int(index)}"


def clip_id(video_id: str, first: int, last: int) -> str:
    """Sample id of the clip of frames ``first``..``last`` (inclusive): ``clip.mp4#frames=10-37``."""
    return f"{video_id}#frames={int(first)}-{int(last)}"


def parse_frame_id(sample_id: str) -> tuple[str, int, int] | None:
    """``(video_id, first, last)`` of a frame or clip id; None for any other id."""
    video, sep, frag = sample_id.rpartition("#")
    if not sep:
        return None
    try:
        if frag.startswith("frame="):
            n = int(frag[6:])
            return video, n, n
        if frag.startswith("frames="):
            a, b = frag[7:].split("-")
            return video, int(a), int(b)
    except ValueError:
        return None
    return None


@dataclass(frozen=True)
class VideoOptions:
    """How videos become samples.

    Parameters
    ----------
    fps : frames sampled per second of video (a number, or "all" / None for every frame), by their exact timestamps (the first frame at
        or after each 1/fps step, so variable frame rates are handled); None samples every
        frame. Default 5: consecutive frames of a 25-60 fps video are near-duplicates, so 5
        per second loses no scene that lasts 0.2 s while embedding 5-12x fewer frames, and
        keeps a 71-minute video at 21,300 samples. Decoding costs the same either way (every
        frame must be decoded to reach the next), so a higher fps only costs model time.
    sequence_length : with L > 1, each sample is a clip of L consecutive sampled frames
        (their mean embedding), for teams that label tracks rather than frames.
    keyframes_only : decode only keyframes (much faster; the samples are the keyframes that
        fall on the fps grid, so their spacing follows the encoder's keyframe interval).
    max_pixels : frames larger than this are refused as ``too_large``.
    """

    fps: float | None = DEFAULT_FPS
    sequence_length: int = 1
    keyframes_only: bool = False
    max_pixels: int = 8192 * 8192

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "fps": [Interval(numbers.Real, 0, 1000, closed="right"), None],
        "sequence_length": [Interval(numbers.Integral, 1, None)],
        "keyframes_only": [Instance(bool)],
        "max_pixels": [Interval(numbers.Integral, 1, None)],
    }

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", parse_fps(self.fps))
        if self.fps is not None and not self._parameter_constraints["fps"][0].accepts(self.fps):
            raise ConfigError(f"The 'fps' parameter of VideoOptions must be a number of frames per second in (0, 1000], "
                              f"or 'all' for every frame. Got {self.fps!r} instead.",
                              hint="e.g. --fps 5, --fps 0.5 (one frame every 2 s) or --fps all.")
        validate_params("VideoOptions", {
            "fps": self.fps, "sequence_length": self.sequence_length,
            "keyframes_only": self.keyframes_only, "max_pixels": self.max_pixels,
        }, self._parameter_constraints)

@dataclass
class VideoInfo:
    """What the header of a video says (probed without decoding)."""

    path: str
    width: int
    height: int
    codec: str
    container: str
    time_base: fractions.Fraction
    start_pts: int  # stream start time in time_base (timestamps are reported from here)
    duration_s: float | None  # of the video stream when the header knows it
    header_frames: int  # frame count from the header (0 when the container does not store it)
    average_rate: float | None
    seekable: bool
    keyframe_ts: list[int] = field(default_factory=list)  # index timestamps of keyframes (demuxer's time base)

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width, "height": self.height, "codec": self.codec, "container": self.container,
            "time_base": f"{self.time_base.numerator}/{self.time_base.denominator}", "start_pts": self.start_pts,
            "duration_s": self.duration_s, "header_frames": self.header_frames, "average_rate": self.average_rate,
        }


def _mp4_top_boxes(path: Path, limit: int = 10_000) -> list[str]:
    """Types of the top-level boxes of an MP4/MOV file (reads 16 bytes per box)."""
    types: list[str] = []
    size = path.stat().st_size
    with open(path, "rb") as fh:
        pos = 0
        while pos + 8 <= size and len(types) < limit:
            fh.seek(pos)
            head = fh.read(16)
            box_len = int.from_bytes(head[:4], "big")
            kind = head[4:8].decode("latin-1")
            if box_len == 1 and len(head) >= 16:
                box_len = int.from_bytes(head[8:16], "big")
            elif box_len == 0:
                box_len = size - pos  # the box runs to the end of the file
            types.append(kind)
            if box_len < 8:
                break
            pos += box_len
    return types


def _open_error(path: Path, exc: BaseException) -> BadSampleError:
    import av

    text = str(exc)
    if isinstance(exc, PermissionError) or isinstance(exc, av.error.PermissionError):
        return bad_video(path, "unreadable", text)
    if path.suffix.lower() in (".mp4", ".mov", ".m4v"):
        try:
            boxes = _mp4_top_boxes(path)
        except OSError:
            boxes = []
        if boxes and boxes[0] == "ftyp" and "moov" not in boxes:
            # the index is written last unless the file was made for streaming: a recording or
            # copy that stopped early has its media data but no index, and no frame can be found
            return bad_video(path, "truncated", "the index (moov box) is missing: the recording or copy was cut off before it was written")
    if isinstance(exc, (av.error.EOFError, EOFError)):
        return bad_video(path, "truncated", text)
    return bad_video(path, "not_a_video", f"{type(exc).__name__}: {text}")


def open_container(path: str | Path):
    """``av.open`` with errors turned into :class:`BadSampleError`."""
    import av

    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise bad_video(path, "unreadable", str(exc)) from exc
    if not stat.S_ISREG(st.st_mode):  # FFmpeg would block on a FIFO and read a device forever
        raise bad_video(path, "not_a_regular_file")
    size = st.st_size
    if size == 0:
        raise bad_video(path, "empty_file")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except Exception as exc:  # FFmpeg's errors are many; each becomes a reason
        raise _open_error(path, exc) from exc


def probe_video(path: str | Path, max_pixels: int = VideoOptions.max_pixels) -> VideoInfo:
    """Read the header of ``path``. Raises :class:`BadSampleError` (see :data:`BAD_VIDEO_REASONS`)."""
    path = Path(path)
    with open_container(path) as container:
        return _probe(container, path, max_pixels)


def _probe(container, path: Path, max_pixels: int) -> VideoInfo:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        detail = ("only " + ", ".join(f"{sum(1 for s in container.streams if s.type == k)} {k}" for k in kinds) + " stream(s)") if kinds else "no streams at all"
        raise bad_video(path, "no_video_stream", detail)
    vs = container.streams.video[0]
    ctx = vs.codec_context
    if ctx is None:
        raise bad_video(path, "unsupported_codec", "no decoder for the codec of the first video stream")
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise bad_video(path, "corrupt", f"the header gives a frame size of {width}x{height}")
    if width * height > max_pixels:
        raise bad_video(path, "too_large", f"{width}x{height} pixels > {max_pixels}")
    tb = vs.time_base or fractions.Fraction(1, 90000)
    duration_s = float(vs.duration * tb) if vs.duration else None
    if duration_s is None and container.duration:
        duration_s = container.duration / 1_000_000  # AV_TIME_BASE
    fmt = container.format.name or ""
    keyframes: list[int] = []
    try:
        entries = vs.index_entries
        keyframes = [int(e.timestamp) for e in entries if e.is_keyframe]
    except Exception:  # an index is an optimisation; seeking works without it
        keyframes = []
    rate = vs.average_rate or vs.guessed_rate
    return VideoInfo(
        path=str(path), width=width, height=height, codec=ctx.name, container=fmt, time_base=fractions.Fraction(tb),
        start_pts=int(vs.start_time) if vs.start_time is not None else 0, duration_s=duration_s,
        header_frames=int(vs.frames or 0), average_rate=float(rate) if rate else None,
        seekable=any(f in fmt for f in _SEEKABLE_FORMATS), keyframe_ts=keyframes,
    )


def default_decode_workers() -> int:
    """Decode threads: one per core (FFmpeg releases the GIL while it decodes)."""
    return max(1, min(32, os.cpu_count() or 1))
