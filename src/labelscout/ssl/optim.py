"""Optimizers and the learning-rate schedule of self-supervised training.

The schedule is a pure function of the step number (linear warm-up, then cosine decay),
so a resumed run needs no scheduler state to continue exactly where it stopped.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch
import torch.nn as nn

from ..errors import ConfigError

__all__ = ["LARS", "build_optimizer", "lr_at", "OPTIMIZERS"]

OPTIMIZERS = ("sgd", "lars", "adamw")


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise adaptive rate scaling (You et al. 2017), as in SimCLR.

    For parameters in groups with ``lars=True`` the update is scaled by the trust ratio
    ``eta * ||w|| / ||g + wd * w||``; groups with ``lars=False`` (biases and BatchNorm, as
    in SimCLR) take plain SGD steps without weight decay.
    """

    def __init__(self, params: Iterable, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, eta: float = 0.001):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, lars=True)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["lars"]:
                    if group["weight_decay"]:
                        g = g.add(p, alpha=group["weight_decay"])
                    w_norm = torch.linalg.vector_norm(p)
                    g_norm = torch.linalg.vector_norm(g)
                    # trust ratio 1 where either norm is 0 (fresh zero-initialised layers)
                    trust = torch.where((w_norm > 0) & (g_norm > 0), group["eta"] * w_norm / g_norm, torch.ones_like(w_norm))
                    g = g * trust
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = torch.clone(g).detach()
                else:
                    buf.mul_(group["momentum"]).add_(g)
                p.add_(buf, alpha=-group["lr"])
        return loss


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    # Weight decay on biases and BatchNorm scales only shrinks them towards a degenerate
    # network; the usual practice (and SimCLR's) exempts all 1-D parameters.
    decay, no_decay = [], []
    for p in model.parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay, "lars": True},
        {"params": no_decay, "weight_decay": 0.0, "lars": False},
    ]


def build_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    groups = _param_groups(model, weight_decay)
    if name == "sgd":
        for g in groups:
            g.pop("lars")
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if name == "lars":
        return LARS(groups, lr=lr, momentum=momentum)
    if name == "adamw":
        for g in groups:
            g.pop("lars")
        return torch.optim.AdamW(groups, lr=lr)
    raise ConfigError(f"The 'optimizer' parameter must be one of {set(OPTIMIZERS)}. Got {name!r} instead.")


def lr_at(step: int, total_steps: int, warmup_steps: int, base_lr: float, final_fraction: float = 0.0) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up to ``base_lr``, then cosine decay
    to ``final_fraction * base_lr`` at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    t = min(1.0, (step - warmup_steps) / span)
    final = base_lr * final_fraction
    return final + (base_lr - final) * 0.5 * (1.0 + math.cos(math.pi * t))
