"""Turning a decoded picture into the uint8 model input: resize the shorter side, center crop.

Runs in DataLoader worker processes, so it returns uint8 (cheap to pass between
processes); scaling to float and normalising happen on the inference device.

A model may use a second, smaller input size for thumbnails (pictures whose shorter side
is at most ``small_side`` pixels, such as CIFAR's 32 x 32 images): upscaling them to a
photo model's full 224 px costs three times the compute of 128 px for no better vectors
(benchmarks/knn_lite.py). A batch can then hold two sizes; :func:`group_by_size` splits it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

__all__ = ["Preprocess", "normalize_batch", "group_by_size", "RESAMPLE_FILTERS"]

RESAMPLE_FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


@dataclass(frozen=True)
class Preprocess:
    input_size: int
    resize_size: int | None = None  # shorter side before the crop; default input_size
    small_input_size: int | None = None  # thumbnails go to this size (None: no thumbnail rule)
    small_side: int = 0  # a picture is a thumbnail when its shorter side is at most this
    resample: str = "bilinear"

    def size_for(self, width: int, height: int) -> int:
        """The square input size a ``width`` x ``height`` picture is turned into."""
        if self.small_input_size and min(width, height) <= self.small_side:
            return self.small_input_size
        return self.input_size

    @property
    def draft_size(self) -> int:
        """The smallest size a JPEG may be draft-decoded to (photos are never thumbnails)."""
        return self.resize_size or self.input_size

    def __call__(self, img: Image.Image) -> torch.Tensor:
        """RGB PIL image -> uint8 tensor of shape (3, s, s), s = :meth:`size_for` its size."""
        w, h = img.size
        s = self.size_for(w, h)
        r = s if s != self.input_size else (self.resize_size or s)
        scale = r / min(w, h)
        side = s / scale  # the crop, measured in source pixels
        box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
        if (w, h) != (s, s) or r != s:
            # reducing_gap lets Pillow shrink big photos by fast integer reduction first
            img = img.resize((s, s), RESAMPLE_FILTERS[self.resample], box=box, reducing_gap=3.0 if scale < 1 / 3 else None)
        arr = np.asarray(img, dtype=np.uint8)  # (H, W, 3)
        return torch.from_numpy(arr.copy()).permute(2, 0, 1)  # (3, H, W)

    def array(self, frame: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 RGB array -> (3, s, s) uint8 tensor."""
        return self(Image.fromarray(frame))


def group_by_size(tensors: list[torch.Tensor]) -> list[tuple[list[int], torch.Tensor]]:
    """Split (3, s, s) tensors of mixed sizes into stacked batches: [(positions, (B, 3, s, s))...]."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for pos, t in enumerate(tensors):
        groups.setdefault(tuple(t.shape), []).append(pos)
    return [(pos, torch.stack([tensors[p] for p in pos])) for pos in groups.values()]


def normalize_batch(batch_u8: torch.Tensor, mean: list[float], std: list[float], dtype=torch.float32) -> torch.Tensor:
    """(B, 3, H, W) uint8 on any device -> normalised float."""
    x = batch_u8.to(dtype).div_(255.0)
    m = torch.tensor(mean, dtype=dtype, device=x.device).view(1, 3, 1, 1)
    sd = torch.tensor(std, dtype=dtype, device=x.device).view(1, 3, 1, 1)
    return (x - m) / sd
