"""Thumbnails: video frames located by index (against decoding every frame), image files,
the run-folder cache, and the atlas that packs them."""
from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from labelscout.errors import BadSampleError
from labelscout.report.atlas import build_atlas, tile_size_for
from labelscout.report.thumbs import ThumbnailStore, parse_frame_id, thumbnail_for, thumbnails


@pytest.fixture(scope="module")
def all_frames(videos_dir):
    """Reference: every frame of each video, decoded in order from the start."""
    out = {}
    for name in ("street_cuts.mp4", "dashcam_highway.mp4"):
        with av.open(str(videos_dir / name)) as c:
            out[name] = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return out


@pytest.mark.parametrize("name,n", [("street_cuts.mp4", 0), ("street_cuts.mp4", 1), ("street_cuts.mp4", 77),
                                    ("street_cuts.mp4", 249), ("dashcam_highway.mp4", 45), ("dashcam_highway.mp4", 220)])
def test_frame_thumbnail_is_exactly_that_frame(videos_dir, all_frames, name, n):
    ref = all_frames[name][n]
    img = thumbnail_for(videos_dir, f"{name}#frame={n}", size=10_000)  # no shrinking: compare pixels
    assert img.size == (ref.shape[1], ref.shape[0])
    diffs = [np.abs(np.asarray(img, np.int16) - f).mean() for f in all_frames[name]]
    assert int(np.argmin(diffs)) == n and diffs[n] < 0.5


def test_frame_thumbnail_keeps_the_aspect_ratio(videos_dir):
    img = thumbnail_for(videos_dir, "dashcam_highway.mp4#frame=10", size=96)
    assert img.size == (96, 54)


def test_frame_beyond_the_end_is_a_clear_error(videos_dir):
    with pytest.raises(BadSampleError, match="beyond the end"):
        thumbnail_for(videos_dir, "street_cuts.mp4#frame=5000")


def test_many_frames_of_one_video_in_any_order(videos_dir, all_frames):
    frames = [200, 3, 100, 101, 4, 249]
    ids = [f"street_cuts.mp4#frame={n}" for n in frames]
    out = thumbnails(videos_dir, ids, ["k"] * len(ids), 64, ThumbnailStore(None), quality=95)
    for n, data in zip(frames, out):
        img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB").resize((640, 272)), np.int16)
        diffs = [np.abs(img - f).mean() for f in all_frames["street_cuts.mp4"][::1]]
        assert abs(int(np.argmin(diffs)) - n) <= 1  # JPEG at 64 px: the same frame or an identical-looking one


@pytest.mark.parametrize("sid,expected", [("a/b.mp4#frame=12", ("a/b.mp4", 12)), ("x.jpg", None), ("v.mp4#frame=", None),
                                          ("weird#name.jpg", None)])
def test_parse_frame_id(sid, expected):
    assert parse_frame_id(sid) == expected


def test_image_thumbnails_small_jpegs_pass_through_and_big_ones_shrink(tmp_path, cifar_sample):
    small = sorted((cifar_sample / "cat").iterdir())[0]
    Image.new("RGB", (300, 150), (200, 30, 30)).save(tmp_path / "big.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / small.name).write_bytes(small.read_bytes())
    ids = [f"cat/{small.name}", "big.png", "broken.jpg", "missing.jpg"]
    out = thumbnails(tmp_path, ids, ["k"] * 4, 64, ThumbnailStore(None))
    assert out[0] == small.read_bytes()  # a 32 px JPEG already is a thumbnail
    big = Image.open(io.BytesIO(out[1]))
    assert big.format == "JPEG" and big.size == (64, 32)
    assert out[2] is None and out[3] is None
    assert thumbnail_for(tmp_path, "big.png", 50).size == (50, 25)


def test_store_round_trip_reuse_and_a_torn_pack(tmp_path, cifar_sample):
    root = cifar_sample
    ids = [f"cat/{p.name}" for p in sorted((root / "cat").iterdir())[:5]]
    store = ThumbnailStore(tmp_path / "c")
    first = thumbnails(root, ids, ["h"] * 5, 48, store)
    store.save()
    again = ThumbnailStore(tmp_path / "c")
    assert thumbnails(None, ids, ["h"] * 5, 48, again) == first  # from the store, no files needed
    assert not again.changed
    # a changed content key is a different thumbnail
    assert thumbnails(None, ids, ["other"] * 5, 48, again) == [None] * 5
    # a pack that does not match its index is ignored, not misread
    with open(tmp_path / "c" / "thumbs.pack", "ab") as fh:
        fh.write(b"junk")
    torn = ThumbnailStore(tmp_path / "c")
    assert thumbnails(None, ids, ["h"] * 5, 48, torn) == [None] * 5


def _solid(colour, size=(20, 10)):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=95)
    return buf.getvalue()


@pytest.mark.parametrize("n,tile", [(5, 16), (300, 32), (4100, 32)])
def test_atlas_puts_each_tile_where_position_says(n, tile):
    rng = np.random.default_rng(n)
    colours = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(n)]
    jpegs = [_solid(c) if i % 7 != 3 else None for i, c in enumerate(colours)]
    atlas = build_atlas(jpegs, tile, quality=95)
    assert atlas.present.tolist() == [j is not None for j in jpegs]
    assert len(atlas.sheets) == -(-n // atlas.per_sheet)
    sheets = [np.asarray(Image.open(io.BytesIO(s)).convert("RGB"), np.int16) for s in atlas.sheets]
    for i in list(range(min(n, 50))) + [n - 1]:
        s, x, y = atlas.position(i)
        centre = sheets[s][y + tile // 2, x + tile // 2]
        if jpegs[i] is None:
            assert np.abs(centre - (236, 238, 242)).max() < 12  # background
        else:
            assert np.abs(centre - colours[i]).max() < 12


@pytest.mark.parametrize("n,largest,expected", [(100, 96, 64), (100, 32, 32), (10_000, 96, 48), (50_000, 96, 32), (50_000, 8, 16)])
def test_tile_size_for(n, largest, expected):
    assert tile_size_for(n, largest) == expected
