"""Fitted spaces cached in the run folder: ``OUT/space/<key>.npy`` plus ``<key>.json``.

The sidecar holds the space's parameters and the fingerprint of the embeddings it was
fitted on; an entry is reused only when both match (and the array has the pool's rows), so
a rerun of ``select`` with the same embeddings and space skips a UMAP fit of minutes,
and a changed pool or parameter never reuses stale vectors. The array is written before
its sidecar (both atomically), so a sidecar always has its complete array.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..runs.atomic import atomic_save_npy, atomic_write_json
from .transform import Space, fit_space

__all__ = ["space_in_run", "vectors_fingerprint", "SPACE_DIR", "SPACE_FORMAT"]

log = logging.getLogger(__name__)

SPACE_DIR = "space"
SPACE_FORMAT = "labelscout-space/1"


def vectors_fingerprint(vectors: np.ndarray, ids: list[str] | None = None) -> str:
    """A content hash of the vectors (and ids): identifies the embeddings a space was fitted on."""
    h = hashlib.sha256()
    X = np.ascontiguousarray(vectors)
    h.update(f"{X.shape}{X.dtype}".encode())
    # hash in slabs so a memory-mapped pool is not copied whole
    step = max(1, (64 << 20) // max(1, X.strides[0]))
    for s in range(0, X.shape[0], step):
        h.update(np.ascontiguousarray(X[s:s + step]).tobytes())
    if ids is not None:
        h.update("\n".join(ids).encode())
    return h.hexdigest()


def space_in_run(out: Path | None, vectors: np.ndarray, space: Space, fingerprint: str) -> tuple[np.ndarray, dict[str, Any]]:
    """``vectors`` in ``space``, from ``out/space/`` when fitted before on the same
    embeddings (``fingerprint``), else fitted now (and saved when ``out`` is given).
    Returns the (n_samples, dim) float32 vectors and what run.json records."""
    key = space.key(fingerprint)
    if out is not None:
        arr_path, side_path = Path(out) / SPACE_DIR / f"{key}.npy", Path(out) / SPACE_DIR / f"{key}.json"
        hit = _load(arr_path, side_path, space, fingerprint, vectors.shape[0])
        if hit is not None:
            Z, info = hit
            return Z, {**info, "cached": True, "seconds": 0.0}
    t0 = time.perf_counter()
    result = fit_space(vectors, space)
    seconds = time.perf_counter() - t0
    info = {**result.info, "file": f"{SPACE_DIR}/{key}.npy" if out is not None else None, "fingerprint": fingerprint}
    if out is not None:
        atomic_save_npy(arr_path, result.vectors)
        atomic_write_json(side_path, {"format": SPACE_FORMAT, "params": space.params(), "fingerprint": fingerprint,
                                      "shape": list(result.vectors.shape), "info": info, "seconds": round(seconds, 4)})
    return result.vectors, {**info, "cached": False, "seconds": round(seconds, 4)}


def _load(arr_path: Path, side_path: Path, space: Space, fingerprint: str, n: int) -> tuple[np.ndarray, dict] | None:
    if not (arr_path.is_file() and side_path.is_file()):
        return None
    try:
        side = json.loads(side_path.read_text(encoding="utf-8"))
        if (side.get("format") != SPACE_FORMAT or side.get("fingerprint") != fingerprint
                or side.get("params") != json.loads(json.dumps(space.params()))):
            return None
        Z = np.load(arr_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        log.warning("ignoring the unreadable cached space %s (%s); fitting it again", arr_path, exc)
        return None
    if Z.ndim != 2 or Z.shape[0] != n or list(Z.shape) != side.get("shape") or Z.dtype != np.float32:
        return None
    log.info("space %s: reused %s", space.name, arr_path)
    return np.ascontiguousarray(Z), dict(side.get("info") or {})
