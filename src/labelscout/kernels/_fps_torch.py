"""Greedy farthest-point sampling in torch, for the GPU (also runs, and is tested, on the CPU).

One pass per pick: ``d = ||x||^2 - 2 x.c + ||c||^2`` block by block (float32 accumulation,
storage float32 or float16 to halve the bytes read), ``mind = min(mind, d)``, argmax on
the device. The pick is never copied to the host inside the loop: the next centre is
gathered with the index tensor, and picks and their distances are written into device
tensors that are read back every ``sync_every`` picks, where ``stop_radius`` and "every
point is a centre" are checked. Picks computed past such a stop are dropped; the picks
before it do not depend on them, so the result is the same as stopping at once.
"""
from __future__ import annotations

import numpy as np
import torch

from .._device import resolve_device

__all__ = ["fps_torch"]


def fps_torch(
    X: np.ndarray,
    n: int,
    initial: np.ndarray,
    first: int,
    stop_radius: float | None,
    *,
    device: str = "auto",
    storage: str = "float32",
    block: int = 1 << 22,
    sync_every: int = 256,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Input already validated. Returns (picks, distances, covering radius after the picks)."""
    dev = resolve_device(device)
    dtype = torch.float16 if storage == "float16" else torch.float32
    N = X.shape[0]
    Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32)).to(dev, dtype)  # (N, D)
    # blocks: the block's float32 upcast (float16 storage) and its distances stay small
    blocks = [(s, min(s + block, N)) for s in range(0, N, block)]
    x_sq = torch.empty(N, dtype=torch.float32, device=dev)
    for s, e in blocks:
        xb = Xt[s:e].float()
        x_sq[s:e] = (xb * xb).sum(1)
    # running squared distance to the nearest centre; -1 marks a centre (never picked again)
    mind = torch.full((N,), float("inf"), dtype=torch.float32, device=dev)
    if initial.size:
        idx = torch.as_tensor(initial, device=dev)
        for cs in range(0, idx.numel(), 1024):
            ci = idx[cs : cs + 1024]
            C, c_sq = Xt[ci].float(), x_sq[ci]  # (m, D), (m,)
            for s, e in blocks:
                d = x_sq[s:e, None] - 2.0 * (Xt[s:e].float() @ C.T) + c_sq[None, :]  # (block, m)
                torch.minimum(mind[s:e], d.amin(1).clamp_min_(0.0), out=mind[s:e])
        mind[idx] = -1.0

    picks = torch.empty(n, dtype=torch.int64, device=dev)
    vals = torch.empty(n, dtype=torch.float32, device=dev)  # squared distance of each pick before it
    minus_one = torch.tensor([-1.0], device=dev)
    done = 0  # picks checked on the host
    k = 0
    stop_at = None
    while k < n:
        if k == 0 and not initial.size:
            jj = torch.tensor([int(first)], device=dev)
            vals[0] = float("inf")
        else:
            jj = torch.argmax(mind).reshape(1)  # first maximum: lowest index among ties
            vals[k : k + 1] = mind.index_select(0, jj)
        picks[k : k + 1] = jj
        # index_select with the device tensor: no host synchronisation (x[t] with a 0-d t would sync)
        c = Xt.index_select(0, jj)[0].float()  # (D,)
        c_sq = x_sq.index_select(0, jj)  # (1,)
        for s, e in blocks:
            d = torch.addmv(x_sq[s:e] + c_sq, Xt[s:e].float(), c, alpha=-2.0)
            torch.minimum(mind[s:e], d.clamp_min_(0.0), out=mind[s:e])
        mind.index_copy_(0, jj, minus_one)
        k += 1
        if k - done >= sync_every or k == n:
            stop_at = _first_stop(vals[done:k].cpu().numpy(), stop_radius)
            if stop_at is not None:
                stop_at += done
                break
            done = k
    v = vals[:k].double().cpu().numpy()
    p = picks[:k].cpu().numpy()
    if stop_at is not None:  # the covering radius just before the stopping pick
        radius = float(np.sqrt(max(v[stop_at], 0.0)))
        return p[:stop_at], np.sqrt(v[:stop_at]), radius
    top = float(mind.max().item()) if N else 0.0
    return p, np.sqrt(v), float(np.sqrt(top)) if top > 0 else 0.0


def _first_stop(v: np.ndarray, stop_radius: float | None) -> int | None:
    """First position whose pick must not happen: every point was a centre, or the radius fell to stop_radius."""
    bad = v < 0
    if stop_radius is not None:
        bad |= np.sqrt(np.maximum(v, 0.0)) <= stop_radius
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None
