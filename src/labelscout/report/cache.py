"""``RUN_DIR/report_cache/``: the report's slow results, kept for the next build.

Each entry is stored with the key of what it was computed from (a hash of the vectors and
the parameters, or of the thumbnails' content keys), so a stale entry is recomputed, never
shown. Files are written atomically, the key file last, so a crash leaves either no entry
or a complete one. ``folder=None`` turns caching off.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..runs.atomic import atomic_save_npy, atomic_write_bytes, atomic_write_json
from .atlas import Atlas

__all__ = ["ReportCache", "digest"]

log = logging.getLogger(__name__)


def digest(*parts: Any) -> str:
    """A short hash of arrays, strings and numbers (arrays by their bytes)."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(f"{p.dtype}{p.shape}".encode())
            h.update(np.ascontiguousarray(p).tobytes())
        elif isinstance(p, (list, tuple)):
            for item in p:
                h.update(str(item).encode("utf-8", "surrogateescape"))  # ids may hold non-UTF-8 name bytes
                h.update(b"\0")
        else:
            h.update(str(p).encode("utf-8", "surrogateescape"))
        h.update(b"\1")
    return h.hexdigest()[:32]


class ReportCache:
    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder is not None else None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    def _meta(self, name: str, key: str) -> dict[str, Any] | None:
        if self.folder is None:
            return None
        path = self.folder / f"{name}.json"
        try:
            meta = json.loads(path.read_text()) if path.is_file() else None
        except (OSError, ValueError) as exc:
            log.info("report cache entry %s unreadable (%s); computing again", path, exc)
            return None
        return meta if meta and meta.get("key") == key else None

    # -- arrays (kNN graph, map) ------------------------------------------------------
    def load_arrays(self, name: str, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        meta = self._meta(name, key)
        if meta is None:
            return None
        try:
            arrays = {a: np.load(self.folder / f"{name}.{a}.npy") for a in meta["arrays"]}
        except (OSError, ValueError, KeyError) as exc:
            log.info("report cache entry %s incomplete (%s); computing again", name, exc)
            return None
        return arrays, meta.get("info", {})

    def save_arrays(self, name: str, key: str, arrays: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        if self.folder is None:
            return
        for a, arr in arrays.items():
            atomic_save_npy(self.folder / f"{name}.{a}.npy", arr)
        atomic_write_json(self.folder / f"{name}.json", {"key": key, "arrays": sorted(arrays), "info": info})

    # -- the thumbnail atlas --------------------------------------------------------------
    def load_atlas(self, key: str) -> Atlas | None:
        meta = self._meta("atlas", key)
        if meta is None:
            return None
        try:
            sheets = [(self.folder / f"atlas.{i}.jpg").read_bytes() for i in range(meta["sheets"])]
            present = np.load(self.folder / "atlas.present.npy")
            return Atlas(meta["tile"], meta["cols"], meta["per_sheet"], sheets, present)
        except (OSError, ValueError, KeyError) as exc:
            log.info("report cache atlas incomplete (%s); building it again", exc)
            return None

    def save_atlas(self, key: str, atlas: Atlas) -> None:
        if self.folder is None:
            return
        for i, sheet in enumerate(atlas.sheets):
            atomic_write_bytes(self.folder / f"atlas.{i}.jpg", sheet)
        atomic_save_npy(self.folder / "atlas.present.npy", atlas.present)
        atomic_write_json(self.folder / "atlas.json", {"key": key, "tile": atlas.tile, "cols": atlas.cols,
                                                       "per_sheet": atlas.per_sheet, "sheets": len(atlas.sheets)})
        for stale in self.folder.glob("atlas.*.jpg"):  # sheets of an earlier, larger pool
            if int(stale.name.split(".")[1]) >= len(atlas.sheets):
                stale.unlink()
