"""Rows prepared so that plain L2 distance realises a metric: the one place vectors are
unit-normalised (strategies, detectors, spaces and the report all use it)."""
from __future__ import annotations

import numpy as np

__all__ = ["unit_rows", "prepare_metric"]


def unit_rows(X: np.ndarray, block: int = 65536) -> np.ndarray:
    """Rows scaled to unit L2 norm as a new float32 array; a zero row has no direction and
    stays at the origin. Works in blocks, so a memory-mapped float16 matrix is never
    converted whole to a wider type."""
    out = np.empty(X.shape, dtype=np.float32)
    for start in range(0, X.shape[0], block):
        chunk = np.asarray(X[start:start + block], dtype=np.float32)
        norms = np.linalg.norm(chunk, axis=1, keepdims=True)
        out[start:start + block] = chunk / np.where(norms > 0, norms, 1.0)
    return out


def prepare_metric(X: np.ndarray, metric: str) -> np.ndarray:
    """Float32 X in which L2 distance realises ``metric``: "l2" (as it is) or "cosine" (unit rows)."""
    if metric == "cosine":
        return unit_rows(X)
    return np.asarray(X, dtype=np.float32)
