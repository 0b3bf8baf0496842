"""Writing a selection into a run folder: selection.txt / .csv and the selected files."""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError
from ..results import Issues, Selection
from ..sources.scan import RUN_MARKER
from .atomic import atomic_path, atomic_write_text

__all__ = ["check_run_folder", "prepare_run_folder", "write_selection", "write_issues", "place_selected_files",
           "ISSUES_FILE"]

ISSUES_FILE = "issues.csv"

log = logging.getLogger(__name__)


def check_run_folder(out: str | Path, inputs: Iterable[str | Path | None] = ()) -> Path:
    """Refuse an ``out`` that names a file, or that lies inside (or is) an input folder.

    A run folder inside the input tree would put run.json, embeddings and copied files into
    the user's data, where the next scan would meet them. Paths are compared after
    resolving symlinks, so a link to the data folder is caught too. Creates nothing.
    """
    out = Path(out)
    if os.path.lexists(out) and not out.is_dir():
        raise ConfigError(f"--out {out} is an existing file, not a folder.",
                          hint="Give --out a new or existing folder for the run (selection.txt, run.json, ...).")
    parent = next((p for p in out.absolute().parents if os.path.lexists(p)), None)
    if parent is not None and not parent.is_dir():
        raise ConfigError(f"--out {out} cannot be created: {parent} is a file, not a folder.",
                          hint="Give --out a path whose parent folders are folders.")
    real_out = out.resolve()
    for src in inputs:
        if src is None or not Path(src).is_dir():
            continue  # a single input file may sit next to its run folder
        real_src = Path(src).resolve()
        if real_out == real_src or real_src in real_out.parents:
            where = "is the input folder" if real_out == real_src else f"lies inside the input folder {src}"
            raise ConfigError(f"--out {out} {where}; labelscout never writes into its input.",
                              hint=f"Give --out a folder outside {src}, e.g. --out {real_src.parent / (real_src.name + '-run')}.")
    return out


def prepare_run_folder(out: str | Path, inputs: Iterable[str | Path | None] = ()) -> Path:
    """Check ``out`` (:func:`check_run_folder`), create it and mark it as a run folder
    (scans of a parent folder skip it)."""
    out = check_run_folder(out, inputs)
    out.mkdir(parents=True, exist_ok=True)
    marker = out / RUN_MARKER
    if not marker.exists():
        marker.write_text("This folder holds a labelscout run; scans skip it.\n")
    return out


def write_issues(out: Path, issues: Issues) -> Issues:
    """Write ``out/issues.csv`` so that runs in one folder compose: rows of the issue types
    ``issues`` holds replace those already there; other types (e.g. outliers from an
    ``inspect`` beside a ``select --dedupe``) are kept. Returns the table written."""
    path = out / ISSUES_FILE
    kept = Issues()
    if path.is_file():
        try:
            old = Issues.from_csv(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError) as exc:  # unreadable: replaced whole, and said so
            log.warning("%s could not be read (%s); it is replaced.", path, exc)
        else:
            mine = set(issues.issue)
            kept = old[[i for i, t in enumerate(old.issue) if t not in mine]]
    table = Issues.concat([kept, issues])
    table.failures = list(issues.failures)
    atomic_write_text(path, table.to_csv())
    return table


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
