"""Exact greedy farthest-point (k-center) sampling: one entry point, three backends.

* ``numba`` (CPU default): parallel passes over an int8 copy of X with a rigorous
  distance bound while the centres are few, then triangle-inequality pruning; float64
  distances where the bound cannot decide, bit-identical to the slow reference in
  :mod:`labelscout.kernels._reference`; cost per pick falls as k grows.
* ``torch`` (default when CUDA is available): one blockwise ``||x||^2 - 2 x.c + ||c||^2``
  pass per pick on the device, float32 or float16 storage with float32 accumulation, no
  host synchronisation per pick.
* ``numpy``: the vectorised baseline (the same blockwise pass with BLAS), kept as the
  yardstick the benchmarks compare against.

The float32 expansion used by ``numpy`` and ``torch`` loses digits to cancellation, so
where two candidates are within ~1e-6 (relative) of each other those backends may order
them differently from the reference; the covering radius agrees to that tolerance.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..errors import ConfigError, InputError
from .._validation import nonfinite_rows

__all__ = ["farthest_point_sampling", "min_sq_dist_to_centres", "BACKENDS"]

BACKENDS = ("auto", "numpy", "numba", "torch")
STORAGE = ("float32", "float16")


def _sq_norms(X: np.ndarray, block: int) -> np.ndarray:
    out = np.empty(X.shape[0], dtype=np.float32)
    for s in range(0, X.shape[0], block):
        xb = np.asarray(X[s : s + block], dtype=np.float32)
        out[s : s + block] = np.einsum("ij,ij->i", xb, xb)
    return out


def min_sq_dist_to_centres(X: np.ndarray, centres: np.ndarray, x_sq: np.ndarray | None = None, block: int = 16384) -> np.ndarray:
    """Squared L2 distance of every row of X to its nearest row of ``centres`` (blockwise)."""
    X = np.asarray(X, dtype=np.float32)
    C = np.asarray(centres, dtype=np.float32)
    x_sq = _sq_norms(X, block) if x_sq is None else x_sq
    c_sq = np.einsum("ij,ij->i", C, C)
    out = np.full(X.shape[0], np.inf, dtype=np.float32)
    for cs in range(0, C.shape[0], 4096):
        cb, cb_sq = C[cs : cs + 4096], c_sq[cs : cs + 4096]
        for s in range(0, X.shape[0], block):
            d = x_sq[s : s + block, None] - 2.0 * (X[s : s + block] @ cb.T) + cb_sq[None, :]
            np.minimum(out[s : s + block], d.min(axis=1), out=out[s : s + block])
    np.maximum(out, 0.0, out=out)
    return out


def farthest_point_sampling(
    X: np.ndarray,
    n: int,
    *,
    initial: np.ndarray | None = None,
    first: int = 0,
    stop_radius: float | None = None,
    block: int | None = None,
    backend: str = "auto",
    device: str = "auto",
    storage: str = "float32",
    return_radius: bool = False,
):
    """Pick ``n`` rows of X (shape (n_samples, n_features)) greedily, each the farthest from all centres so far.

    ``initial``: indices of existing centres (already-labeled samples), never picked; when
    empty, row ``first`` is the first pick. Ties go to the lowest index. Returns (picks in
    order, distance of each pick to its nearest earlier centre; ``inf`` for a first pick with
    no earlier centre), plus the covering radius after the picks when ``return_radius``.
    With ``stop_radius``, stops early once the covering radius (the largest distance of any
    point to its nearest centre) is ``stop_radius`` or below; fewer than n picks also come
    back when every point is a centre.

    ``backend``: "auto" (torch when CUDA is available, else numba), "numba", "torch" or
    "numpy". ``device`` and ``storage`` ("float32" / "float16") apply to torch only.
    ``block``: rows per blockwise pass (numpy: 65536; torch: 4M, so a GPU pick is a few
    kernel launches, not hundreds).
    """
    X, init, backend = _validate(X, n, initial, first, stop_radius, block, backend, device, storage)
    if backend == "numba":
        from ._fps_numba import fps_numba

        picks, dists, radius = fps_numba(X, n, init, first, stop_radius)
    elif backend == "torch":
        from ._fps_torch import fps_torch

        picks, dists, radius = fps_torch(X, n, init, first, stop_radius, device=device, storage=storage,
                                         block=block or (1 << 22))
    else:
        picks, dists, radius = _fps_numpy(X, n, init, first, stop_radius, block or 65536)
    return (picks, dists, radius) if return_radius else (picks, dists)


def _validate(X, n, initial, first, stop_radius, block, backend, device, storage):
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"X must be a non-empty 2-D array of shape (n_samples, n_features); got shape {X.shape}.")
    N = X.shape[0]
    bad = nonfinite_rows(X)
    if bad.size:
        raise InputError(f"X (shape {X.shape}) has {bad.size} row(s) with NaN or infinite values, e.g. rows "
                         f"{bad[:5].tolist()}; distances to them are undefined.",
                         hint="Drop or re-embed those samples first.")
    init = np.empty(0, np.int64) if initial is None else np.asarray(initial, dtype=np.int64).reshape(-1)
    if init.size and (init.min() < 0 or init.max() >= N):
        raise InputError(f"initial holds indices outside [0, {N}); got min {init.min()} max {init.max()}.")
    init = np.unique(init)  # a repeated centre changes nothing
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 0 <= n <= N - init.size:
        raise ConfigError(f"The 'n' parameter must be an int in the range [0, {N - init.size}] "
                          f"({N} samples, {init.size} initial centres). Got {n!r} instead.")
    if isinstance(first, bool) or not isinstance(first, numbers.Integral) or not 0 <= first < N:
        raise ConfigError(f"The 'first' parameter must be an int in the range [0, {N - 1}]. Got {first!r} instead.")
    if stop_radius is not None and (isinstance(stop_radius, bool) or not isinstance(stop_radius, numbers.Real)
                                    or not np.isfinite(stop_radius) or stop_radius < 0):
        raise ConfigError(f"The 'stop_radius' parameter must be a float in the range [0, inf) or None. Got {stop_radius!r} instead.")
    if block is not None and (isinstance(block, bool) or not isinstance(block, numbers.Integral) or block < 1):
        raise ConfigError(f"The 'block' parameter must be an int in the range [1, inf) or None. Got {block!r} instead.")
    if backend not in BACKENDS:
        raise ConfigError(f"The 'backend' parameter must be one of {{{', '.join(map(repr, BACKENDS))}}}. Got {backend!r} instead.")
    if storage not in STORAGE:
        raise ConfigError(f"The 'storage' parameter must be one of {{{', '.join(map(repr, STORAGE))}}}. Got {storage!r} instead.")
    if not isinstance(device, str):
        raise ConfigError(f"The 'device' parameter must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'. Got {device!r} instead.")
    return X, init, resolve_backend(backend, device, storage)


def resolve_backend(backend: str, device: str = "auto", storage: str = "float32") -> str:
    """The backend "auto" stands for; checks that device / storage fit the backend."""
    if backend == "auto":
        # only torch stores float16 or runs on an accelerator; on the CPU numba is the fast path
        if storage != "float32" or device not in ("auto", "cpu"):
            return "torch"
        if device == "cpu":
            return "numba"
        try:
            import torch

            return "torch" if torch.cuda.is_available() else "numba"
        except ImportError:  # pragma: no cover - torch is a dependency
            return "numba"
    if backend != "torch":
        if device not in ("auto", "cpu"):
            raise ConfigError(f"The 'device' parameter applies to backend='torch' only; backend={backend!r} runs on "
                              f"the CPU. Got device={device!r} instead.")
        if storage != "float32":
            raise ConfigError(f"The 'storage' parameter applies to backend='torch' only; backend={backend!r} stores "
                              f"float32. Got storage={storage!r} instead.")
    return backend


def _fps_numpy(X, n, init, first, stop_radius, block):
    """The vectorised baseline: one blockwise BLAS pass over X per pick (input already validated)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    N = X.shape[0]
    x_sq = _sq_norms(X, block)
    picks = np.empty(n, dtype=np.int64)
    dists = np.empty(n, dtype=np.float64)
    # running squared distance to the nearest centre; -1 marks a centre (never picked again)
    mind = np.full(N, np.inf, dtype=np.float32)
    if init.size:
        mind = min_sq_dist_to_centres(X, X[init], x_sq)
        mind[init] = -1.0
    k = 0
    while k < n:
        if k == 0 and not init.size:
            j, r = int(first), float("inf")
        else:
            j = int(np.argmax(mind))
            if mind[j] < 0:
                break
            r = float(np.sqrt(mind[j]))
            if stop_radius is not None and r <= stop_radius:
                break
        picks[k], dists[k] = j, r
        _update(X, x_sq, j, mind, block)
        mind[j] = -1.0
        k += 1
    top = float(mind.max())
    return picks[:k], dists[:k], float(np.sqrt(top)) if top > 0 else 0.0


def _update(X: np.ndarray, x_sq: np.ndarray, j: int, mind: np.ndarray, block: int) -> None:
    c = X[j]
    c_sq = x_sq[j]
    for s in range(0, X.shape[0], block):
        d = x_sq[s : s + block] - 2.0 * (X[s : s + block] @ c) + c_sq
        np.maximum(d, 0.0, out=d)  # cancellation can make it slightly negative; -1 stays a centre mark
        np.minimum(mind[s : s + block], d, out=mind[s : s + block])
