"""SwAV: predict the cluster assignment of one view from another view ("swapped prediction").

Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster
Assignments" (NeurIPS 2020). Projections are scored against K learnable unit-norm
prototypes; the Sinkhorn-Knopp algorithm turns the scores of each global view into soft
assignments (codes) that use all prototypes equally across the batch, and every other view
is trained to predict those codes. Multi-crop (extra small crops that are only predicted
from, never assigned) is optional. There is no queue: with batches of 256 or more on
CIFAR-sized data the batch alone spreads over the prototypes (the paper adds a queue only
for small batches).
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
from .simclr import ProjectionHead
from .views import ViewAugment, ViewConfig

__all__ = ["sinkhorn_knopp", "swav_loss", "SwAV"]


@torch.no_grad()
def sinkhorn_knopp(scores: torch.Tensor, epsilon: float = 0.05, iterations: int = 3) -> torch.Tensor:
    """Soft, equipartitioned assignment of B samples to K prototypes.

    scores : (B, K) similarities of samples to prototypes.
    Returns codes Q of shape (B, K): each row sums to 1 (a distribution over prototypes)
    and, as ``iterations`` grows, each column sums to B / K (every prototype gets an equal
    share of the batch). ``Q`` is the entropic optimal transport plan of ``exp(scores /
    epsilon)`` between the uniform distributions, computed by alternating column and row
    normalisation; the last step normalises rows, so the row sums are exact.
    """
    if scores.ndim != 2:
        raise ConfigError(f"sinkhorn_knopp needs scores of shape (B, K); got {tuple(scores.shape)}.")
    if not epsilon > 0:
        raise ConfigError(f"The 'epsilon' parameter of sinkhorn_knopp must be > 0. Got {epsilon!r} instead.")
    if not isinstance(iterations, int) or iterations < 1:
        raise ConfigError(f"The 'iterations' parameter of sinkhorn_knopp must be an int >= 1. Got {iterations!r} instead.")
    s = scores.float() / epsilon
    # subtracting the global max changes nothing after normalisation but keeps exp finite
    q = torch.exp(s - s.max())  # (B, K)
    q = q / q.sum()
    b, k = q.shape
    for _ in range(iterations):
        q = q / q.sum(dim=0, keepdim=True) / k  # each prototype (column) gets mass 1 / K
        q = q / q.sum(dim=1, keepdim=True) / b  # each sample (row) gets mass 1 / B
    return q * b  # rows sum to 1


def swav_loss(
    scores: list[torch.Tensor],
    n_assigned: int = 2,
    temperature: float = 0.1,
    epsilon: float = 0.05,
    iterations: int = 3,
) -> torch.Tensor:
    """Swapped-prediction loss over the prototype scores of all views of a batch.

    scores : one (B, K) tensor per view; the first ``n_assigned`` views (the global crops)
        get Sinkhorn codes; every other view predicts each of those codes.
    Returns the mean over assigned views i and views v != i of the cross-entropy between
    ``codes_i`` and ``softmax(scores_v / temperature)``.
    """
    if not 1 <= n_assigned <= len(scores) or len(scores) < 2:
        raise ConfigError(
            f"swav_loss needs at least 2 views and 1 <= n_assigned <= n_views; got {len(scores)} views, n_assigned={n_assigned}."
        )
    log_p = [F.log_softmax(s.float() / temperature, dim=1) for s in scores]  # each (B, K)
    total = scores[0].new_zeros((), dtype=torch.float32)
    terms = 0
    for i in range(n_assigned):
        q = sinkhorn_knopp(scores[i].detach(), epsilon, iterations)
        for v, lp in enumerate(log_p):
            if v == i:
                continue
            total = total - (q * lp).sum(dim=1).mean()
            terms += 1
    return total / terms


class SwAV(SSLMethod):
    """SwAV around ``backbone``.

    Parameters
    ----------
    backbone : nn.Module mapping (B, 3, H, W) to (B, D).
    view : ViewConfig of the two global views.
    mean, std : input normalisation.
    n_prototypes : K; about 10x the number of classes you expect works (the paper uses 3000
        for ImageNet; 100-300 for CIFAR-sized collections).
    temperature : softmax temperature of the predictions.
    epsilon, sinkhorn_iterations : entropy regularisation and iterations of Sinkhorn-Knopp.
    proj_hidden_dim, proj_dim : projection head widths.
    n_local_crops, local_size, local_scale : multi-crop; 0 local crops turns it off.
    freeze_prototypes_steps : the prototypes are not updated for this many first steps
        (the paper's trick against an early collapse onto a few prototypes).
    """

    name = "swav"
    default_optimizer = "sgd"
    default_lr = 0.06
    default_weight_decay = 1e-6

    _parameter_constraints = {
        "n_prototypes": [Interval(numbers.Integral, 2, None)],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "sinkhorn_iterations": [Interval(numbers.Integral, 1, None)],
        "proj_hidden_dim": [Interval(numbers.Integral, 1, None)],
        "proj_dim": [Interval(numbers.Integral, 1, None)],
        "n_local_crops": [Interval(numbers.Integral, 0, None)],
        "local_size": [Interval(numbers.Integral, 4, None)],
        "freeze_prototypes_steps": [Interval(numbers.Integral, 0, None)],
    }

    def __init__(
        self,
        backbone: nn.Module,
        view: ViewConfig,
        mean: list[float],
        std: list[float],
        *,
        n_prototypes: int = 100,
        temperature: float = 0.1,
        epsilon: float = 0.05,
        sinkhorn_iterations: int = 3,
        proj_hidden_dim: int = 512,
        proj_dim: int = 128,
        n_local_crops: int = 0,
        local_size: int = 16,
        local_scale: tuple[float, float] = (0.05, 0.3),
        freeze_prototypes_steps: int = 300,
    ):
        super().__init__()
        params = dict(n_prototypes=n_prototypes, temperature=temperature, epsilon=epsilon,
                      sinkhorn_iterations=sinkhorn_iterations, proj_hidden_dim=proj_hidden_dim, proj_dim=proj_dim,
                      n_local_crops=n_local_crops, local_size=local_size, freeze_prototypes_steps=freeze_prototypes_steps)
        validate_params("SwAV", params, self._parameter_constraints)
        self.backbone = backbone
        self.head = ProjectionHead(backbone.embedding_dim, proj_hidden_dim, proj_dim)
        self.prototypes = nn.Linear(proj_dim, n_prototypes, bias=False)
        self.augment = ViewAugment(view, mean, std)
        local_view = ViewConfig(**{**view.__dict__, "size": local_size, "scale": tuple(local_scale)})
        self.local_augment = ViewAugment(local_view, mean, std)
        self.n_prototypes = n_prototypes
        self.temperature = float(temperature)
        self.epsilon = float(epsilon)
        self.sinkhorn_iterations = sinkhorn_iterations
        self.proj_hidden_dim = proj_hidden_dim
        self.proj_dim = proj_dim
        self.n_local_crops = n_local_crops
        self.local_size = local_size
        self.local_scale = tuple(local_scale)
        self.freeze_prototypes_steps = freeze_prototypes_steps

    def make_views(self, images_a: torch.Tensor, images_b: torch.Tensor, generator: torch.Generator) -> list[torch.Tensor]:
        views = [self.augment(images_a, generator), self.augment(images_b, generator)]
        for j in range(self.n_local_crops):
            # local crops alternate between the two images of each pair
            views.append(self.local_augment(images_a if j % 2 == 0 else images_b, generator))
        return views

    def _scores(self, x: torch.Tensor) -> torch.Tensor:
        z = F.normalize(self.head(self.backbone(x)), dim=1)  # (B, proj_dim), unit norm
        return self.prototypes(z)  # (B, K) cosine similarities to the prototypes

    def loss(self, views: list[torch.Tensor], step: int) -> torch.Tensor:
        with torch.no_grad():
            # prototypes live on the unit sphere, so scores are cosine similarities
            w = self.prototypes.weight
            w.copy_(F.normalize(w, dim=1))
        b = views[0].shape[0]
        # views of the same size share one forward pass
        global_scores = self._scores(torch.cat(views[:2]))  # (2B, K)
        scores = [global_scores[:b], global_scores[b:]]
        if len(views) > 2:
            local_scores = self._scores(torch.cat(views[2:]))  # (n_local * B, K)
            scores += list(local_scores.split(b))
        return swav_loss(scores, 2, self.temperature, self.epsilon, self.sinkhorn_iterations)

    def after_backward(self, step: int) -> None:
        if step < self.freeze_prototypes_steps and self.prototypes.weight.grad is not None:
            self.prototypes.weight.grad = None

    def hparams(self) -> dict[str, Any]:
        return {
            "n_prototypes": self.n_prototypes, "temperature": self.temperature, "epsilon": self.epsilon,
            "sinkhorn_iterations": self.sinkhorn_iterations, "proj_hidden_dim": self.proj_hidden_dim,
            "proj_dim": self.proj_dim, "n_local_crops": self.n_local_crops, "local_size": self.local_size,
            "local_scale": list(self.local_scale), "freeze_prototypes_steps": self.freeze_prototypes_steps,
        }
