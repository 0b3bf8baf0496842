"""Batched augmentations: shapes, ranges, determinism for a seed, and the colour operations
against torchvision's per-image reference implementations."""
from __future__ import annotations

import math

import pytest
import torch
import torchvision.transforms.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError
from labelscout.ssl import views as V
from labelscout.ssl.views import ViewAugment, ViewConfig


def _images(b=8, h=32, w=32, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 3, h, w), generator=g, dtype=torch.uint8)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("size", [16, 32, 48])
@pytest.mark.parametrize("hw", [(32, 32), (24, 40)])
def test_view_shape_dtype_and_range(size, hw):
    aug = ViewAugment(ViewConfig(size=size), mean=[0, 0, 0], std=[1, 1, 1])  # identity normalisation
    out = aug(_images(6, *hw), _gen(0))
    assert out.shape == (6, 3, size, size)
    assert out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_same_seed_same_views_other_seed_other_views(seed):
    aug = ViewAugment(ViewConfig(), mean=[0.5] * 3, std=[0.25] * 3)
    x = _images(4)
    a = aug(x, _gen(seed))
    b = aug(x, _gen(seed))
    c = aug(x, _gen(seed + 1))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_normalisation_uses_mean_and_std():
    cfg = ViewConfig(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0, grayscale_p=0.0)
    x = _images(3)
    raw = ViewAugment(cfg, [0, 0, 0], [1, 1, 1])(x, _gen(0))
    norm = ViewAugment(cfg, [0.4, 0.5, 0.6], [0.2, 0.25, 0.5])(x, _gen(0))
    expected = (raw - torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1)) / torch.tensor([0.2, 0.25, 0.5]).view(1, 3, 1, 1)
    torch.testing.assert_close(norm, expected)


def test_full_crop_without_flip_is_the_identity():
    x = V.to_float(_images(4))
    out = V.random_resized_crop(x, 32, (1.0, 1.0), (1.0, 1.0), 0.0, _gen(0))
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_flip_probability_one_mirrors_every_image():
    x = V.to_float(_images(4))
    out = V.random_resized_crop(x, 32, (1.0, 1.0), (1.0, 1.0), 1.0, _gen(0))
    torch.testing.assert_close(out, x.flip(-1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("area", [0.09, 0.25, 0.64])
def test_crop_covers_the_requested_area_fraction(area):
    # a horizontal ramp: the span of values in a crop measures the crop's width
    w = 64
    ramp = torch.linspace(0, 1, w).view(1, 1, 1, w).expand(64, 3, w, w).contiguous()
    out = V.random_resized_crop(ramp, 16, (area, area), (1.0, 1.0), 0.0, _gen(1))
    span = out[:, 0, 0, -1] - out[:, 0, 0, 0]  # value at the last minus the first output column
    # output pixel centres cover (size - 1) / size of the crop width
    expected = math.sqrt(area) * (w / (w - 1)) * (15 / 16)
    torch.testing.assert_close(span, torch.full_like(span, expected), atol=0.02, rtol=0)
    # and the crop stays inside the image
    assert out.min() >= 0 and out.max() <= 1


def test_impossible_crops_fall_back_to_the_centre():
    # on a very wide image, an aspect ratio of 1 cannot reach 90 % of the area: the fallback
    # is the central box with the ratio clamped to the allowed range
    x = V.to_float(_images(2, 16, 64))
    out = V.random_resized_crop(x, 16, (0.9, 1.0), (1.0, 1.0), 0.0, _gen(0))
    expected = V.random_resized_crop(x[..., 24:40], 16, (1.0, 1.0), (1.0, 1.0), 0.0, _gen(0))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_grayscale_probability_one_and_zero():
    x = V.to_float(_images(4))
    gray = V.random_grayscale(x, 1.0, _gen(0))
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 1], gray[:, 2])
    torch.testing.assert_close(gray[:, :1], TF.rgb_to_grayscale(x), atol=1e-6, rtol=0)
    assert torch.equal(V.random_grayscale(x, 0.0, _gen(0)), x)


@pytest.mark.parametrize("factor", [0.6, 1.0, 1.4])
def test_brightness_contrast_saturation_match_torchvision(factor):
    x = V.to_float(_images(3))
    f = torch.full((3,), factor)
    torch.testing.assert_close(V._blend(x, torch.zeros_like(x), f), TF.adjust_brightness(x, factor), atol=1e-6, rtol=0)
    mean = V._gray(x).mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(V._blend(x, mean.expand_as(x), f), torch.stack([TF.adjust_contrast(i, factor) for i in x]), atol=1e-5, rtol=0)
    torch.testing.assert_close(V._blend(x, V._gray(x).expand_as(x), f), TF.adjust_saturation(x, factor), atol=1e-6, rtol=0)


@pytest.mark.parametrize("shift", [-0.5, -0.1, 0.0, 0.05, 0.3])
def test_hue_matches_torchvision(shift):
    x = V.to_float(_images(3))
    ours = V._adjust_hue(x, torch.full((3,), shift))
    torch.testing.assert_close(ours, torch.stack([TF.adjust_hue(i, shift) for i in x]), atol=1e-5, rtol=0)


def test_hue_shifts_are_per_image():
    x = V.to_float(_images(2))
    ours = V._adjust_hue(x, torch.tensor([0.1, -0.2]))
    torch.testing.assert_close(ours[0], TF.adjust_hue(x[0], 0.1), atol=1e-5, rtol=0)
    torch.testing.assert_close(ours[1], TF.adjust_hue(x[1], -0.2), atol=1e-5, rtol=0)


def test_jitter_probability_zero_is_identity_and_one_changes_every_image():
    x = V.to_float(_images(8))
    assert torch.equal(V.color_jitter(x, 0.4, 0.4, 0.4, 0.1, 0.0, _gen(0)), x)
    out = V.color_jitter(x, 0.4, 0.4, 0.4, 0.1, 1.0, _gen(0))
    assert all(not torch.equal(o, i) for o, i in zip(out, x))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"size": 0}, "'size' parameter of ViewConfig must be an int in the range [1, inf]. Got 0"),
        ({"flip_p": 1.5}, "'flip_p' parameter of ViewConfig must be a float in the range [0, 1]. Got 1.5"),
        ({"hue": 0.7}, "'hue' parameter of ViewConfig must be a float in the range [0, 0.5]. Got 0.7"),
        ({"scale": (0.5, 0.2)}, "'scale' parameter of ViewConfig must be a pair (low, high)"),
        ({"ratio": (0.0, 1.0)}, "'ratio' parameter of ViewConfig must be a pair (low, high)"),
    ],
)
def test_view_config_errors_name_parameter_rule_and_value(kwargs, fragment):
    with pytest.raises(ConfigError) as exc:
        ViewConfig(**kwargs)
    assert fragment in str(exc.value)


def test_augment_rejects_wrong_batch_shape():
    aug = ViewAugment(ViewConfig(), [0.5] * 3, [0.5] * 3)
    with pytest.raises(ConfigError, match=r"\(B, 3, H, W\); got \(3, 32, 32\)"):
        aug(_images(1)[0], _gen(0))
