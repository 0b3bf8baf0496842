"""The probe's images: a class-folder split decoded once into one uint8 array.

The probe trains dozens of times on subsets of the same pool, so every image is decoded
once (PIL, in threads) into an (N, H, W, 3) uint8 array with integer labels from the
class folders, and the array is cached on disk keyed by the files' names, sizes and
modification times. On the training device it then lives as one uint8 tensor; only the
sampled batch is ever converted to float.
"""
from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .._progress import progress_bar
from ..errors import InputError
from ..runs.atomic import atomic_path
from ..sources.collection import collect
from ..sources.images import load_image
from ..sources.labels import labels_from_folders

__all__ = ["LabeledImages", "load_split", "load_cifar_like"]

log = logging.getLogger(__name__)


@dataclass
class LabeledImages:
    """Decoded images of one split with their class labels.

    images : ndarray of shape (n_samples, H, W, 3), uint8.
    labels : ndarray of shape (n_samples,), int64 indices into ``classes``.
    ids : sample ids relative to the split folder (``cat/0001.jpg``), row order.
    classes : sorted class names.
    """

    images: np.ndarray
    labels: np.ndarray
    ids: list[str]
    classes: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, rows: np.ndarray) -> "LabeledImages":
        rows = np.asarray(rows, dtype=np.int64)
        return LabeledImages(self.images[rows] if len(self.images) else self.images, self.labels[rows], [self.ids[i] for i in rows], list(self.classes))

    def rows_of(self, ids: Sequence[str]) -> np.ndarray:
        """Row index of every id (raises :class:`InputError` naming ids that are absent)."""
        pos = {sid: i for i, sid in enumerate(self.ids)}
        missing = [s for s in ids if s not in pos]
        if missing:
            raise InputError(f"{len(missing)} id(s) are not in the image split, e.g. {missing[:3]}.",
                             hint="Embeddings and probe data must come from the same folder (ids relative to it).")
        return np.fromiter((pos[s] for s in ids), dtype=np.int64, count=len(ids))


def _listing_key(root: Path, ids: list[str], size: int) -> str:
    h = hashlib.sha256()
    h.update(f"{root.resolve()}|{size}|".encode())
    for sid in ids:
        st = (root / sid).stat()
        h.update(f"{sid}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def _decode(path: Path, size: int) -> np.ndarray:
    img = load_image(path)
    if img.size != (size, size):
        from PIL import Image

        img = img.resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def load_split(root: str | Path, *, size: int = 32, cache_dir: str | Path | None = None,
               classes: Sequence[str] | None = None, progress: bool | None = None, decode: bool = True) -> LabeledImages:
    """Decode every image under ``root`` (class folders) to (N, size, size, 3) uint8.

    ``decode=False`` lists the ids and labels only (``images`` is then an empty
    (0, size, size, 3) array): probes on a frozen embedding never look at pixels.

    ``classes`` fixes the label order (the test split must use the training split's);
    by default the sorted folder names. With ``cache_dir``, the decoded array is stored
    there and reused while the files are unchanged. Unreadable files stop the run with
    their reason: a benchmark must not silently train on a different set.
    """
    root = Path(root)
    col = collect(root)
    ids = col.images
    folders = labels_from_folders(ids)
    if folders is None:
        raise InputError(f"{root} must hold one folder per class (at least two) with the images inside.",
                         hint="Point --data at a folder with train/<class>/*.jpg and test/<class>/*.jpg.")
    names = sorted(set(folders)) if classes is None else list(classes)
    index = {c: i for i, c in enumerate(names)}
    unknown = sorted(set(folders) - set(index))
    if unknown:
        raise InputError(f"{root} has class folders {unknown} that the training split does not have.")
    labels = np.array([index[c] for c in folders], dtype=np.int64)
    if not decode:
        return LabeledImages(np.empty((0, size, size, 3), np.uint8), labels, ids, names)

    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / "bench-images" / f"{_listing_key(root, ids, size)}.npy"
        if cache_file.is_file():
            try:
                images = np.load(cache_file, allow_pickle=False)
                if images.shape == (len(ids), size, size, 3):
                    return LabeledImages(images, labels, ids, names)
            except (OSError, ValueError) as exc:  # a damaged cache file is only re-decoded
                log.warning("ignoring unreadable image cache %s: %s", cache_file, exc)

    images = np.empty((len(ids), size, size, 3), dtype=np.uint8)
    with progress_bar(f"decoding {root.name}", len(ids), progress, unit="images") as bar:
        with ThreadPoolExecutor(max_workers=4) as pool:
            # PIL releases the GIL while decoding, so threads overlap file reads and decoding
            for i, arr in enumerate(pool.map(lambda s: _decode(root / s, size), ids)):
                images[i] = arr
                bar.advance()
    if cache_file is not None:
        with atomic_path(cache_file) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, images, allow_pickle=False)
        (cache_file.with_suffix(".json")).write_text(json.dumps({"root": str(root.resolve()), "n": len(ids), "size": size}))
    return LabeledImages(images, labels, ids, names)


def load_cifar_like(root: str | Path, *, train: str = "train", test: str = "test", size: int = 32,
                    cache_dir: str | Path | None = None, progress: bool | None = None,
                    decode: bool = True) -> tuple[LabeledImages, LabeledImages]:
    """The training pool and the fixed test set from ``root/train`` and ``root/test``."""
    root = Path(root)
    for split in (train, test):
        if not (root / split).is_dir():
            raise InputError(f"{root / split} does not exist.",
                             hint=f"--data must be a folder with {train}/<class>/ and {test}/<class>/ image folders.")
    pool = load_split(root / train, size=size, cache_dir=cache_dir, progress=progress, decode=decode)
    test_set = load_split(root / test, size=size, cache_dir=cache_dir, classes=pool.classes, progress=progress, decode=decode)
    return pool, test_set
