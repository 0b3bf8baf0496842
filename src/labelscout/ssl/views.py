"""Batched augmentations that turn a uint8 image batch into normalised training views.

Everything runs on tensors on the training device, one call per batch: a GPU is not
starved by per-image CPU work, and on a CPU the operations are vectorised over the batch.
Randomness comes only from the ``torch.Generator`` passed in, so the same generator state
gives the same views (this is what makes a resumed training run identical to an
uninterrupted one).

The recipe is SimCLR's (random resized crop, horizontal flip, colour jitter, random
grayscale) with its CIFAR settings as defaults; Gaussian blur is left out, as SimCLR does
for 32x32 images.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from .._validation import Interval, validate_params
from ..errors import ConfigError

__all__ = ["ViewConfig", "ViewAugment", "random_resized_crop", "color_jitter", "random_grayscale", "to_float", "normalize"]

_PROB = [Interval(numbers.Real, 0, 1)]
_NONNEG = [Interval(numbers.Real, 0, None)]

# luma weights as torchvision rounds ITU-R 601 (so views match its ColorJitter / Grayscale)
_LUMA = (0.2989, 0.587, 0.114)


@dataclass(frozen=True)
class ViewConfig:
    """Parameters of one kind of view.

    ``scale`` is the range of the crop area as a fraction of the image area and ``ratio`` the
    range of its aspect ratio (sampled log-uniformly), as in torchvision's RandomResizedCrop.
    ``brightness``, ``contrast`` and ``saturation`` draw a factor in [1 - v, 1 + v]; ``hue``
    draws a shift in [-v, v] (v <= 0.5) of the hue circle.
    """

    size: int = 32
    scale: tuple[float, float] = (0.2, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    grayscale_p: float = 0.2

    def __post_init__(self) -> None:
        params = asdict(self)
        validate_params(
            "ViewConfig",
            params,
            {
                "size": [Interval(numbers.Integral, 1, None)],
                "flip_p": _PROB,
                "jitter_p": _PROB,
                "grayscale_p": _PROB,
                "brightness": [Interval(numbers.Real, 0, 1)],
                "contrast": [Interval(numbers.Real, 0, 1)],
                "saturation": [Interval(numbers.Real, 0, 1)],
                "hue": [Interval(numbers.Real, 0, 0.5)],
            },
        )
        for name, lo_min, hi_max in (("scale", 0.0, 1.0), ("ratio", 0.0, math.inf)):
            value = getattr(self, name)
            ok = (
                isinstance(value, (tuple, list))
                and len(value) == 2
                and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
                and lo_min < value[0] <= value[1] <= hi_max
            )
            if not ok:
                raise ConfigError(
                    f"The {name!r} parameter of ViewConfig must be a pair (low, high) with "
                    f"{lo_min} < low <= high <= {hi_max}. Got {value!r} instead."
                )

    @classmethod
    def mild(cls, size: int) -> "ViewConfig":
        """Crop and flip only (used by the autoencoder, which must reconstruct colours)."""
        return cls(size=size, scale=(0.5, 1.0), jitter_p=0.0, grayscale_p=0.0)


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=device) * (hi - lo) + lo


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) in [0, 255] -> float32 in [0, 1]; float input is returned as float32."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()


def normalize(x: torch.Tensor, mean: list[float] | tuple[float, ...], std: list[float] | tuple[float, ...]) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> (x - mean) / std per channel."""
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s


