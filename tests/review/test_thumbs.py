"""Sprite sheets: the grid's thumbnails as one JPEG per block of tiles."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from labelscout.review.thumbs import SPRITE_BACKGROUND, sprite_sheet


def _jpeg(w: int, h: int, colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _window(sheet: np.ndarray, slot: int, k: int, side: int) -> np.ndarray:
    """What the page shows of slot k: the square of the picture's longer side around it."""
    off = (slot - side) // 2
    return sheet[off:off + side, k * slot + off:k * slot + off + side]


@pytest.mark.parametrize("sizes", [[(32, 32)] * 5, [(128, 96), (50, 128), (20, 20)], [(7, 3)]])
def test_each_picture_sits_centred_in_its_slot_on_the_grey(sizes):
    colours = [(220, 30, 30), (30, 200, 40), (30, 40, 210), (240, 200, 20), (120, 20, 160)]
    parts = [_jpeg(w, h, colours[k % len(colours)]) for k, (w, h) in enumerate(sizes)]
    data, slot, sides = sprite_sheet(parts)
    sheet = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=int)
    assert slot % 8 == 0 and slot >= max(max(s) for s in sizes) + 4  # JPEG blocks never straddle two pictures
    assert sheet.shape == (slot, slot * len(sizes), 3)
    assert sides == [max(s) for s in sizes]
    for k, (w, h) in enumerate(sizes):
        x0, y0 = k * slot + (slot - w) // 2, (slot - h) // 2
        inner = sheet[y0 + 2:y0 + h - 2, x0 + 2:x0 + w - 2] if min(w, h) > 4 else sheet[y0:y0 + h, x0:x0 + w]
        assert np.abs(inner.mean(axis=(0, 1)) - colours[k % len(colours)]).max() <= 12, k  # JPEG: the mean, not each pixel
        # the gutter around each picture is grey (JPEG rings a little beside a saturated
        # edge), so a slice scaled with filtering never shows its neighbour
        assert np.abs(sheet[0, k * slot:(k + 1) * slot] - SPRITE_BACKGROUND).max() <= 32
        assert np.abs(sheet[:, k * slot] - SPRITE_BACKGROUND).max() <= 32
        win = _window(sheet, slot, k, max(w, h))
        assert win.shape[:2] == (max(w, h), max(w, h))


def test_missing_and_undecodable_thumbnails_leave_a_grey_slot():
    data, slot, sides = sprite_sheet([_jpeg(16, 16, (200, 0, 0)), None, b"not a jpeg"])
    assert sides == [16, -1, -1]
    sheet = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=int)
    assert np.abs(sheet[:, slot:] - SPRITE_BACKGROUND).max() <= 12


def test_a_truncated_thumbnail_is_missing_not_an_error():
    whole = _jpeg(32, 32, (10, 200, 10))
    _, _, sides = sprite_sheet([whole, whole[: len(whole) // 3]])
    assert sides == [32, -1]  # labelscout keeps Pillow from half-decoding truncated files
