"""The 2-D map of the embedding space shown in the report.

UMAP keeps local neighbourhoods, which is what a person checks on the map (are the kept
samples spread over every cluster? what lies next to a removed one?). It reuses the kNN
graph the report computes anyway. Tiny pools, where UMAP's spectral start is unstable or
impossible, and installations without umap-learn get PCA, and the page says which.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np

from ..space.knn import KnnGraph

__all__ = ["embedding_map", "map_input", "UMAP_MIN_SAMPLES", "MAP_NEIGHBOURS", "MAP_INPUT_DIMS"]

log = logging.getLogger(__name__)

#: below this many samples the map is PCA
UMAP_MIN_SAMPLES = 64
#: neighbours per point for UMAP (the kNN graph passed in must have at least this many - 1)
MAP_NEIGHBOURS = 15
#: the map's neighbours are searched after PCA to this many dimensions
MAP_INPUT_DIMS = 32


def _pca2(X: np.ndarray) -> np.ndarray:
    """First two principal components (zeros for a pool of fewer than two samples)."""
    n = X.shape[0]
    out = np.zeros((n, 2), np.float32)
    if n < 2:
        return out
    centred = X - X.mean(axis=0, keepdims=True)
    # thin SVD of the (n, d) matrix: components are the rows of vt
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    comps = min(2, vt.shape[0])
    out[:, :comps] = (centred @ vt[:comps].T).astype(np.float32)
    return out


def map_input(X: np.ndarray, dims: int = MAP_INPUT_DIMS) -> np.ndarray:
    """X reduced by PCA to ``dims`` dimensions (unchanged when it has no more), in float32.

    Only for the picture: the kNN search behind UMAP costs in proportion to the dimension,
    and the leading components carry the neighbourhoods a 2-D map can show (the usual
    PCA-then-UMAP recipe). Every distance the report prints is computed in the full space.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.shape[1] <= dims or X.shape[0] <= dims:
        return X
    centred = X - X.mean(axis=0, keepdims=True)
    # components from the (d, d) covariance: cheap for many rows of moderate dimension
    cov = (centred.T.astype(np.float64) @ centred) / max(1, X.shape[0] - 1)
    _, vecs = np.linalg.eigh(cov)
    top = vecs[:, ::-1][:, :dims].astype(np.float32)  # (d, dims), largest variance first
    return np.ascontiguousarray(centred @ top)


def embedding_map(X: np.ndarray, knn: KnnGraph | None = None, *, seed: int = 0, method: str = "auto") -> tuple[np.ndarray, str, str]:
    """(n, 2) float32 coordinates of the rows of X, the method used ("umap" or "pca") and
    why PCA was used where UMAP was asked for ("" otherwise).

    ``knn``: the kNN graph of X (self excluded), reused by UMAP so the neighbours are not
    searched twice. ``method``: "auto" (UMAP from :data:`UMAP_MIN_SAMPLES` samples on),
    "umap" or "pca".
    """
    n = X.shape[0]
    if method == "pca" or (method == "auto" and n < UMAP_MIN_SAMPLES) or n <= MAP_NEIGHBOURS + 1:
        why = "" if method == "pca" else f"{n} samples are too few for UMAP"
        return _pca2(X), "pca", why
    try:
        import umap
    except ImportError as exc:  # umap-learn is a dependency, but a broken install should not lose the report
        return _fallback(X, f"umap-learn is not importable ({exc})")
    kw = {}
    if knn is not None and knn.k >= MAP_NEIGHBOURS and (knn.indices[:, :MAP_NEIGHBOURS] >= 0).all():
        # UMAP's own kNN lists start with the point itself at distance 0
        ind = np.hstack([np.arange(n, dtype=np.int64)[:, None], knn.indices[:, :MAP_NEIGHBOURS]])
        dist = np.hstack([np.zeros((n, 1), np.float32), knn.distances[:, :MAP_NEIGHBOURS]])
        kw["precomputed_knn"] = (ind, dist, None)
    reducer = umap.UMAP(
        n_neighbors=MAP_NEIGHBOURS + 1, n_components=2, min_dist=0.15, metric="euclidean",
        # large pools settle in fewer epochs, and the spectral start (an eigenproblem on the
        # whole graph) costs more than the layout itself there: start from PCA instead
        n_epochs=200 if n <= 10_000 else (120 if n <= 30_000 else 80),
        init="spectral" if n <= 20_000 else "pca", random_state=seed, low_memory=True, **kw,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # n_jobs vs random_state, spectral-init fallbacks
            Y = reducer.fit_transform(np.asarray(X, dtype=np.float32))
    except Exception as exc:  # a numerical failure of UMAP must not lose the report
        return _fallback(X, f"UMAP failed ({type(exc).__name__}: {exc})")
    Y = np.asarray(Y, dtype=np.float32)
    if not np.isfinite(Y).all():
        return _fallback(X, "UMAP produced non-finite coordinates")
    return Y, "umap", ""


def _fallback(X: np.ndarray, why: str) -> tuple[np.ndarray, str, str]:
    log.warning("%s; the report's map uses PCA instead.", why)
    return _pca2(X), "pca", why