def random_resized_crop(
    x: torch.Tensor,
    size: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    flip_p: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Crop a random box of each image, resize it to ``size`` x ``size``, maybe flip it.

    Boxes are drawn like torchvision's RandomResizedCrop: up to 10 tries of (area
    fraction, log-uniform aspect ratio) per image, the first that fits is used, and an image
    whose 10 tries all fail gets the central crop with the ratio clamped to ``ratio``. The
    crop is done by one batched affine ``grid_sample`` (bilinear) instead of per-image
    slicing; the horizontal flip is a sign in the same affine map, so it costs nothing.

    x : float (B, 3, H, W). Returns float (B, 3, size, size).
    """
    b, _, h, w = x.shape
    dev = x.device
    tries = 10
    area = torch.rand(b, tries, generator=generator, device=dev) * (scale[1] - scale[0]) + scale[0]
    log_r = torch.rand(b, tries, generator=generator, device=dev) * (math.log(ratio[1]) - math.log(ratio[0])) + math.log(ratio[0])
    r = torch.exp(log_r)
    # box width / height as fractions of the image width / height, shape (B, tries)
    cw = torch.sqrt(area * r * h / w)
    ch = torch.sqrt(area / r * w / h)
    fits = (cw <= 1.0) & (ch <= 1.0)
    first = torch.argmax(fits.int(), dim=1)  # index of the first try that fits (0 if none does)
    any_fit = fits.any(dim=1)
    cw = cw.gather(1, first[:, None])[:, 0]
    ch = ch.gather(1, first[:, None])[:, 0]
    # fallback: the largest central box whose aspect ratio is clamped into `ratio`
    in_ratio = w / h
    if in_ratio < ratio[0]:
        fb_w, fb_h = 1.0, (w / ratio[0]) / h
    elif in_ratio > ratio[1]:
        fb_w, fb_h = (h * ratio[1]) / w, 1.0
    else:
        fb_w, fb_h = 1.0, 1.0
    cw = torch.where(any_fit, cw, torch.full_like(cw, fb_w))
    ch = torch.where(any_fit, ch, torch.full_like(ch, fb_h))
    # box centre in grid_sample's normalised coordinates [-1, 1]; uniform over positions
    # that keep the box inside the image (the fallback box is central)
    u = torch.rand(b, 2, generator=generator, device=dev) * 2 - 1
    cx = torch.where(any_fit, u[:, 0] * (1 - cw), torch.zeros_like(cw))
    cy = torch.where(any_fit, u[:, 1] * (1 - ch), torch.zeros_like(ch))
    flip = torch.where(torch.rand(b, generator=generator, device=dev) < flip_p, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=dev, dtype=x.dtype)  # (B, 2, 3): output grid -> input coords
    theta[:, 0, 0] = cw * flip
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = ch
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta, [b, x.shape[1], size, size], align_corners=False)  # (B, size, size, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _gray(x: torch.Tensor) -> torch.Tensor:
    # (B, 3, H, W) -> (B, 1, H, W)
    return (_LUMA[0] * x[:, 0] + _LUMA[1] * x[:, 1] + _LUMA[2] * x[:, 2]).unsqueeze(1)


def _blend(a: torch.Tensor, b: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """factor * a + (1 - factor) * b, clamped to [0, 1]; factor has shape (B,)."""
    f = factor.view(-1, 1, 1, 1)
    return (f * a + (1 - f) * b).clamp_(0.0, 1.0)


def _rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    # formulas of torchvision.transforms.functional_tensor._rgb2hsv, batched
    r, g, b = x.unbind(1)
    maxc = x.max(dim=1).values
    minc = x.min(dim=1).values
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_div = torch.where(eqc, ones, cr)
    rc = (maxc - r) / cr_div
    gc = (maxc - g) / cr_div
    bc = (maxc - b) / cr_div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = torch.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0)
    return torch.stack((h, s, maxc), dim=1)


def _hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    h, s, v = x.unbind(1)
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.to(torch.int64) % 6
    p = (v * (1.0 - s)).clamp(0.0, 1.0)
    q = (v * (1.0 - s * f)).clamp(0.0, 1.0)
    t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0)
    # the 6 sectors of the hue circle pick (r, g, b) from (v, q, p, t)
    r = torch.stack((v, q, p, p, t, v), dim=1)
    g = torch.stack((t, v, v, q, p, p), dim=1)
    b = torch.stack((p, p, t, v, v, q), dim=1)
    idx = i.unsqueeze(1)  # (B, 1, H, W)
    return torch.cat((r.gather(1, idx), g.gather(1, idx), b.gather(1, idx)), dim=1)


def _adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    hsv = _rgb_to_hsv(x)
    h = torch.remainder(hsv[:, 0] + shift.view(-1, 1, 1), 1.0)
    return _hsv_to_rgb(torch.stack((h, hsv[:, 1], hsv[:, 2]), dim=1))


def color_jitter(
    x: torch.Tensor,
    brightness: float,
    contrast: float,
    saturation: float,
    hue: float,
    p: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Random brightness, contrast, saturation and hue changes, each image with probability ``p``.

    The operations follow torchvision's ColorJitter (same factor ranges, same blend-and-clamp
    definitions, hue shifted in HSV). torchvision draws a fresh order of the four operations
    for every image; here one order is drawn per batch, so the batch stays one tensor program.

    x : float (B, 3, H, W) in [0, 1]. Returns the same shape, in [0, 1].
    """
    b = x.shape[0]
    dev = x.device
    apply = torch.rand(b, generator=generator, device=dev) < p
    fb = _uniform(b, 1 - brightness, 1 + brightness, generator, dev)
    fc = _uniform(b, 1 - contrast, 1 + contrast, generator, dev)
    fs = _uniform(b, 1 - saturation, 1 + saturation, generator, dev)
    fh = _uniform(b, -hue, hue, generator, dev)
    order = torch.randperm(4, generator=generator, device=dev).tolist()
    out = x
    for op in order:
        if op == 0 and brightness > 0:
            out = _blend(out, torch.zeros_like(out), fb)
        elif op == 1 and contrast > 0:
            mean = _gray(out).mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
            out = _blend(out, mean.expand_as(out), fc)
        elif op == 2 and saturation > 0:
            out = _blend(out, _gray(out).expand_as(out), fs)
        elif op == 3 and hue > 0:
            out = _adjust_hue(out, fh)
    return torch.where(apply.view(-1, 1, 1, 1), out, x)


