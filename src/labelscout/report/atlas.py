"""A thumbnail atlas: every sample's thumbnail as one tile of a few large JPEG sheets.

The embedding map shows a thumbnail on hover for any of up to 100,000 points. One data
URI per point would cost a DOM image each and repeat the JPEG headers 100,000 times;
sheets of 2048 x 2048 pixels hold 4,096 tiles of 32 px each, compress better together and
are decoded by the browser only when a hover first needs one.

Tile ``i`` lies on sheet ``i // per_sheet`` at column ``(i % per_sheet) % cols`` and row
``(i % per_sheet) // cols``. A thumbnail that is not square is centred on the tile.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from .thumbs import encode_jpeg

__all__ = ["Atlas", "build_atlas", "tile_size_for"]

SHEET_PX = 2048
_BACKGROUND = (236, 238, 242)


@dataclass
class Atlas:
    tile: int  # tile side in pixels
    cols: int  # tiles per sheet row
    per_sheet: int  # tiles per sheet
    sheets: list[bytes]  # JPEG bytes of each sheet
    present: np.ndarray  # (n_samples,) bool: whether a thumbnail exists for the sample

    def position(self, i: int) -> tuple[int, int, int]:
        """(sheet, x, y) of tile ``i`` in pixels."""
        sheet, j = divmod(int(i), self.per_sheet)
        return sheet, (j % self.cols) * self.tile, (j // self.cols) * self.tile

    @property
    def nbytes(self) -> int:
        return sum(len(s) for s in self.sheets)


def tile_size_for(n_samples: int, largest_thumbnail: int) -> int:
    """Bigger tiles for small pools, 32 px for large ones (the atlas of 100,000 samples
    stays near 30 MB), and never bigger than the thumbnails themselves."""
    wanted = 64 if n_samples <= 5_000 else (48 if n_samples <= 20_000 else 32)
    return int(max(16, min(wanted, largest_thumbnail)))


def _decode(data: bytes) -> np.ndarray:
    """(h, w, 3) uint8 pixels of a JPEG thumbnail."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))


def _fit_tile(pixels: np.ndarray, tile: int) -> np.ndarray:
    h, w = pixels.shape[:2]
    if max(h, w) == tile:
        return pixels
    scale = tile / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def build_atlas(jpegs: Sequence[bytes | None], tile: int, quality: int = 72) -> Atlas:
    """Pack thumbnails (JPEG bytes, None where missing) into sheets of ``tile`` px tiles."""
    cols = SHEET_PX // tile
    per_sheet = cols * cols
    n = len(jpegs)
    present = np.array([b is not None for b in jpegs], dtype=bool)
    sheets: list[bytes] = []
    for start in range(0, n, per_sheet):
        count = min(per_sheet, n - start)
        rows = -(-count // cols)
        # the last sheet is only as tall as its tiles need
        sheet = np.empty((rows * tile, cols * tile, 3), np.uint8)
        sheet[:] = _BACKGROUND
        for j in range(count):
            data = jpegs[start + j]
            if data is None:
                continue
            px = _fit_tile(_decode(data), tile)
            h, w = px.shape[:2]
            y = (j // cols) * tile + (tile - h) // 2
            x = (j % cols) * tile + (tile - w) // 2
            sheet[y : y + h, x : x + w] = px
        sheets.append(encode_jpeg(Image.fromarray(sheet), quality))
    return Atlas(tile, cols, per_sheet, sheets, present)
