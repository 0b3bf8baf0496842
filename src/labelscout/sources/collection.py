"""A collection to embed: the image files and video files under a root."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .images import IMAGE_EXTENSIONS
from .scan import ScanResult, scan_folder
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
        return s


def collect(path: str | Path) -> Collection:
    """Scan ``path`` (a folder, recursively, or a single file) for samples.

    Raises :class:`InputError` when nothing usable is found, naming what was there instead.
    """
    scan = scan_folder(path, SOURCE_KINDS)
    col = Collection(root=scan.root, images=scan.files.get("image", []), videos=scan.files.get("video", []), scan=scan)
    if not col.images and not col.videos:
        other = ", ".join(f"{n} {ext}" for ext, n in scan.ignored_extensions.most_common(5))
        exts = sorted(set().union(*SOURCE_KINDS.values()))
        raise InputError(
            f"No images{' or videos' if 'video' in SOURCE_KINDS else ''} found in {path}"
            + (f" (found only: {other})." if other else " (the folder is empty)."),
            hint=f"Supported extensions: {' '.join(exts)}.",
        )
    return col
