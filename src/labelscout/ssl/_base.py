"""What every self-supervised method provides to the trainer.

A method owns the embedding network (``backbone``, the part that is exported), whatever
heads its loss needs, and the views it trains on. The trainer only samples index pairs,
asks the method for views of the two images of each pair, and minimises ``loss``; so a
new method is one module with one subclass, and a new way of choosing positives (for
example temporally close video frames) is a new pair sampler, not a new method.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn as nn

__all__ = ["SSLMethod"]


class SSLMethod(nn.Module):
    """Base class of the methods in :mod:`labelscout.ssl`.

    Subclasses set ``name``, build ``backbone`` (input (B, 3, H, W) -> (B, D)) and implement
    :meth:`make_views` and :meth:`loss`.
    """

    name: ClassVar[str] = ""
    #: learning-rate and optimizer defaults that work for this method at batch size 256
    default_optimizer: ClassVar[str] = "sgd"
    default_lr: ClassVar[float] = 0.06
    default_weight_decay: ClassVar[float] = 5e-4

    backbone: nn.Module

    def make_views(self, images_a: torch.Tensor, images_b: torch.Tensor, generator: torch.Generator) -> list[torch.Tensor]:
        """Augmented, normalised float views of a batch of pairs (uint8 (B, 3, H, W) each)."""
        raise NotImplementedError

    def loss(self, views: list[torch.Tensor], step: int) -> torch.Tensor:
        """Scalar training loss for the views of one batch (``step`` counts optimizer steps from 0)."""
        raise NotImplementedError

    def after_backward(self, step: int) -> None:
        """Hook between ``backward()`` and the optimizer step (e.g. freezing some gradients)."""

    def hparams(self) -> dict[str, Any]:
        """The method's own hyper-parameters, recorded in train.json and the model folder."""
        return {}
