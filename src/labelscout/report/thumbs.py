"""Small JPEG thumbnails of samples for the report, made once and kept in the run folder.

* :func:`thumbnail_for` turns one sample id into a picture: an image file under the data
  root, or a video frame ``clip.mp4#frame=N`` decoded with PyAV (seek to the keyframe
  before frame N, decode forward to it).
* :class:`ThumbnailStore` keeps the JPEG bytes in ``RUN_DIR/thumbs/`` (one pack file plus
  an index), keyed by size, id and a content key, so a rerun of the report reuses them.
* :func:`thumbnails` fetches many from the store and makes the missing ones (threads:
  Pillow releases the GIL while it decodes, resizes and encodes).
"""
from __future__ import annotations

import io
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from PIL import Image

from ..errors import BadSampleError, InputError
from ..runs.atomic import atomic_write_bytes, atomic_write_json
from ..sources.images import load_image

__all__ = ["thumbnail_for", "thumbnail_jpeg", "parse_frame_id", "ThumbnailStore", "thumbnails", "encode_jpeg", "THUMBS_DIR"]

log = logging.getLogger(__name__)

THUMBS_DIR = "thumbs"
_PACK, _INDEX = "thumbs.pack", "thumbs.json"
_INDEX_FORMAT = "labelscout-thumbs/1"
_FRAME_RE = re.compile(r"^(?P<path>.+)#frame=(?P<n>\d+)$")
# decoding forward this many frames is cheaper than a seek (which restarts at a keyframe)
_MAX_FORWARD_DECODE = 250


def parse_frame_id(sample_id: str) -> tuple[str, int] | None:
    """``("clip.mp4", 12)`` for ``"clip.mp4#frame=12"``; None for a plain file id."""
    m = _FRAME_RE.match(sample_id)
    return (m.group("path"), int(m.group("n"))) if m else None


def _fit(img: Image.Image, size: int) -> Image.Image:
    """Shrink to fit a ``size`` x ``size`` box, keeping the aspect ratio (never enlarge)."""
    img = img.convert("RGB") if img.mode != "RGB" else img
    if max(img.size) > size:
        img = img.copy()
        img.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return img


