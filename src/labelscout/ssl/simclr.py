"""SimCLR: contrast two augmented views of each image against all other images in the batch.

Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations"
(ICML 2020). The backbone's pooled features go through a projection head (Linear - BN -
ReLU - Linear); the NT-Xent loss pulls the projections of the two views of an image
together and pushes the 2B - 2 other projections in the batch away. The backbone
features (before the head) are the embedding, as in the paper's evaluations.
"""
from __future__ import annotations

import numbers
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._validation import Interval, validate_params
from ..errors import ConfigError, InputError
from ._base import SSLMethod
from .views import ViewAugment, ViewConfig

__all__ = ["ProjectionHead", "nt_xent_loss", "SimCLR"]


class ProjectionHead(nn.Module):
    """Linear - BatchNorm - ReLU - Linear (SimCLR v2's head with one hidden layer)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def nt_xent_loss(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """Normalised-temperature cross-entropy (NT-Xent) of a batch of positive pairs.

    z_a, z_b : (B, D) projections; row i of ``z_a`` and row i of ``z_b`` are a positive pair.
    Each of the 2B projections is classified among the other 2B - 1 by cosine similarity
    divided by ``temperature``; the loss is the mean cross-entropy of picking its partner.
    Computed in float32 whatever the autocast dtype (the softmax over 2B - 1 logits at a low
    temperature loses too much in bfloat16).
    """
    if z_a.shape != z_b.shape or z_a.ndim != 2:
        raise InputError(f"nt_xent_loss needs two (B, D) tensors of the same shape; got {tuple(z_a.shape)} and {tuple(z_b.shape)}.")
    if not temperature > 0:
        raise ConfigError(f"The 'temperature' parameter of nt_xent_loss must be > 0. Got {temperature!r} instead.")
    b = z_a.shape[0]
    z = F.normalize(torch.cat([z_a, z_b]).float(), dim=1)  # (2B, D)
    logits = z @ z.T / temperature  # (2B, 2B)
    # a sample is never its own negative (nor its own positive)
    self_mask = torch.eye(2 * b, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    idx = torch.arange(b, device=z.device)
    targets = torch.cat([idx + b, idx])  # partner of i is i + B, of i + B is i
    return F.cross_entropy(logits, targets)


class SimCLR(SSLMethod):
    """SimCLR around ``backbone`` (an embedding network exposing ``embedding_dim``).

    Parameters
    ----------
    backbone : nn.Module mapping (B, 3, H, W) to (B, D).
    view : ViewConfig of both views (SimCLR's CIFAR recipe by default).
    mean, std : input normalisation (written to the model folder for inference).
    temperature : NT-Xent temperature; 0.1-0.5 work, 0.2 is a good default for CIFAR-sized data.
    proj_hidden_dim, proj_dim : widths of the projection head.
    """

    name = "simclr"
    default_optimizer = "sgd"
    default_lr = 0.06
    default_weight_decay = 5e-4

    _parameter_constraints = {
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "proj_hidden_dim": [Interval(numbers.Integral, 1, None)],
        "proj_dim": [Interval(numbers.Integral, 1, None)],
    }

    def __init__(
        self,
        backbone: nn.Module,
        view: ViewConfig,
        mean: list[float],
        std: list[float],
        *,
        temperature: float = 0.2,
        proj_hidden_dim: int = 512,
        proj_dim: int = 128,
    ):
        super().__init__()
        validate_params(
            "SimCLR",
            {"temperature": temperature, "proj_hidden_dim": proj_hidden_dim, "proj_dim": proj_dim},
            self._parameter_constraints,
        )
        self.backbone = backbone
        self.head = ProjectionHead(backbone.embedding_dim, proj_hidden_dim, proj_dim)
        self.augment = ViewAugment(view, mean, std)
        self.temperature = float(temperature)
        self.proj_hidden_dim = proj_hidden_dim
        self.proj_dim = proj_dim

    def make_views(self, images_a: torch.Tensor, images_b: torch.Tensor, generator: torch.Generator) -> list[torch.Tensor]:
        return [self.augment(images_a, generator), self.augment(images_b, generator)]

    def loss(self, views: list[torch.Tensor], step: int) -> torch.Tensor:
        b = views[0].shape[0]
        # one forward over both views: (2B, 3, H, W) -> (2B, proj_dim)
        z = self.head(self.backbone(torch.cat(views)))
        return nt_xent_loss(z[:b], z[b:], self.temperature)

    def hparams(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "proj_hidden_dim": self.proj_hidden_dim, "proj_dim": self.proj_dim}
