"""Thumbnails for the review grid, made when first asked for and kept in
``RUN/review_cache/thumbs.sqlite``.

Made lazily, when a tile is first drawn, because a review of 50,000 images opens on one
class and most images are never scrolled to. The key holds the file's size and
modification time, so a changed file gets a new thumbnail; SQLite makes concurrent
requests (and two servers on one run folder) safe without a lock file of our own.

The grid asks for them as sprite sheets (:func:`sprite_sheet`: one JPEG per block of 32
tiles), since a browser pays for every image it loads (a blob or a request, a fetch
through its loader, a decode) far more than for the pixels: with one image per tile, a
fast scroll of CIFAR-10 spent its long frames there.
"""
from __future__ import annotations

import io
import sqlite3
import threading
from pathlib import Path
from typing import Sequence

from PIL import Image

from ..errors import BadSampleError
from ..report.thumbs import parse_frame_id, thumbnail_jpeg

__all__ = ["ThumbnailCache", "THUMB_SIZE", "sprite_sheet", "SPRITE_BACKGROUND"]

THUMB_SIZE = 128
SPRITE_BACKGROUND = (229, 231, 235)  # the grid's placeholder grey (#e5e7eb): the padding of a slot
_GUTTER = 2


class ThumbnailCache:
    def __init__(self, folder: str | Path, root: str | Path, size: int = THUMB_SIZE):
        self.path = Path(folder) / "thumbs.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(root)
        self.size = size
        self._local = threading.local()
        with self._con() as con:
            con.execute("CREATE TABLE IF NOT EXISTS thumbs (key TEXT PRIMARY KEY, data BLOB NOT NULL)")

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")  # a lost thumbnail is only made again
            self._local.con = con
        return con

    def _key(self, sample_id: str) -> str:
        frame = parse_frame_id(sample_id)
        st = (self.root / (frame[0] if frame else sample_id)).stat()
        return f"{self.size}:{sample_id}:{st.st_size}:{st.st_mtime_ns}"

    def get(self, sample_id: str) -> bytes:
        """JPEG bytes of the sample's thumbnail. Raises :class:`BadSampleError` when the
        file is missing or unreadable."""
        try:
            key = self._key(sample_id)
        except OSError as exc:
            raise BadSampleError(f"{sample_id}: {exc.strerror or exc}", reason="missing") from exc
        con = self._con()
        row = con.execute("SELECT data FROM thumbs WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return bytes(row[0])
        data = thumbnail_jpeg(self.root, sample_id, self.size)
        with con:
            con.execute("INSERT OR REPLACE INTO thumbs VALUES (?, ?)", (key, data))
        return data


def sprite_sheet(parts: Sequence[bytes | None], quality: int = 90) -> tuple[bytes, int, list[int]]:
    """One JPEG holding the thumbnails ``parts`` side by side, for the grid to show as
    background slices of one image instead of one image per tile.

    Returns ``(jpeg, slot, sides)``: slot ``k`` is the square ``[k * slot, (k + 1) * slot)``
    x ``[0, slot)``, the thumbnail centred in it on the placeholder grey; ``sides[k]`` is the
    longer side of that thumbnail in pixels (-1: none, the slot is left grey), so the page
    can scale each slice to fill its tile as an ``<img>`` with ``object-fit: contain`` would.
    The slot is the largest thumbnail's longer side plus a grey gutter of ``_GUTTER`` px on
    each side (so a browser's filtering at a slice's edge never reaches the next picture),
    rounded up to JPEG's 8 px blocks (so no block straddles two pictures): 40 px for CIFAR's
    32 px images, a small sheet for small pictures. Re-encoded at ``quality`` 90 with
    full-resolution colour (4:4:4).
    """
    pics: list[Image.Image | None] = []
    for data in parts:
        if data is None:
            pics.append(None)
            continue
        try:
            im = Image.open(io.BytesIO(data))
            im.load()
            pics.append(im.convert("RGB") if im.mode != "RGB" else im)
        except (OSError, ValueError):  # a cached thumbnail that does not decode: shown as missing
            pics.append(None)
    sides = [max(im.size) if im is not None else -1 for im in pics]
    slot = -(-(max(sides, default=1) + 2 * _GUTTER) // 8) * 8
    sheet = Image.new("RGB", (slot * max(1, len(pics)), slot), SPRITE_BACKGROUND)
    for k, im in enumerate(pics):
        if im is not None:
            w, h = im.size
            sheet.paste(im, (k * slot + (slot - w) // 2, (slot - h) // 2))
    buf = io.BytesIO()
    sheet.save(buf, "JPEG", quality=quality, subsampling=0)
    return buf.getvalue(), slot, sides
