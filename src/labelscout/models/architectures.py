"""Network architectures that labelscout can build by name.

A model directory (see :mod:`labelscout.models.model_dir`) stores only an architecture
name, its keyword arguments and a state dict, so every architecture a saved model may
use must be constructible here from plain JSON-serialisable keyword arguments.

Every architecture returns an *embedding network*: ``forward(x)`` maps a float batch
``(B, 3, H, W)`` to ``(B, embedding_dim)`` and the module exposes ``embedding_dim``.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError

__all__ = ["ARCHITECTURES", "build_architecture", "CifarResNet", "register_architecture"]


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class CifarResNet(nn.Module):
    """ResNet for small inputs (3x3 stem, no max-pool), as used for CIFAR-sized images.

    ``width`` is the channel count of the first stage (64 is the classic ResNet-18 width);
    stages double it. ``blocks`` gives the number of basic blocks per stage
    ((2, 2, 2, 2) is ResNet-18, (1, 1, 1, 1) is ResNet-10). ``out_dim`` adds a linear map
    from the pooled features to a lower dimension (the shipped models use it to emit a
    compact embedding); ``None`` keeps the pooled features (8 * width dimensions).
    """

    def __init__(self, width: int = 64, blocks: tuple[int, ...] | list[int] = (2, 2, 2, 2), out_dim: int | None = None):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        layers = []
        c_in = width
        for stage, n_blocks in enumerate(blocks):
            c_out = width * 2**stage
            for i in range(n_blocks):
                layers.append(_BasicBlock(c_in, c_out, 2 if (i == 0 and stage > 0) else 1))
                c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.feature_dim = c_in
        self.out = nn.Linear(c_in, out_dim) if out_dim else nn.Identity()
        self.embedding_dim = out_dim or c_in

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # (B, 3, H, W) -> (B, feature_dim)
        x = self.layers(self.stem(x))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


class TorchvisionBackbone(nn.Module):
    """A torchvision classification model with its classifier removed (pooled features out)."""

    def __init__(self, name: str):
        super().__init__()
        import torchvision

        try:
            model = torchvision.models.get_model(name, weights=None)
        except ValueError as exc:
            raise ConfigError(
                f"torchvision has no model named {name!r}.",
                hint="List them with `python -c 'import torchvision; print(torchvision.models.list_models())'`.",
            ) from exc
        self.embedding_dim = _strip_classifier(model)
        self.net = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.net(x), 1)


def _strip_classifier(model: nn.Module) -> int:
    """Replace the final classification layer by identity; return the feature dimension."""
    for attr in ("fc", "classifier", "head", "heads"):
        head = getattr(model, attr, None)
        if head is None:
            continue
        if isinstance(head, nn.Linear):
            setattr(model, attr, nn.Identity())
            return head.in_features
        if isinstance(head, nn.Sequential):
            linears = [i for i, m in enumerate(head) if isinstance(m, nn.Linear)]
            if linears:
                last = linears[-1]
                dim = head[last].in_features
                head[last] = nn.Identity()
                return dim
    raise ConfigError(f"Cannot find the classifier layer of {type(model).__name__} to remove.")


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "cifar_resnet": CifarResNet,
    "torchvision": TorchvisionBackbone,
}


def register_architecture(name: str, factory: Callable[..., nn.Module]) -> None:
    """Make ``factory`` constructible by name from a model directory."""
    ARCHITECTURES[name] = factory


def build_architecture(name: str, /, **kwargs) -> nn.Module:
    """Build the embedding network ``name`` with keyword arguments ``kwargs``."""
    try:
        factory = ARCHITECTURES[name]
    except KeyError:
        raise ConfigError(
            f"Unknown architecture {name!r}.", hint=f"Known architectures: {', '.join(sorted(ARCHITECTURES))}."
        ) from None
    return factory(**kwargs)


class TimmBackbone(nn.Module):
    """A timm model without its classifier (pooled features out); weights come from the state dict."""

    def __init__(self, name: str):
        super().__init__()
        try:
            import timm
        except ImportError:
            raise ConfigError("timm models need the optional 'timm' package.", hint="pip install 'labelscout[hub]'") from None
        self.net = timm.create_model(name, pretrained=False, num_classes=0)
        self.embedding_dim = int(self.net.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def register_timm_architecture() -> None:
    """Make "timm" buildable by name (only on demand: timm is an optional extra)."""
    ARCHITECTURES.setdefault("timm", TimmBackbone)
