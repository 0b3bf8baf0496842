"""A corpus of every kind of awkward image file, built by the tests themselves.

Each entry: file name -> (bytes writer, expected outcome). Outcomes are either "ok" (with
an optional check of the decoded RGB picture) or the reason code a bad file must get.
"""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _gradient(w=40, h=24) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.uint8)[:, None].repeat(w, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], -1), "RGB")


def _noise(w=64, h=64) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_bomb(width=100_000, height=100_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def exif_rotated_jpeg() -> bytes:
    """A 40x20 JPEG (left half red, right half blue) tagged orientation 6 (rotate 90 CW to view)."""
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)
    arr[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(Image.fromarray(arr), "JPEG", quality=95, exif=exif.tobytes())


def build_corpus(folder: Path) -> dict[str, str]:
    """Write the corpus into ``folder``; return {relative id: expected reason or 'ok'}."""
    folder.mkdir(parents=True, exist_ok=True)
    g = _gradient()
    good_jpeg = _save(g, "JPEG", quality=90)
    files: dict[str, tuple[bytes, str]] = {
        "ok/plain.jpg": (good_jpeg, "ok"),
        "ok/UPPER.JPG": (good_jpeg, "ok"),
        "ok/plain.png": (_save(g, "PNG"), "ok"),
        "ok/plain.webp": (_save(g, "WEBP"), "ok"),
        "ok/plain.bmp": (_save(g, "BMP"), "ok"),
        "ok/plain.tiff": (_save(g, "TIFF"), "ok"),
        "ok/plain.tif": (_save(g, "TIFF", compression="tiff_lzw"), "ok"),
        "ok/cmyk.jpg": (_save(g.convert("CMYK"), "JPEG", quality=95), "ok"),
        "ok/gray16.png": (_save(Image.fromarray((np.linspace(0, 65535, 40 * 24).reshape(24, 40)).astype(np.uint16)), "PNG"), "ok"),
        "ok/palette.png": (_save(g.convert("P", palette=Image.ADAPTIVE), "PNG"), "ok"),
        "ok/palette_transparent.gif": (_save(g.convert("P", palette=Image.ADAPTIVE), "GIF", transparency=0), "ok"),
        "ok/alpha.png": (_save(Image.merge("RGBA", (*g.split(), Image.new("L", g.size, 0))), "PNG"), "ok"),
        "ok/gray_alpha.png": (_save(g.convert("LA"), "PNG"), "ok"),
        "ok/bilevel.png": (_save(g.convert("1"), "PNG"), "ok"),
        "ok/animated.gif": (_save(g, "GIF", save_all=True, append_images=[g.rotate(90, expand=False)], duration=100), "ok"),
        "ok/exif_rotated.jpg": (exif_rotated_jpeg(), "ok"),
        "bad/empty.jpg": (b"", "empty_file"),
        "bad/text.jpg": (b"this is a text file, not an image\n" * 4, "not_an_image"),
        "bad/html.png": (b"<html><body>404 not found</body></html>", "not_an_image"),
        "bad/truncated.jpg": (good_jpeg[: len(good_jpeg) // 2], "truncated"),
        "bad/truncated.png": (_truncate(_save(_noise(), "PNG")), "truncated"),
        "bad/corrupt_header.jpg": (good_jpeg[:2] + b"\x00" * 40 + good_jpeg[42:], "not_an_image|corrupt"),
        "bad/bomb.png": (png_header_bomb(), "too_large"),
    }
    for rel, (data, _) in files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (folder / "notes.txt").write_text("not a sample; ignored by extension\n")
    return {rel: outcome for rel, (_, outcome) in files.items()}
