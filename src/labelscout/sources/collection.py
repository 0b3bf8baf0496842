"""A collection to embed: the image files and video files under a root."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .images import IMAGE_EXTENSIONS
from .scan import RUN_MARKER, ScanResult, scan_folder
from .video import VIDEO_EXTENSIONS

__all__ = ["Collection", "collect", "SOURCE_KINDS"]

#: kind -> extensions recognised when scanning a folder
SOURCE_KINDS: dict[str, frozenset[str]] = {"image": IMAGE_EXTENSIONS, "video": VIDEO_EXTENSIONS}


@dataclass
class Collection:
    root: Path
    images: list[str]
    videos: list[str] = field(default_factory=list)
    scan: ScanResult | None = None

    def summary(self) -> dict:
        s = {"images": len(self.images), "videos": len(self.videos)}
        if self.scan is not None:
            s["ignored_files_by_extension"] = dict(sorted(self.scan.ignored_extensions.items()))
            s["ignored_examples"] = self.scan.ignored_examples
            s["skipped_run_folders"] = self.scan.skipped_dirs
            s.update(self.scan.policies())
        return s


def collect(path: str | Path) -> Collection:
    """Scan ``path`` (a folder, recursively, or a single file) for samples.

    Raises :class:`InputError` when nothing usable is found, naming what was there instead.
    """
    scan = scan_folder(path, SOURCE_KINDS)
    col = Collection(root=scan.root, images=scan.files.get("image", []), videos=scan.files.get("video", []), scan=scan)
    if not col.images and not col.videos:
        raise InputError(f"No images or videos found in {path} ({_what_was_there(scan)}).", hint=_empty_hint(scan))
    return col


def _what_was_there(scan: ScanResult) -> str:
    """What the folder held instead of samples, for the "nothing found" message."""
    parts = []
    if "." in scan.skipped_dirs:
        parts.append(f"the folder itself is marked as a labelscout run folder ({RUN_MARKER})")
    elif scan.skipped_dirs:
        parts.append(f"{len(scan.skipped_dirs)} labelscout run folder(s) skipped: {', '.join(scan.skipped_dirs[:3])}")
    if scan.skipped:
        parts.append(f"{len(scan.skipped)} file(s) that are not regular files, e.g. {scan.skipped[0]['id']!r}")
    hidden = sum(scan.hidden.values())
    if hidden:
        parts.append(f"{hidden} hidden file(s)/folder(s) left out, e.g. {scan.hidden_examples[0]!r}")
    other = ", ".join(f"{n} {ext}" for ext, n in scan.ignored_extensions.most_common(5))
    if other:
        parts.append(f"found only: {other}")
    return "; ".join(parts) if parts else "the folder is empty"


def _empty_hint(scan: ScanResult) -> str:
    if "." in scan.skipped_dirs:
        return (f"If this folder holds your data, delete the {RUN_MARKER} file in it (an earlier run wrote it there) "
                "and give --out a folder outside the data.")
    exts = sorted(set().union(*SOURCE_KINDS.values()))
    return f"Supported extensions: {' '.join(exts)}."
