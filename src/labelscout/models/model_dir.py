"""The on-disk format of an embedding model: a folder with ``model.json`` + ``model.safetensors``.

``labelscout train`` writes one, the built-in models ship as one (inside the package), and
``--model PATH`` loads one. ``model.json`` holds everything needed to rebuild the network
and its preprocessing:

```
{"format": "labelscout-model/1", "name": "...", "architecture": "cifar_resnet",
 "arch_kwargs": {...}, "input_size": 32, "resize": "shorter_side_center_crop",
 "mean": [r, g, b], "std": [r, g, b], "embedding_dim": 128, "training": {...}}
```
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..errors import ConfigError, ModelWeightsMissing
from .architectures import build_architecture

__all__ = ["ModelSpec", "save_model_dir", "load_model_dir", "is_model_dir", "MODEL_FORMAT"]

MODEL_FORMAT = "labelscout-model/1"
WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"


@dataclass
class ModelSpec:
    """What is needed to rebuild an embedding model and feed it images."""

    name: str
    architecture: str
    arch_kwargs: dict[str, Any]
    input_size: int
    mean: list[float]
    std: list[float]
    embedding_dim: int
    resize: str = "shorter_side_center_crop"
    training: dict[str, Any] = field(default_factory=dict)
    # thumbnail rule and filter (see labelscout.embed.preprocess); None: one size, bilinear
    input_policy: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "name": self.name,
            "architecture": self.architecture,
            "arch_kwargs": self.arch_kwargs,
            "input_size": self.input_size,
            "resize": self.resize,
            "mean": list(self.mean),
            "std": list(self.std),
            "embedding_dim": self.embedding_dim,
            "training": self.training,
            **({"input_policy": self.input_policy} if self.input_policy else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ModelSpec":
        if data.get("format") != MODEL_FORMAT:
            raise ConfigError(f"Unsupported model format {data.get('format')!r}; expected {MODEL_FORMAT!r}.")
        return cls(
            name=data["name"],
            architecture=data["architecture"],
            arch_kwargs=dict(data.get("arch_kwargs", {})),
            input_size=int(data["input_size"]),
            mean=[float(v) for v in data["mean"]],
            std=[float(v) for v in data["std"]],
            embedding_dim=int(data["embedding_dim"]),
            resize=data.get("resize", "shorter_side_center_crop"),
            training=dict(data.get("training", {})),
            input_policy=dict(data["input_policy"]) if data.get("input_policy") else None,
        )


def is_model_dir(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / META_FILE).is_file() and (p / WEIGHTS_FILE).is_file()


def save_model_dir(path: str | Path, model: nn.Module, spec: ModelSpec, dtype: torch.dtype | None = None) -> Path:
    """Write ``model``'s state dict (optionally cast to ``dtype``, e.g. fp16) and ``spec`` atomically."""
    from safetensors.torch import save_file

    from ..runs.atomic import atomic_path, atomic_write_json

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        state[k] = v
    with atomic_path(path / WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp))
    atomic_write_json(path / META_FILE, spec.to_json())
    return path


def load_model_dir(path: str | Path) -> tuple[nn.Module, ModelSpec, str]:
    """Load a model directory; return (module in eval mode, spec, weights sha256)."""
    from safetensors.torch import load_file

    path = Path(path)
    if not is_model_dir(path):
        raise ModelWeightsMissing(
            f"{path} is not a labelscout model directory (needs {META_FILE} and {WEIGHTS_FILE}).",
            hint="Pass a folder written by `labelscout train`, or a checkpoint file with --arch.",
        )
    spec = ModelSpec.from_json(json.loads((path / META_FILE).read_text()))
    weights = path / WEIGHTS_FILE
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    model = build_architecture(spec.architecture, **spec.arch_kwargs)
    state = load_file(str(weights))
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, spec, digest
