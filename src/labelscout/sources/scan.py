"""Finding the samples of a collection: a recursive, deterministic walk of a folder.

Sample ids are POSIX paths relative to the dataset root (``train/cat/0001.jpg``), stable
across runs and machines. A file name that is not valid UTF-8 keeps its bytes as the
surrogates Python uses for them (PEP 383); :mod:`labelscout.runs.ids` writes such ids
escaped.

What the walk takes and what it leaves, always recorded (:meth:`ScanResult.policies`,
run.json ``collection``, the summary line):

* **hidden files and folders** (names starting with '.') are left out, counted and named:
  they are tool metadata (``.git``, ``.DS_Store``, ``._x.jpg`` AppleDouble files,
  ``.thumbnails``) far more often than samples;
* **symlinked folders are followed**, like symlinked files (datasets are often assembled
  from links); a link to a folder already scanned (a loop, or the same folder reached
  twice) is not followed again and is named, so no file gets two ids;
* **files that are not regular files** (FIFOs, sockets, devices, broken links) are skipped
  with a reason *before anything opens them*: opening a FIFO blocks until a writer
  appears, reading a device never ends;
* folders that hold a labelscout run (marked by :data:`RUN_MARKER`) are skipped, so an
  old run folder inside the data never feeds its copied selection back.
"""
from __future__ import annotations

import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

__all__ = ["RUN_MARKER", "ScanResult", "scan_folder", "require_input_file", "not_regular_reason", "open_regular", "SCAN_POLICIES"]

RUN_MARKER = ".labelscout-run"

#: what the walk does with each kind of odd entry (recorded in run.json)
SCAN_POLICIES = {
    "hidden": "left out (names starting with '.')",
    "symlinked_folders": "followed, except links to a folder already scanned (loops)",
    "not_regular_files": "skipped before opening (FIFOs, sockets, devices, broken links)",
    "run_folders": f"skipped (folders holding {RUN_MARKER})",
}

_EXAMPLES = 20  # names kept per list in run.json


def not_regular_reason(path: Path) -> tuple[str, str] | None:
    """``(reason, detail)`` when ``path`` is not a regular file one can read to its end, else None.

    Follows symlinks (a link to a regular file is a regular file). Never opens the file.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return "broken_link", f"the symlink points to {os.readlink(path)!r}, which does not exist"
        return "unreadable", "the file disappeared while the folder was scanned"
    except OSError as exc:
        return "unreadable", f"{type(exc).__name__}: {exc}"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    what = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else "a character device" if stat.S_ISCHR(mode) else
            "a block device" if stat.S_ISBLK(mode) else "not a regular file")
    return "not_a_regular_file", f"it is {what}; only regular files are read"


def open_regular(path: str | Path):
    """Open ``path`` for binary reading only if it is a regular file, without ever blocking.

    ``O_NONBLOCK`` makes opening a FIFO return at once (a plain ``open`` waits for a writer
    forever); the descriptor is then checked with ``fstat``, so a file swapped for a FIFO or
    a device after the scan is refused rather than read without end. Raises ``OSError``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(f"{path} is not a regular file (mode {stat.filemode(mode)}); only regular files are read")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def require_input_file(path: str | Path, what: str, hint: str | None = None) -> Path:
    """``path`` as a regular file one can read, or an :class:`InputError` that says what it is instead.

    ``what`` names the input in the message ("--exclude file", "ids file").
    """
    path = Path(path)
    if not os.path.lexists(path):
        raise InputError(f"The {what} {path} does not exist.", hint=hint or "Check the path.")
    problem = not_regular_reason(path)
    if problem is not None:
        reason, detail = problem
        if os.path.isdir(path):
            raise InputError(f"The {what} {path} is a folder, not a file.", hint=hint or "Name a file inside it.")
        raise InputError(f"The {what} {path} cannot be read: {detail}.", hint=hint or "Give a regular file.")
    return path


@dataclass
class ScanResult:
    root: Path
    files: dict[str, list[str]]  # kind -> sorted relative ids
    ignored_extensions: Counter = field(default_factory=Counter)
    ignored_examples: list[str] = field(default_factory=list)
    skipped_dirs: list[str] = field(default_factory=list)  # run folders
    hidden: Counter = field(default_factory=Counter)  # "files" / "folders" -> count
    hidden_examples: list[str] = field(default_factory=list)
    symlinked_dirs: list[str] = field(default_factory=list)  # followed
    symlink_repeats: list[str] = field(default_factory=list)  # links to a folder already scanned: not followed
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"id", "reason", "detail"}: never opened

    def count(self) -> int:
        return sum(len(v) for v in self.files.values())

    def policies(self) -> dict:
        """What the walk left out or followed, with counts and examples (for run.json)."""
        return {
            "policy": dict(SCAN_POLICIES),
            "hidden_files": self.hidden.get("files", 0),
            "hidden_folders": self.hidden.get("folders", 0),
            "hidden_examples": self.hidden_examples,
            "symlinked_folders_followed": self.symlinked_dirs[:_EXAMPLES],
            "symlinked_folders_followed_count": len(self.symlinked_dirs),
            "symlinked_folders_not_followed": self.symlink_repeats[:_EXAMPLES],
            "not_regular_files": len(self.skipped),
        }


