"""Training data for self-supervision: a folder of images decoded once into memory.

Small-image training is bound by the network, not by I/O, once decoding is out of the
loop: every image is decoded and resized to the training resolution exactly once (the
same resize + centre crop the embedder applies at inference), and kept as one uint8
tensor of shape (N, 3, S, S). CIFAR-10's 50,000 images at 32x32 take 150 MB.
Unreadable files are skipped and reported with their reason; labels are read from class
folders when the layout has them, and only ever used by the kNN monitor.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._progress import progress_bar
from ..embed.preprocess import Preprocess
from ..errors import BadSampleError, ConfigError, InputError
from ..sources.images import IMAGE_EXTENSIONS, load_image
from ..sources.labels import labels_from_folders
from ..sources.scan import scan_folder

__all__ = ["ImageData", "load_image_folder", "channel_stats"]

log = logging.getLogger(__name__)


@dataclass
class ImageData:
    """Decoded images of one folder.

    images : uint8 tensor of shape (n_images, 3, size, size)
    ids : sample ids (paths relative to ``root``), one per image, sorted
    labels : int64 array of shape (n_images,) indexing ``classes``, or None without class folders
    skipped : one ``{"id", "reason", "detail"}`` per file that could not be used
    """

    root: Path
    images: torch.Tensor
    ids: list[str]
    labels: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: np.ndarray) -> "ImageData":
        index = np.asarray(index, dtype=np.int64)
        return ImageData(
            self.root,
            self.images[torch.from_numpy(index)],
            [self.ids[i] for i in index],
            None if self.labels is None else self.labels[index],
            list(self.classes),
            [],
        )


def _decode(path: Path, pre: Preprocess) -> torch.Tensor | BadSampleError:
    try:
        return pre(load_image(path, draft_size=pre.input_size))
    except BadSampleError as exc:
        return exc
    except Exception as exc:  # a decoder bug on one file must not end the run
        return BadSampleError(f"{path}: {type(exc).__name__}: {exc}", reason="corrupt")


def load_image_folder(
    path: str | Path,
    size: int,
    *,
    classes: list[str] | None = None,
    max_images: int | None = None,
    workers: int | None = None,
    resample: str = "bilinear",
    progress: bool | None = None,
) -> ImageData:
    """Decode every image under ``path`` (recursively) to a (N, 3, size, size) uint8 tensor.

    ``classes`` fixes the label vocabulary (pass the training set's so a monitor set shares
    its label indices); images in other class folders then get label -1. ``max_images`` keeps
    only the first images in sorted id order (for quick experiments). ``resample``: the
    resize filter ("bilinear" or "bicubic", as the model's input policy says). Raises
    :class:`InputError` when no image can be used.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 8:
        raise ConfigError(f"The 'size' parameter of load_image_folder must be an int >= 8. Got {size!r} instead.")
    if max_images is not None and (not isinstance(max_images, int) or max_images < 1):
        raise ConfigError(f"The 'max_images' parameter of load_image_folder must be an int >= 1 or None. Got {max_images!r} instead.")
    scan = scan_folder(path, {"image": IMAGE_EXTENSIONS})
    ids = scan.files["image"]
    if max_images is not None:
        ids = ids[:max_images]
    if not ids:
        other = ", ".join(f"{n} {ext}" for ext, n in scan.ignored_extensions.most_common(5))
        raise InputError(
            f"No images found in {path}" + (f" (found only: {other})." if other else "."),
            hint=f"Supported extensions: {' '.join(sorted(IMAGE_EXTENSIONS))}.",
        )
    pre = Preprocess(size, resample=resample)
    # Pillow releases the GIL while decoding, so threads use every core without the
    # start-up and pickling cost of worker processes.
    n_workers = workers if workers is not None else max(1, min(8, len(os.sched_getaffinity(0))))
    decoded: list[torch.Tensor | BadSampleError] = []
    with progress_bar("decoding images", total=len(ids), progress=progress, unit="images") as bar:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            for out in pool.map(lambda i: _decode(scan.root / i, pre), ids, chunksize=64):
                decoded.append(out)
                bar.advance(1)
    keep_ids: list[str] = []
    tensors: list[torch.Tensor] = []
    skipped: list[dict[str, str]] = []
    for sid, out in zip(ids, decoded):
        if isinstance(out, BadSampleError):
            skipped.append({"id": sid, "reason": out.reason, "detail": out.message})
        else:
            keep_ids.append(sid)
            tensors.append(out)
    if skipped:
        log.warning("skipped %d unreadable file(s) in %s, e.g. %s", len(skipped), path, skipped[0]["detail"])
    if not tensors:
        raise InputError(
            f"None of the {len(ids)} image files in {path} could be read (e.g. {skipped[0]['detail']}).",
            hint="Check that the files are complete images.",
        )
    images = torch.stack(tensors)  # (N, 3, size, size) uint8
    names = labels_from_folders(keep_ids)
    labels = None
    class_list: list[str] = list(classes) if classes is not None else []
    if names is not None:
        if classes is None:
            class_list = sorted(set(names))
        index = {c: i for i, c in enumerate(class_list)}
        labels = np.array([index.get(n, -1) for n in names], dtype=np.int64)
    return ImageData(scan.root, images, keep_ids, labels, class_list, skipped)


def channel_stats(images: torch.Tensor, block: int = 8192) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of a uint8 (N, 3, H, W) tensor, in [0, 1] units.

    Computed in float64 over blocks so 50,000 images need no float copy of the whole set.
    """
    total = torch.zeros(3, dtype=torch.float64)
    total_sq = torch.zeros(3, dtype=torch.float64)
    count = 0
    for start in range(0, images.shape[0], block):
        x = images[start : start + block].to(torch.float64) / 255.0
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = torch.sqrt(torch.clamp(total_sq / count - mean * mean, min=1e-12))
    # a constant channel (all-gray data) would divide by ~0 at inference
    std = torch.clamp(std, min=1e-3)
    return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in std]
