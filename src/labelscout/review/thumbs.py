"""Thumbnails for the review grid, made when first asked for and kept in
``RUN/review_cache/thumbs.sqlite``.

Made lazily, one request per visible tile, because a review of 50,000 images opens on one
class and most images are never scrolled to. The key holds the file's size and
modification time, so a changed file gets a new thumbnail; SQLite makes concurrent
requests (and two servers on one run folder) safe without a lock file of our own.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ..errors import BadSampleError
from ..report.thumbs import parse_frame_id, thumbnail_jpeg

__all__ = ["ThumbnailCache", "THUMB_SIZE"]

THUMB_SIZE = 128


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
