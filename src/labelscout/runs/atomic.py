"""Atomic file output: write to a temporary sibling, fsync, then rename over the target.

A crash (or kill -9) at any moment leaves either the previous complete file or the new
complete file, never a half-written one that looks complete.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_bytes", "atomic_write_json", "atomic_save_npy"]


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it replaces ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the usual permissions
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(target: str | Path, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | Path, text: str, errors: str = "strict") -> Path:
    """Write ``text`` as UTF-8. ``errors="strict"`` (the default) refuses a lone surrogate
    (a file-name byte that is not UTF-8): files that hold ids must escape them first
    (:mod:`labelscout.runs.ids`); a document for people may pass "backslashreplace"."""
    return atomic_write_bytes(target, text.encode("utf-8", errors=errors))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def atomic_write_json(target: str | Path, data: Any) -> Path:
    return atomic_write_text(target, json.dumps(data, indent=2, default=_json_default, allow_nan=False) + "\n")


def atomic_save_npy(target: str | Path, array: np.ndarray) -> Path:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
    return Path(target)
