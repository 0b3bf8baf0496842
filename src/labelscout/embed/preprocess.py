"""Turning a decoded picture into the uint8 model input: resize the shorter side, center crop.

Runs in DataLoader worker processes, so it returns uint8 (cheap to pass between
processes); scaling to float and normalising happen on the inference device.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

__all__ = ["Preprocess", "normalize_batch"]


@dataclass(frozen=True)
class Preprocess:
    input_size: int
    resize_size: int | None = None  # shorter side before the crop; default input_size

    def __call__(self, img: Image.Image) -> torch.Tensor:
        """RGB PIL image -> uint8 tensor of shape (3, input_size, input_size)."""
        s = self.input_size
        r = self.resize_size or s
        w, h = img.size
        scale = r / min(w, h)
        side = s / scale  # the crop, measured in source pixels
        box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
        if (w, h) != (s, s) or r != s:
            # reducing_gap lets Pillow shrink big photos by fast integer reduction first
            img = img.resize((s, s), Image.BILINEAR, box=box, reducing_gap=3.0 if scale < 1 / 3 else None)
        arr = np.asarray(img, dtype=np.uint8)  # (H, W, 3)
        return torch.from_numpy(arr.copy()).permute(2, 0, 1)  # (3, H, W)

    def array(self, frame: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 RGB array -> (3, s, s) uint8 tensor."""
        return self(Image.fromarray(frame))


def normalize_batch(batch_u8: torch.Tensor, mean: list[float], std: list[float], dtype=torch.float32) -> torch.Tensor:
    """(B, 3, H, W) uint8 on any device -> normalised float."""
    x = batch_u8.to(dtype).div_(255.0)
    m = torch.tensor(mean, dtype=dtype, device=x.device).view(1, 3, 1, 1)
    sd = torch.tensor(std, dtype=dtype, device=x.device).view(1, 3, 1, 1)
    return (x - m) / sd
