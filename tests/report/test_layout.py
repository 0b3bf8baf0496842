"""The 2-D map: PCA for tiny pools (checked against scikit-learn), UMAP from the shared
kNN graph otherwise."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from labelscout.report.layout import UMAP_MIN_SAMPLES, embedding_map, map_input
from labelscout.space.knn import knn_graph


@pytest.mark.parametrize("n,d", [(1, 4), (2, 3), (20, 8), (63, 5)])
def test_small_pools_get_pca(rng, n, d):
    X = rng.normal(size=(n, d)).astype(np.float32) * np.arange(1, d + 1)
    Y, method, why = embedding_map(X)
    assert method == "pca" and Y.shape == (n, 2) and Y.dtype == np.float32 and np.isfinite(Y).all()
    assert (n < UMAP_MIN_SAMPLES) == bool(why)
    if n >= 3:
        ref = PCA(2).fit_transform(X.astype(np.float64))
        for k in range(2):  # components are defined up to sign
            assert np.allclose(Y[:, k], ref[:, k], atol=1e-3) or np.allclose(Y[:, k], -ref[:, k], atol=1e-3)


@pytest.mark.slow  # UMAP compiles its numba kernels on first use (tens of seconds on a busy 2-core machine)
def test_umap_keeps_separated_clusters_apart(rng):
    centres = rng.normal(size=(3, 16)) * 10
    lab = np.repeat(np.arange(3), 40)
    X = (centres[lab] + rng.normal(size=(120, 16))).astype(np.float32)
    Y, method, why = embedding_map(X, knn_graph(X, 15), seed=0)
    assert method == "umap" and why == "" and Y.shape == (120, 2) and np.isfinite(Y).all()
    # every point's nearest map neighbour is from its own cluster
    D = ((Y[:, None] - Y[None]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    assert (lab[D.argmin(1)] == lab).mean() > 0.95


@pytest.mark.parametrize("n,d,dims", [(100, 8, 32), (200, 64, 16), (20, 64, 32)])
def test_map_input_is_pca_to_few_dimensions(rng, n, d, dims):
    X = (rng.normal(size=(n, d)) * np.linspace(5, 0.1, d)).astype(np.float32)
    Y = map_input(X, dims)
    if d <= dims or n <= dims:
        assert Y is X or np.array_equal(Y, X)
        return
    ref = PCA(dims).fit_transform(X.astype(np.float64))
    assert Y.shape == (n, dims) and Y.dtype == np.float32
    for k in range(dims // 2):  # leading components, defined up to sign
        assert np.allclose(Y[:, k], ref[:, k], atol=1e-3) or np.allclose(Y[:, k], -ref[:, k], atol=1e-3)
