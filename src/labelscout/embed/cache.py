"""Content-addressed embedding cache: a re-run embeds only what is new.

One folder per model fingerprint under the cache root. Vectors are appended as small
shard files written atomically after each finished batch, so a run killed at any moment
(kill -9 included) keeps every finished batch and the next run resumes from there.
Shards are merged when they pile up. Keys are content hashes of samples (a file's bytes,
or a video file's hash plus the frame and decode settings), never paths.

Whole groups (all frames of one video at given decode settings) are stored as one entry,
so a fully embedded video is skipped without decoding it again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..runs.atomic import atomic_path, atomic_write_json
from ..sources.scan import open_regular

__all__ = ["EmbeddingCache", "default_cache_root", "hash_file", "hash_files"]

log = logging.getLogger(__name__)

_MERGE_AT = 64  # merge shards once this many exist


def default_cache_root() -> Path:
    env = os.environ.get("LABELSCOUT_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "labelscout"


def hash_file(path: str | Path) -> str:
    """BLAKE2b-128 of the file's bytes (hex)."""
    h = hashlib.blake2b(digest_size=16)
    with open_regular(path) as fh:  # never blocks on a FIFO that replaced the file
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hash_files(paths: Sequence[Path], workers: int = 8) -> list[str | BaseException]:
    """Hash many files in threads (hashlib releases the GIL); errors are returned, not raised."""

    def one(p: Path) -> str | BaseException:
        try:
            return hash_file(p)
        except OSError as exc:
            return exc

    if len(paths) < 64:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, paths, chunksize=64))


class EmbeddingCache:
    """Cache of vectors for one model fingerprint. ``root=None`` disables caching."""

    def __init__(self, root: str | Path | None, fingerprint_key: str, fingerprint: dict[str, Any] | None = None):
        self.enabled = root is not None
        self.dir = Path(root) / "embeddings" / fingerprint_key if root is not None else None
        self._index: dict[str, np.ndarray] | None = None
        self._dim: int | None = None
        if self.enabled:
            self.dir.mkdir(parents=True, exist_ok=True)
            meta = self.dir / "fingerprint.json"
            if fingerprint is not None and not meta.exists():
                atomic_write_json(meta, fingerprint)

    # -- per-sample vectors -------------------------------------------------------------
    def _shards(self) -> list[Path]:
        return sorted(self.dir.glob("shard-*.npz")) if self.enabled else []

    def _load(self) -> dict[str, np.ndarray]:
        if self._index is not None:
            return self._index
        index: dict[str, np.ndarray] = {}
        for shard in self._shards():
            try:
                with np.load(shard, allow_pickle=False) as z:
                    keys, vecs = z["keys"], z["vectors"]
            except FileNotFoundError:  # merged away by a concurrent run
                continue
            except Exception as exc:  # a damaged shard costs only its own vectors
                log.warning("ignoring unreadable cache shard %s: %s", shard, exc)
                continue
            for k, v in zip(keys.tolist(), vecs):
                index[k] = v
        self._index = index
        return index

    def __len__(self) -> int:
        return len(self._load())

    def lookup(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys``."""
        index = self._load()
        return {k: index[k] for k in keys if k in index}

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors for ``keys`` in one new shard (atomic)."""
        if not self.enabled or len(keys) == 0:
            return
        vectors = np.asarray(vectors)
        name = f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.npz"
        with atomic_path(self.dir / name) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, keys=np.asarray(list(keys)), vectors=vectors)
        if self._index is not None:
            for k, v in zip(keys, vectors):
                self._index[k] = v

    def compact(self) -> None:
        """Merge shards into one when many exist (keeps loading fast)."""
        shards = self._shards()
        if len(shards) < _MERGE_AT:
            return
        index = self._load()
        keys = list(index)
        vectors = np.stack([index[k] for k in keys]) if keys else np.empty((0, 0), np.float32)
        name = f"shard-{time.time_ns():020d}-merged.npz"
        with atomic_path(self.dir / name) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, keys=np.asarray(keys), vectors=vectors)
        for s in shards:
            try:
                s.unlink()
            except FileNotFoundError:
                pass

    # -- groups (e.g. all frames of one video) -----------------------------------------
    def _group_paths(self, key: str) -> tuple[Path, Path]:
        return self.dir / f"group-{key}.npy", self.dir / f"group-{key}.json"

    def get_group(self, key: str) -> tuple[np.ndarray, dict[str, Any]] | None:
        if not self.enabled:
            return None
        arr, meta = self._group_paths(key)
        if not (arr.is_file() and meta.is_file()):
            return None
        try:
            return np.load(arr, allow_pickle=False), json.loads(meta.read_text())
        except Exception as exc:
            log.warning("ignoring unreadable cached group %s: %s", key, exc)
            return None

    def put_group(self, key: str, vectors: np.ndarray, meta: dict[str, Any]) -> None:
        if not self.enabled:
            return
        arr, meta_path = self._group_paths(key)
        with atomic_path(arr) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, np.asarray(vectors), allow_pickle=False)
        atomic_write_json(meta_path, meta)  # written last: its presence marks the group complete
