"""Reducing an ImageNet backbone's pooled features to a compact embedding: square root, L2, PCA whitening.

The pooled 1280-d EfficientNet-Lite features are non-negative (ReLU6) and heavy-tailed; a
few large channels dominate cosine similarity. The reduction (``benchmarks/knn_lite.py``
measured it against plain features, PCA without whitening, a random projection and a
data-free projection on the ImageNet classifier's singular vectors; docs/models.md has the
table) is

    x -> sqrt(x) -> x / |x| -> (x - mean) @ matrix,   matrix = top-d principal axes / their std

a Hellinger-style square root that evens out the channels, then PCA whitening to ``d``
dimensions, which gives every kept direction the same weight. It beats the 1280-d features
in kNN accuracy at 128 dimensions.

The mean and matrix are fitted once (``benchmarks/fit_reduction.py``) and shipped in the
package (``models/weights/reductions/``), so every collection gets the same vector for the
same image: the content cache and selections across runs depend on that.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..errors import ModelWeightsMissing

__all__ = ["SqrtWhitening", "fit_sqrt_whitening", "REDUCTIONS_DIR", "load_reduction", "save_reduction"]

REDUCTIONS_DIR = Path(__file__).parent / "weights" / "reductions"


class SqrtWhitening(nn.Module):
    """(B, D_in) non-negative features -> (B, D_out): sqrt, L2-normalise, subtract ``mean``, times ``matrix``."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("matrix", torch.zeros(in_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.sqrt(x.clamp_min(0))
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return (x - self.mean) @ self.matrix


def _sqrt_l2(features: np.ndarray) -> np.ndarray:
    x = np.sqrt(np.clip(features.astype(np.float64), 0, None))
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fit_sqrt_whitening(features: np.ndarray, dim: int, power: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Fit on ``features`` of shape (n_samples, D_in): returns (mean (D_in,), matrix (D_in, dim)), float32.

    ``power`` < 1 whitens partly: each axis is divided by its standard deviation to that
    power (0: plain PCA, 1: full whitening), which amplifies the low-variance axes, where
    small pixel changes such as JPEG noise live, less."""
    if features.ndim != 2 or not 1 <= dim <= min(features.shape):
        raise ValueError(f"need (n_samples, n_features) features with dim <= both; got shape {features.shape}, dim {dim}.")
    x = _sqrt_l2(features)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    std = s[:dim] / np.sqrt(len(x))  # the standard deviation along each kept axis
    # fix each axis's sign (largest |component| positive) so refits give the same matrix
    signs = np.sign(vt[:dim][np.arange(dim), np.abs(vt[:dim]).argmax(axis=1)])
    matrix = (vt[:dim] * signs[:, None]).T / std**power
    return mean.astype(np.float32), matrix.astype(np.float32)


def save_reduction(name: str, mean: np.ndarray, matrix: np.ndarray, provenance: dict[str, Any], folder: Path = REDUCTIONS_DIR) -> Path:
    from safetensors.numpy import save_file

    from ..runs.atomic import atomic_path, atomic_write_json

    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / f"{name}.safetensors") as tmp:
        save_file({"mean": np.ascontiguousarray(mean), "matrix": np.ascontiguousarray(matrix)}, str(tmp))
    atomic_write_json(folder / f"{name}.json", provenance)
    return folder / f"{name}.safetensors"


def load_reduction(name: str, folder: Path = REDUCTIONS_DIR) -> tuple[SqrtWhitening, dict[str, Any]]:
    """The shipped reduction ``name`` as a module, and its provenance (what it was fitted on, how)."""
    from safetensors.torch import load_file

    path = folder / f"{name}.safetensors"
    if not path.is_file():
        raise ModelWeightsMissing(f"The fitted reduction {path} is not in this installation.",
                                  hint="Reinstall labelscout, or refit it with benchmarks/fit_reduction.py.")
    state = load_file(str(path))
    module = SqrtWhitening(*state["matrix"].shape)
    module.load_state_dict(state)
    meta_path = folder / f"{name}.json"
    return module, json.loads(meta_path.read_text()) if meta_path.is_file() else {}
