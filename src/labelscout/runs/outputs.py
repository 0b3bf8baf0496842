"""Writing a selection into a run folder: selection.txt / .csv and the selected files."""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from ..errors import ConfigError
from ..results import Selection
from ..sources.scan import RUN_MARKER
from .atomic import atomic_path, atomic_write_text

__all__ = ["prepare_run_folder", "write_selection", "place_selected_files"]

log = logging.getLogger(__name__)


def prepare_run_folder(out: str | Path) -> Path:
    """Create ``out`` and mark it as a run folder (scans of a parent folder skip it)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    marker = out / RUN_MARKER
    if not marker.exists():
        marker.write_text("This folder holds a labelscout run; scans skip it.\n")
    return out


def write_selection(out: Path, selection: Selection) -> None:
    atomic_write_text(out / "selection.txt", selection.to_txt())
    atomic_write_text(out / "selection.csv", selection.to_csv())


def place_selected_files(out: Path, root: Path, ids: list[str], mode: str) -> int:
    """Copy (``mode="copy"``) or symlink (``"link"``) selected files into ``out/selected``,
    keeping relative paths. Existing complete copies are kept (a rerun does not redo them).
    Input files are only read. Returns the number of files placed now."""
    if mode not in ("copy", "link"):
        raise ConfigError(f"The 'place' parameter must be one of {{'copy', 'link'}}. Got {mode!r} instead.")
    dest_root = out / "selected"
    placed = 0
    for sid in ids:
        if "#" in sid:  # video frames are written by the video source, not copied
            continue
        src = (root / sid).resolve()
        dst = dest_root / sid
        if mode == "copy":
            if dst.is_file() and not dst.is_symlink() and dst.stat().st_size == src.stat().st_size:
                continue
            with atomic_path(dst) as tmp:
                shutil.copy2(src, tmp)
        else:
            if dst.is_symlink() and os.readlink(dst) == str(src):
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists() or dst.is_symlink():
                dst.unlink()
            os.symlink(src, dst)
        placed += 1
    return placed
