"""Reading every awkward image format right, and every bad file with a precise reason."""
from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from PIL import Image

from labelscout.errors import BadSampleError
from labelscout.sources.images import BAD_IMAGE_REASONS, load_image, to_rgb

from _image_corpus import build_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, build_corpus(folder)


def _cases():
    import tempfile
    from pathlib import Path

    return sorted(build_corpus(Path(tempfile.mkdtemp())).items())


@pytest.mark.parametrize("rel,expected", _cases())
def test_every_file_loads_or_gets_its_reason(corpus, rel, expected):
    folder, _ = corpus
    path = folder / rel
    if expected == "ok":
        img = load_image(path)
        assert img.mode == "RGB"
        assert img.size[0] > 0 and img.size[1] > 0
    else:
        with pytest.raises(BadSampleError) as info:
            load_image(path)
        assert info.value.reason in expected.split("|")
        assert info.value.reason in BAD_IMAGE_REASONS
        assert str(path) in info.value.message  # the error says where


def test_input_files_are_never_modified(corpus):
    folder, expected = corpus
    before = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}
    for rel in expected:
        try:
            load_image(folder / rel)
        except BadSampleError:
            pass
    after = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}
    assert before == after


def test_exif_orientation_is_applied(corpus):
    folder, _ = corpus
    img = np.asarray(load_image(folder / "ok/exif_rotated.jpg"))
    # stored 40 wide x 20 high with red left; orientation 6 = rotate 90 clockwise to view:
    # the viewed image is 20 wide x 40 high with red on top
    assert img.shape[:2] == (40, 20)
    top, bottom = img[:15].reshape(-1, 3).mean(0), img[-15:].reshape(-1, 3).mean(0)
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_sixteen_bit_is_scaled_not_clipped(corpus):
    folder, _ = corpus
    arr = np.asarray(load_image(folder / "ok/gray16.png"))[..., 0].astype(int)
    assert arr.min() <= 2 and arr.max() >= 253  # full range kept
    assert len(np.unique(arr)) > 100  # a gradient, not a saturated white image


def test_alpha_composited_on_white(corpus):
    folder, _ = corpus
    arr = np.asarray(load_image(folder / "ok/alpha.png"))
    assert (arr == 255).all()  # fully transparent image shows the white background


def test_cmyk_converted_close_to_original(corpus):
    folder, _ = corpus
    arr = np.asarray(load_image(folder / "ok/cmyk.jpg")).astype(int)
    ref = np.asarray(Image.open(folder / "ok/plain.png").convert("RGB")).astype(int)
    assert np.abs(arr - ref).mean() < 20


def test_animated_gif_gives_first_frame(corpus):
    folder, _ = corpus
    first = np.asarray(load_image(folder / "ok/animated.gif")).astype(int)
    ref = np.asarray(load_image(folder / "ok/plain.png")).astype(int)
    assert np.abs(first - ref).mean() < 30


def test_unreadable_file_reason(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read files without read permission")
    p = tmp_path / "locked.jpg"
    p.write_bytes(b"x")
    p.chmod(0)
    with pytest.raises(BadSampleError) as info:
        load_image(p)
    assert info.value.reason == "unreadable"


def test_max_pixels_limit_is_configurable(corpus):
    folder, _ = corpus
    with pytest.raises(BadSampleError) as info:
        load_image(folder / "ok/plain.png", max_pixels=100)
    assert info.value.reason == "too_large"


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P", "CMYK", "I;16", "I", "F", "1", "YCbCr"])
def test_to_rgb_handles_every_mode(mode):
    base = Image.fromarray(np.arange(64 * 48 * 3, dtype=np.uint32).reshape(48, 64, 3).astype(np.uint8) % 251, "RGB")
    if mode in ("I;16", "I"):
        img = Image.fromarray((np.arange(48 * 64).reshape(48, 64) * 20).astype(np.uint16 if mode == "I;16" else np.int32))
        if mode == "I":
            img = img.convert("I")
    elif mode == "F":
        img = Image.fromarray(np.linspace(0, 1, 48 * 64, dtype=np.float32).reshape(48, 64), "F")
    else:
        img = base.convert(mode)
    out = to_rgb(img)
    assert out.mode == "RGB" and out.size == (64, 48)
    arr = np.asarray(out)
    assert arr.std() > 0  # content survives the conversion