def random_grayscale(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Replace each image by its luma (in all 3 channels) with probability ``p``."""
    apply = torch.rand(x.shape[0], generator=generator, device=x.device) < p
    return torch.where(apply.view(-1, 1, 1, 1), _gray(x).expand_as(x), x)


class ViewAugment:
    """One kind of view: uint8 batch -> augmented, normalised float batch.

    Parameters
    ----------
    config : ViewConfig
    mean, std : per-channel statistics the model input is normalised with (the same ones
        written to the model directory for inference).
    """

    def __init__(self, config: ViewConfig, mean: list[float] | tuple[float, ...], std: list[float] | tuple[float, ...]):
        if not isinstance(config, ViewConfig):
            raise ConfigError(f"The 'config' parameter of ViewAugment must be a ViewConfig. Got {config!r} instead.")
        for name, value in (("mean", mean), ("std", std)):
            if len(value) != 3 or not all(isinstance(v, numbers.Real) for v in value):
                raise ConfigError(f"The {name!r} parameter of ViewAugment must be 3 numbers (R, G, B). Got {value!r} instead.")
        if min(std) <= 0:
            raise ConfigError(f"The 'std' parameter of ViewAugment must be 3 positive numbers. Got {std!r} instead.")
        self.config = config
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """images: uint8 or float (B, 3, H, W) on the generator's device -> float32 (B, 3, s, s)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ConfigError(f"ViewAugment expects a batch of shape (B, 3, H, W); got {tuple(images.shape)}.")
        c = self.config
        x = to_float(images)
        x = random_resized_crop(x, c.size, c.scale, c.ratio, c.flip_p, generator)
        if c.jitter_p > 0:
            x = color_jitter(x, c.brightness, c.contrast, c.saturation, c.hue, c.jitter_p, generator)
        if c.grayscale_p > 0:
            x = random_grayscale(x, c.grayscale_p, generator)
        return normalize(x, self.mean, self.std)