def _ext_kind(name: str, ext_to_kind: dict[str, str]) -> tuple[str, str | None]:
    ext = os.path.splitext(name)[1].lower()
    return ext, ext_to_kind.get(ext)


def scan_folder(root: str | Path, kinds: dict[str, frozenset[str]]) -> ScanResult:
    """Walk ``root`` recursively; sort files into ``kinds`` by lower-case extension.

    ``kinds`` maps a kind name (``"image"``, ``"video"``) to its extensions. See the module
    docs for hidden files, symlinks and non-regular files. Raises :class:`InputError` if
    ``root`` does not exist or is a file of another type.
    """
    root = Path(root)
    if not os.path.lexists(root):
        raise InputError(f"{root} does not exist.", hint="Check the path.")
    ext_to_kind = {ext: kind for kind, exts in kinds.items() for ext in exts}
    found: dict[str, list[str]] = {kind: [] for kind in kinds}
    result = ScanResult(root=root, files=found)
    if not root.is_dir():
        ext, kind = _ext_kind(root.name, ext_to_kind)
        if kind is None:
            raise InputError(
                f"{root} is not a supported file type ({ext or 'no extension'}).",
                hint=f"Supported: {', '.join(sorted(ext_to_kind))}.",
            )
        problem = not_regular_reason(root)
        if problem is not None:
            raise InputError(f"{root} cannot be read: {problem[1]}.", hint="Give a regular file or a folder.")
        result.root = root.parent
        found[kind].append(root.name)
        return result

    try:
        seen = {_dir_key(root)}
    except OSError as exc:
        raise InputError(f"{root} cannot be read ({exc}).", hint="Check the folder permissions.") from exc
    stack: list[tuple[Path, str]] = [(root, "")]  # (folder, its id prefix)
    # symlinked folders wait until every real folder is scanned, so the real one keeps its
    # ids when a link points back into the tree
    links: list[tuple[Path, str]] = []
    while stack or links:
        if not stack:
            link, rel = links.pop(0)
            try:
                key = _dir_key(link)
            except OSError as exc:
                result.skipped.append({"id": rel, "reason": "unreadable", "detail": f"{type(exc).__name__}: {exc}"})
                continue
            if key in seen:
                result.symlink_repeats.append(f"{rel} -> {os.readlink(link)}")
                continue
            seen.add(key)
            result.symlinked_dirs.append(rel)
            stack.append((link, rel + "/"))
            continue
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            result.skipped.append({"id": prefix.rstrip("/") or ".", "reason": "unreadable",
                                   "detail": f"the folder cannot be listed ({type(exc).__name__}: {exc})"})
            continue
        if any(e.name == RUN_MARKER for e in entries):
            result.skipped_dirs.append(prefix.rstrip("/") or ".")
            continue
        subdirs: list[tuple[Path, str]] = []
        for e in entries:
            rel = prefix + e.name
            try:
                is_dir = e.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if e.name.startswith("."):
                result.hidden["folders" if is_dir else "files"] += 1
                if len(result.hidden_examples) < _EXAMPLES:
                    result.hidden_examples.append(rel + ("/" if is_dir else ""))
                continue
            if is_dir:
                if e.is_symlink():
                    links.append((Path(e.path), rel))
                    continue
                try:
                    key = _dir_key(Path(e.path))
                except OSError as exc:
                    result.skipped.append({"id": rel, "reason": "unreadable", "detail": f"{type(exc).__name__}: {exc}"})
                    continue
                if key in seen:  # a bind mount reached twice
                    continue
                seen.add(key)
                subdirs.append((Path(e.path), rel + "/"))
                continue
            ext, kind = _ext_kind(e.name, ext_to_kind)
            if kind is None:
                result.ignored_extensions[ext or "(none)"] += 1
                if len(result.ignored_examples) < _EXAMPLES:
                    result.ignored_examples.append(rel)
                continue
            problem = not_regular_reason(Path(e.path))
            if problem is not None:
                result.skipped.append({"id": rel, "reason": problem[0], "detail": problem[1]})
                continue
            found[kind].append(rel)
        stack.extend(reversed(subdirs))
    for kind in found:
        found[kind].sort()
    result.skipped.sort(key=lambda s: s["id"])
    return result


def _dir_key(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino
