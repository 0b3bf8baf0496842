"""Finding the samples of a collection: a recursive, deterministic walk of a folder.

Sample ids are POSIX paths relative to the dataset root (``train/cat/0001.jpg``), stable
across runs and machines. Folders that hold a labelscout run (marked by
:data:`RUN_MARKER`) are skipped, so writing ``--out`` inside the data folder never feeds a
run's copied selection back into the next run.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

__all__ = ["RUN_MARKER", "ScanResult", "scan_folder"]

RUN_MARKER = ".labelscout-run"


@dataclass
class ScanResult:
    root: Path
    files: dict[str, list[str]]  # kind -> sorted relative ids
    ignored_extensions: Counter = field(default_factory=Counter)
    ignored_examples: list[str] = field(default_factory=list)
    skipped_dirs: list[str] = field(default_factory=list)

    def count(self) -> int:
        return sum(len(v) for v in self.files.values())


def scan_folder(root: str | Path, kinds: dict[str, frozenset[str]]) -> ScanResult:
    """Walk ``root`` recursively; sort files into ``kinds`` by lower-case extension.

    ``kinds`` maps a kind name (``"image"``, ``"video"``) to its extensions. Hidden files
    and folders (starting with '.') are ignored. Raises :class:`InputError` if ``root``
    does not exist.
    """
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root} does not exist.", hint="Check the path.")
    ext_to_kind = {ext: kind for kind, exts in kinds.items() for ext in exts}
    found: dict[str, list[str]] = {kind: [] for kind in kinds}
    result = ScanResult(root=root, files=found)
    if root.is_file():
        kind = ext_to_kind.get(root.suffix.lower())
        if kind is None:
            raise InputError(
                f"{root} is not a supported file type ({root.suffix or 'no extension'}).",
                hint=f"Supported: {', '.join(sorted(ext_to_kind))}.",
            )
        result.root = root.parent
        found[kind].append(root.name)
        return result
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root)
        if RUN_MARKER in filenames:
            result.skipped_dirs.append(rel_dir.as_posix())
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            rel = (rel_dir / name).as_posix()
            ext = os.path.splitext(name)[1].lower()
            kind = ext_to_kind.get(ext)
            if kind is None:
                result.ignored_extensions[ext or "(none)"] += 1
                if len(result.ignored_examples) < 20:
                    result.ignored_examples.append(rel)
                continue
            found[kind].append(rel)
    for kind in found:
        found[kind].sort()
    return result
