"""Checks every selection must pass, shared by the strategy test files."""
from __future__ import annotations

import numpy as np


#: what a strategy cannot run without; a new strategy that needs more must say so here
REQUIRED = {
    "similarity": {"query_ids": [0, 1]},
    "fisher-match": {"validation_ids": [0, 1]},  # labeled pool samples as the validation set
    "density-match": {"validation_ids": [0, 1]},  # pool samples as the validation set
    "vaal": {"steps": 20, "hidden": 16, "latent": 4, "batch_size": 16},  # small nets: the contract, not the quality
}
#: strategies that need some samples already labeled get these as ``exclude`` when a test has none
LABELED = {"vaal": [0]}


def check_selection(sel, n_pool: int, n: int, excluded=()) -> None:
    picks = sel.selected_
    assert picks.dtype == np.int64 and picks.ndim == 1
    assert len(picks) == n, f"{len(picks)} picks for a budget of {n}"
    assert len(set(picks.tolist())) == n, "picks are not unique"
    assert ((picks >= 0) & (picks < n_pool)).all(), "a pick is out of range"
    assert not set(picks.tolist()) & set(int(e) for e in excluded), "an excluded sample was picked"
    assert sel.scores_.shape == (n,) and len(sel.reasons_) == n
    assert all(isinstance(r, str) and r for r in sel.reasons_)


def pairwise(X: np.ndarray) -> np.ndarray:
    """All pairwise distances, float64 from differences then float32 (as the fast paths round)."""
    X = np.asarray(X, np.float64)
    diff = X[:, None, :] - X[None, :, :]
    return np.sqrt(np.einsum("ijd,ijd->ij", diff, diff)).astype(np.float32)


def reference_typicality(X: np.ndarray, k: int) -> np.ndarray:
    """1 / mean distance to the min(k, n-1) nearest other rows, from all pairwise distances."""
    D = pairwise(X).astype(np.float64)
    np.fill_diagonal(D, np.inf)
    k = min(k, len(X) - 1)
    with np.errstate(divide="ignore"):
        return 1.0 / np.sort(D, axis=1)[:, :k].mean(axis=1)
