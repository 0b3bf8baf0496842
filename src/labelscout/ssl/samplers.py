"""Pair samplers: which images form the positive pairs of a batch, and which share a batch.

The trainer asks a sampler for each epoch's batches of index pairs ``(a, b)``: image
``a[i]`` and image ``b[i]`` are positives (two views of them are pulled together); all
other pairs in the batch serve as negatives (for contrastive methods) or as the batch the
assignment is balanced over (SwAV). A sampler is a deterministic function of the epoch
and the generator it is given, which is what makes training resumable exactly.

:class:`InstancePairSampler` is instance discrimination on still images (``a == b``: two
augmentations of the same image). A temporal sampler for video plugs in here with
positives = frames close in time and batches drawn from frames far apart, without any
change to the methods or the trainer.
"""
from __future__ import annotations

from typing import Any, Iterator, Protocol, runtime_checkable

import torch

from ..errors import ConfigError, InputError

__all__ = ["PairSampler", "InstancePairSampler"]


@runtime_checkable
class PairSampler(Protocol):
    def num_batches(self) -> int:
        """Batches per epoch."""

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Index pairs of each batch of ``epoch``: two int64 tensors of shape (batch_size,)."""

    def describe(self) -> dict[str, Any]:
        """What determines the batches (recorded, and compared when a run resumes)."""


class InstancePairSampler:
    """Every image once per epoch in a random order; each positive pair is one image with itself.

    The last incomplete batch is dropped: a contrastive loss over a handful of samples is
    mostly noise, and BatchNorm cannot train on a batch of one.
    """

    def __init__(self, n_samples: int, batch_size: int):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 2:
            raise ConfigError(f"The 'batch_size' parameter of InstancePairSampler must be an int >= 2. Got {batch_size!r} instead.")
        if n_samples < batch_size:
            raise InputError(
                f"batch_size {batch_size} is larger than the {n_samples} training images, so no full batch can be formed.",
                hint=f"Use --batch-size {max(2, n_samples)} or less, or train on more images.",
            )
        self.n_samples = int(n_samples)
        self.batch_size = batch_size

    def num_batches(self) -> int:
        return self.n_samples // self.batch_size

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(self.n_samples, generator=generator)
        for i in range(self.num_batches()):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield idx, idx

    def describe(self) -> dict[str, Any]:
        return {"sampler": "instance", "n_samples": self.n_samples, "batch_size": self.batch_size}
