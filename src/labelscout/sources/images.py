"""Reading one image file into an RGB picture, or a precise reason why it cannot be read.

Every odd format a real collection holds is converted the way a person looking at the
file would expect: EXIF orientation applied, CMYK and palette converted, 16-bit and
float images scaled (not clipped) to 8 bits, transparency composited on white, the first
frame of an animation. Files that cannot be used raise :class:`BadSampleError` with one of
the reason codes in :data:`BAD_IMAGE_REASONS`; the caller records them and goes on.
"""
from __future__ import annotations

import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ..errors import BadSampleError
from .scan import open_regular

__all__ = ["IMAGE_EXTENSIONS", "MULTI_FRAME_EXTENSIONS", "count_frames", "BAD_IMAGE_REASONS", "DEFAULT_MAX_PIXELS", "load_image", "to_rgb"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})

#: formats that can hold more than one frame (animation, pages); only the first is used
MULTI_FRAME_EXTENSIONS = frozenset({".gif", ".webp", ".png", ".tif", ".tiff"})

#: reason code -> what it means (shown in run.json and the summary)
BAD_IMAGE_REASONS = {
    "empty_file": "the file has zero bytes",
    "not_an_image": "the file content is not an image format Pillow can read",
    "truncated": "the image data ends early (incomplete download or copy)",
    "corrupt": "the image data is damaged and cannot be decoded",
    "too_large": "the image has more pixels than the limit (possible decompression bomb)",
    "unreadable": "the file cannot be opened (permissions or I/O error)",
    "not_a_regular_file": "the path is a FIFO, socket or device, not a file (it was not read)",
}

#: Larger images are refused as possible decompression bombs (about 16k x 16k).
DEFAULT_MAX_PIXELS = 256_000_000

# Pillow warns about images over its own pixel limit (89 M); load_image enforces
# ``max_pixels`` itself and reports such files, so the warning is noise. It is silenced by a
# process-wide filter for that one category, not by ``warnings.catch_warnings()`` around each
# decode: images decode in threads (the embedder's decode thread, count_frames' pool), and
# catch_warnings is not thread-safe: concurrent blocks restore each other's filters, which
# let the ONNX exporter's silenced warnings through and could leave "ignore everything" set.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# Never let Pillow silently pad truncated files with grey; we want to know.
ImageFile.LOAD_TRUNCATED_IMAGES = False


def _bad(path: Path, reason: str, detail: str = "") -> BadSampleError:
    msg = f"{path}: {BAD_IMAGE_REASONS[reason]}" + (f" ({detail})" if detail else "")
    hint = {
        "truncated": "Re-copy or re-download the file.",
        "too_large": "Downscale it, or raise the limit with --max-pixels if you trust the file.",
        "unreadable": "Check the file permissions.",
    }.get(reason)
    return BadSampleError(msg, reason=reason, hint=hint)


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB the way the image looks on screen."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float64)
        # 16-bit data is stored in 'I' too; scale by the container range, not by the max
        # of this image, so a dark 16-bit image stays dark.
        peak = 65535.0 if (mode != "I" or arr.max(initial=0) > 255) else 255.0
        arr = np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if mode == "F":
        arr = np.asarray(img).astype(np.float64)
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(arr.min(initial=0)), float(arr.max(initial=0))
        if 0.0 <= lo and hi <= 1.0:
            scaled = arr * 255.0
        else:
            scaled = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode.endswith(";16") or mode.endswith(";16B") or mode.endswith(";16L"):
        # rare multi-channel 16-bit raw modes: let numpy take the top byte
        arr = (np.asarray(img).astype(np.uint32) >> 8).astype(np.uint8)
        return Image.fromarray(arr).convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


#: bytes a complete file of the format ends with (trailing padding tolerated)
_END_MARKERS = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82", "GIF": b"\x3b"}


def _looks_truncated(path: Path, fmt: str | None) -> bool:
    """Whether a file that failed to decode is missing its format's end marker."""
    marker = _END_MARKERS.get(fmt or "")
    if marker is None:
        return False
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 64))
            tail = fh.read()
    except OSError:
        return False
    return marker not in tail


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, draft_size: int | None = None) -> Image.Image:
    """Open ``path`` and return an RGB image with EXIF orientation applied.

    ``draft_size`` lets JPEG decoding skip detail not needed for a model input of about
    that size (decoding at 1/2, 1/4 or 1/8 scale), which is several times faster on
    large photos. Raises :class:`BadSampleError` with a reason from
    :data:`BAD_IMAGE_REASONS`.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise _bad(path, "unreadable", str(exc)) from exc
    if not stat.S_ISREG(st.st_mode):
        raise _bad(path, "not_a_regular_file")
    if st.st_size == 0:
        raise _bad(path, "empty_file")
    fmt = None
    try:
        with open_regular(path) as fh, Image.open(fh) as img:
            fmt = img.format
            width, height = img.size
            if width * height > max_pixels:
                raise _bad(path, "too_large", f"{width}x{height} pixels > {max_pixels}")
            if draft_size and img.format == "JPEG":
                img.draft("RGB", (draft_size * 2, draft_size * 2))
            img.seek(0)  # first frame of GIF / multi-page TIFF
            img.load()
            img = ImageOps.exif_transpose(img) or img
            return to_rgb(img).copy()
    except BadSampleError:
        raise
    except Image.DecompressionBombError as exc:
        raise _bad(path, "too_large", str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise _bad(path, "not_an_image") from exc
    except PermissionError as exc:
        raise _bad(path, "unreadable", str(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        text = str(exc).lower()
        truncated = "truncated" in text or "premature end" in text or isinstance(exc, EOFError) or _looks_truncated(path, fmt)
        reason = "truncated" if truncated else "corrupt"
        raise _bad(path, reason, str(exc)) from exc


def _frame_count(path: Path) -> int:
    try:  # runs in a thread pool: no catch_warnings here (see the filter at the top)
        with open_regular(path) as fh, Image.open(fh) as img:
            return int(getattr(img, "n_frames", 1) or 1)
    except Exception:  # noqa: BLE001 - an unreadable file was reported when it was decoded
        return 1


def count_frames(root: Path, ids: list[str], workers: int = 8) -> dict[str, int]:
    """Frames of each image of ``ids`` whose format can hold several (GIF, WebP, APNG, TIFF).

    Reads headers only (a GIF's frame headers); other formats are not opened. Used to say in
    run.json which samples are multi-frame images whose first frame stands for them.
    """
    from concurrent.futures import ThreadPoolExecutor

    todo = [i for i in ids if Path(i).suffix.lower() in MULTI_FRAME_EXTENSIONS]
    if len(todo) < 32:
        return {i: _frame_count(root / i) for i in todo}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(todo, pool.map(lambda i: _frame_count(root / i), todo)))