def encode_jpeg(img: Image.Image, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


class _VideoFrames:
    """Frames of one video by index, decoding forward when the next one is close and
    seeking (to the keyframe before it) when it is not or lies behind."""

    def __init__(self, path: Path):
        import av

        try:
            self.container = av.open(str(path))
        except (OSError, av.error.FFmpegError) as exc:  # type: ignore[attr-defined]
            raise BadSampleError(f"{path}: cannot open the video ({exc})", reason="unreadable") from exc
        if not self.container.streams.video:
            self.container.close()
            raise BadSampleError(f"{path}: has no video stream", reason="not_a_video")
        self.stream = self.container.streams.video[0]
        self.path = path
        rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate
        if not rate:
            self.container.close()
            raise BadSampleError(f"{path}: the video has no frame rate, so frame numbers cannot be located", reason="corrupt")
        self.fps = float(rate)
        self.time_base = float(self.stream.time_base)
        self.start = self.stream.start_time or 0
        self._decoder = None
        self._last = -1  # index of the last decoded frame

    def _index_of(self, frame) -> int:
        pts = frame.pts if frame.pts is not None else self.start
        return int(round((pts - self.start) * self.time_base * self.fps))

    def frame(self, n: int, size: int | None = None) -> Image.Image:
        if self._decoder is None or not (self._last < n <= self._last + _MAX_FORWARD_DECODE):
            target = self.start + int(n / self.fps / self.time_base)
            self.container.seek(target, stream=self.stream, backward=True, any_frame=False)
            self._decoder = self.container.decode(self.stream)
            self._last = -1
        for frame in self._decoder:
            idx = self._index_of(frame)
            self._last = idx
            if idx >= n:
                if size is not None:
                    w, h = frame.width, frame.height
                    scale = min(1.0, size / max(w, h))
                    # let swscale shrink the frame: converting a full HD frame to PIL first is slow
                    return frame.to_image(width=max(1, round(w * scale)), height=max(1, round(h * scale)))
                return frame.to_image()
        self._decoder = None
        raise BadSampleError(f"{self.path}: frame {n} lies beyond the end of the video (last frame {self._last})",
                             reason="frame_out_of_range")

    def close(self) -> None:
        self.container.close()


def thumbnail_for(root: str | Path, sample_id: str, size: int = 96) -> Image.Image:
    """The picture of one sample, shrunk to fit ``size`` x ``size``.

    ``root`` is the data root the ids are relative to. A video frame id
    (``clip.mp4#frame=N``) is decoded from the video by seeking to frame index N (0-based,
    counted at the video's own frame rate). Raises :class:`BadSampleError` when the
    sample cannot be read.
    """
    root = Path(root)
    frame = parse_frame_id(sample_id)
    if frame is None:
        return _fit(load_image(root / sample_id, draft_size=size), size)
    video = _VideoFrames(root / frame[0])
    try:
        return _fit(video.frame(frame[1], size), size)
    finally:
        video.close()


@dataclass
class _Entry:
    offset: int
    length: int


class ThumbnailStore:
    """JPEG bytes keyed by string, in ``folder/thumbs.pack`` + ``folder/thumbs.json``.

    Only what a build used is kept when it saves, so the store follows the pool instead of
    growing forever. The index records the pack's size; a pack that does not match its
    index (a crash between the two writes) is ignored and rebuilt.
    """

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder is not None else None
        self._old: dict[str, _Entry] = {}
        self._pack: bytes = b""
        self._new: dict[str, bytes] = {}
        self._used: set[str] = set()
        if self.folder is not None:
            self._load()

    def _load(self) -> None:
        index, pack = self.folder / _INDEX, self.folder / _PACK
        if not index.is_file() or not pack.is_file():
            return
        try:
            meta = json.loads(index.read_text())
            data = pack.read_bytes()
        except (OSError, ValueError) as exc:
            log.warning("Thumbnail cache in %s is unreadable (%s); making thumbnails again.", self.folder, exc)
            return
        if meta.get("format") != _INDEX_FORMAT or meta.get("pack_size") != len(data):
            log.info("Thumbnail cache in %s does not match its pack; making thumbnails again.", self.folder)
            return
        self._pack = data
        self._old = {k: _Entry(*v) for k, v in meta["entries"].items()}

    def get(self, key: str) -> bytes | None:
        if key in self._new:
            self._used.add(key)
            return self._new[key]
        e = self._old.get(key)
        if e is None:
            return None
        self._used.add(key)
        return self._pack[e.offset : e.offset + e.length]

    def put(self, key: str, data: bytes) -> None:
        self._new[key] = data
        self._used.add(key)

    @property
    def changed(self) -> bool:
        return bool(self._new) or set(self._old) != self._used

    def save(self) -> None:
        """Write the entries used since loading (pack first, then the index that names its size)."""
        if self.folder is None or not self.changed:
            return
        chunks, entries, offset = [], {}, 0
        for key in sorted(self._used):
            data = self.get(key)
            if data is None:
                continue
            chunks.append(data)
            entries[key] = [offset, len(data)]
            offset += len(data)
        pack = b"".join(chunks)
        atomic_write_bytes(self.folder / _PACK, pack)
        atomic_write_json(self.folder / _INDEX, {"format": _INDEX_FORMAT, "pack_size": len(pack), "entries": entries})
        self._pack, self._old, self._new = pack, {k: _Entry(*v) for k, v in entries.items()}, {}


def _small_jpeg_as_is(path: Path, size: int) -> bytes | None:
    """The file's own bytes when it is already a thumbnail: a small upright RGB/grey JPEG
    no larger than ``size``. Reading the header costs a tenth of decoding and re-encoding,
    which matters for collections of tiny images (CIFAR's 32 px JPEGs)."""
    try:
        if path.stat().st_size > 64 * 1024:
            return None
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            if (img.format == "JPEG" and img.mode in ("RGB", "L") and max(img.size) <= size
                    and img.getexif().get(0x0112, 1) == 1):
                return data
    except (OSError, SyntaxError, ValueError):
        return None  # load_image gives the precise reason
    return None


def thumbnail_jpeg(root: str | Path, sample_id: str, size: int = 96, quality: int = 80) -> bytes:
    """JPEG bytes of one sample's thumbnail: the file itself when it already is a small
    JPEG, else the picture shrunk to fit ``size`` x ``size``. Raises
    :class:`BadSampleError` when the sample cannot be read."""
    root = Path(root)
    if parse_frame_id(sample_id) is None:
        same = _small_jpeg_as_is(root / sample_id, size)
        if same is not None:
            return same
    return encode_jpeg(thumbnail_for(root, sample_id, size), quality)


def _make_jpegs(root: Path, ids: Sequence[str], size: int, quality: int) -> list[bytes | BadSampleError]:
    """JPEG thumbnails of plain image files (threads) and video frames (one open container
    per video, frames visited in index order)."""
    out: list[bytes | BadSampleError | None] = [None] * len(ids)
    videos: dict[str, list[tuple[int, int]]] = {}
    files: list[int] = []
    for pos, sid in enumerate(ids):
        frame = parse_frame_id(sid)
        if frame is None:
            files.append(pos)
        else:
            videos.setdefault(frame[0], []).append((frame[1], pos))

    def one(pos: int) -> bytes | BadSampleError:
        try:
            same = _small_jpeg_as_is(root / ids[pos], size)
            if same is not None:
                return same
            return encode_jpeg(_fit(load_image(root / ids[pos], draft_size=size), size), quality)
        except BadSampleError as exc:
            return exc

    if len(files) > 256:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for pos, img in zip(files, pool.map(one, files, chunksize=64)):
                out[pos] = img
    else:
        for pos in files:
            out[pos] = one(pos)
    for video, frames in videos.items():
        try:
            reader = _VideoFrames(root / video)
        except BadSampleError as exc:
            for _, pos in frames:
                out[pos] = exc
            continue
        try:
            for n, pos in sorted(frames):
                try:
                    out[pos] = encode_jpeg(_fit(reader.frame(n, size), size), quality)
                except BadSampleError as exc:
                    out[pos] = exc
        finally:
            reader.close()
    return out  # type: ignore[return-value]


def thumbnails(
    root: Path | None,
    ids: Sequence[str],
    keys: Sequence[str],
    size: int,
    store: ThumbnailStore,
    quality: int = 80,
    on_progress: Callable[[int], None] | None = None,
) -> list[bytes | None]:
    """JPEG bytes of each sample's thumbnail (None where it cannot be made), from the
    store where present. ``keys`` identify content (a content hash, or file size and
    time), so a changed file gets a new thumbnail."""
    if len(ids) != len(keys):
        raise InputError(f"thumbnails got {len(ids)} ids but {len(keys)} keys.")
    full = [f"{size}:{sid}:{key}" for sid, key in zip(ids, keys)]
    out: list[bytes | None] = [store.get(k) for k in full]
    todo = [i for i, b in enumerate(out) if b is None]
    if on_progress:
        on_progress(len(ids) - len(todo))
    if not todo or root is None:
        return out
    step = 2048
    for s in range(0, len(todo), step):
        chunk = todo[s : s + step]
        for i, data in zip(chunk, _make_jpegs(root, [ids[i] for i in chunk], size, quality)):
            if isinstance(data, BadSampleError):
                log.debug("no thumbnail for %s: %s", ids[i], data)
                continue
            store.put(full[i], data)
            out[i] = data
        if on_progress:
            on_progress(len(chunk))
    return out
