"""A convolutional autoencoder with a small bottleneck; its encoder is the embedding network.

The encoder is a CifarResNet whose ``out`` layer maps the pooled features to the
bottleneck (the embedding); the decoder maps the bottleneck back to an image through
transposed convolutions. It learns what varies most in pixels (colour, layout), which is
a weaker signal for semantic similarity than the contrastive methods, but it needs no
augmentations that assume which changes do not matter, and it is the simplest baseline.
Views are mild (crop and flip, no colour changes), and the target is the view itself.
"""
from __future__ import annotations

import numbers
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._validation import Interval, validate_params
from ..errors import ConfigError
from ._base import SSLMethod
from .views import ViewAugment, ViewConfig

__all__ = ["ConvDecoder", "AutoEncoder"]


class ConvDecoder(nn.Module):
    """(B, D) bottleneck -> (B, 3, size, size) image, by 3 stride-2 transposed convolutions.

    ``size`` must be divisible by 8 (the decoder starts from a size/8 feature map).
    """

    def __init__(self, in_dim: int, size: int, width: int = 32):
        super().__init__()
        if size % 8:
            raise ConfigError(f"The 'size' parameter of ConvDecoder must be divisible by 8. Got {size!r} instead.")
        self.start = size // 8
        self.c0 = 4 * width
        self.fc = nn.Linear(in_dim, self.c0 * self.start * self.start)

        def up(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))

        self.net = nn.Sequential(
            up(self.c0, 2 * width),
            up(2 * width, width),
            up(width, width),
            nn.Conv2d(width, 3, 3, 1, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc(z))
        x = x.view(-1, self.c0, self.start, self.start)  # (B, 4w, s/8, s/8)
        return self.net(x)  # (B, 3, s, s)


class AutoEncoder(SSLMethod):
    """Reconstruct each (mildly augmented) view from its bottleneck embedding.

    Parameters
    ----------
    backbone : encoder mapping (B, 3, H, W) to (B, bottleneck); its ``embedding_dim`` is the
        bottleneck width (build it with a small ``out_dim``).
    view : ViewConfig of the input views (crop + flip by default).
    mean, std : input normalisation; the reconstruction target is the normalised view.
    decoder_width : channel width of the decoder.
    """

    name = "autoencoder"
    default_optimizer = "adamw"
    default_lr = 2e-3
    default_weight_decay = 1e-4

    _parameter_constraints = {"decoder_width": [Interval(numbers.Integral, 1, None)]}

    def __init__(self, backbone: nn.Module, view: ViewConfig, mean: list[float], std: list[float], *, decoder_width: int = 32):
        super().__init__()
        validate_params("AutoEncoder", {"decoder_width": decoder_width}, self._parameter_constraints)
        self.backbone = backbone
        self.decoder = ConvDecoder(backbone.embedding_dim, view.size, decoder_width)
        self.augment = ViewAugment(view, mean, std)
        self.decoder_width = decoder_width

    def make_views(self, images_a: torch.Tensor, images_b: torch.Tensor, generator: torch.Generator) -> list[torch.Tensor]:
        # one view per pair is enough: the target is the input itself
        return [self.augment(images_a, generator)]

    def loss(self, views: list[torch.Tensor], step: int) -> torch.Tensor:
        x = views[0]
        recon = self.decoder(self.backbone(x))
        return F.mse_loss(recon.float(), x.float())

    def hparams(self) -> dict[str, Any]:
        return {"decoder_width": self.decoder_width, "bottleneck": int(self.backbone.embedding_dim)}
