"""The spaces: each realises its geometry as L2, is cached in the run folder, and the
metric/space precedence is the documented one."""
from __future__ import annotations

import json

import numpy as np
import pytest

from labelscout.errors import ConfigError
from labelscout.space.cache import space_in_run, vectors_fingerprint
from labelscout.space.transform import Space, fit_space, resolve_space, transform_space


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _pairwise(X):
    X = X.astype(np.float64)
    return np.sqrt(np.maximum(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1), 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_norm_space_l2_is_cosine_geometry(rng, dtype):
    X = (rng.normal(size=(40, 7)) * rng.uniform(0.1, 10, size=(40, 1))).astype(dtype)
    Z = transform_space(X, "norm")
    assert Z.dtype == np.float32 and Z.flags.c_contiguous
    Xd = X.astype(np.float64)
    cos = (Xd @ Xd.T) / np.outer(np.linalg.norm(Xd, axis=1), np.linalg.norm(Xd, axis=1))
    np.testing.assert_allclose(_pairwise(Z), np.sqrt(np.maximum(2 - 2 * cos, 0)), atol=2e-3 if dtype == np.float16 else 1e-5)


def test_raw_space_is_the_input_and_zero_vectors_stay_put(rng):
    X = rng.normal(size=(10, 3)).astype(np.float32)
    np.testing.assert_array_equal(transform_space(X, "raw"), X)
    X[3] = 0
    Z = transform_space(X, "norm")
    assert np.all(Z[3] == 0) and np.isfinite(Z).all()


@pytest.mark.parametrize("dim", [1, 3, 5])
def test_pca_space_keeps_the_top_components_of_unit_vectors(rng, dim):
    X = rng.normal(size=(60, 5)).astype(np.float32) @ np.diag([5, 3, 1, 0.5, 0.1]).astype(np.float32)
    Z = transform_space(X, "pca", dim=dim)
    assert Z.shape == (60, dim) and Z.dtype == np.float32
    # reference: SVD of the centred unit vectors; projections agree up to the sign of each axis
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    C = U - U.mean(0)
    _, _, vt = np.linalg.svd(C.astype(np.float64), full_matrices=False)
    ref = C @ vt[:dim].T
    np.testing.assert_allclose(np.abs(Z), np.abs(ref), atol=1e-4)
    # at full dimension, PCA is a rotation: distances of the unit vectors are kept
    if dim == 5:
        np.testing.assert_allclose(_pairwise(Z), _pairwise(U), atol=1e-4)


@pytest.mark.slow  # umap-learn's numba compilation alone takes ~20 s
def test_umap_space_keeps_neighbourhoods(rng):
    centres = rng.normal(size=(4, 16)) * 4
    X = np.vstack([c + rng.normal(size=(50, 16)) for c in centres]).astype(np.float32)
    res = fit_space(X, Space("umap", dim=8))
    assert res.vectors.shape == (200, 8) and res.vectors.dtype == np.float32 and "fallback" not in res.info
    # the nearest neighbour in the UMAP space comes from the same cluster
    D = _pairwise(res.vectors)
    np.fill_diagonal(D, np.inf)
    cluster = np.repeat(np.arange(4), 50)
    assert (cluster[D.argmin(1)] == cluster).mean() > 0.95


@pytest.mark.parametrize("n", [2, 5, 9])
def test_umap_on_a_tiny_pool_falls_back_to_pca_and_says_so(rng, n):
    X = rng.normal(size=(n, 6)).astype(np.float32)
    res = fit_space(X, Space("umap"))
    assert "fallback" in res.info and res.info["fallback"].startswith("pca")
    assert res.vectors.shape[0] == n and np.isfinite(res.vectors).all()


def test_precedence_space_wins_metric_picks_otherwise():
    assert resolve_space(None, "cosine").name == "norm"
    assert resolve_space(None, "l2").name == "raw"
    assert resolve_space("umap", "l2").name == "umap"
    assert resolve_space("raw", "cosine").name == "raw"
    assert resolve_space(None, None).name == "norm"


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="umpa"), r"'space' parameter must be one of .* Got 'umpa'"),
    (dict(name="norm", dim=4), r"'space_dim' parameter applies to the pca and umap"),
    (dict(name="pca", dim=0), r"'space_dim' parameter must be an int in \[1, inf\). Got 0"),
    (dict(name="umap", n_neighbors=1), r"'n_neighbors'.*Got 1"),
    (dict(name="umap", min_dist=2.0), r"'min_dist'.*Got 2.0"),
])
def test_invalid_space_parameters_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Space(**kwargs).validate()
    with pytest.raises(ConfigError, match="'metric' parameter"):
        resolve_space(None, "cos")


def test_space_is_cached_in_the_run_folder_and_reused_only_when_identical(rng, tmp_path):
    X = rng.normal(size=(30, 6)).astype(np.float32)
    fp = vectors_fingerprint(X, [str(i) for i in range(30)])
    Z1, info1 = space_in_run(tmp_path, X, Space("pca", dim=3), fp)
    assert info1["cached"] is False and info1["dim"] == 3
    files = sorted(p.name for p in (tmp_path / "space").iterdir())
    assert len(files) == 2 and all(not f.startswith(".") for f in files)  # no temporary left behind
    side = json.loads(next((tmp_path / "space").glob("*.json")).read_text())
    assert side["params"]["name"] == "pca" and side["fingerprint"] == fp
    Z2, info2 = space_in_run(tmp_path, X, Space("pca", dim=3), fp)
    assert info2["cached"] is True
    np.testing.assert_array_equal(Z1, Z2)
    # another dim, or other embeddings: a new entry, not the old vectors
    _, info3 = space_in_run(tmp_path, X, Space("pca", dim=2), fp)
    X2 = X.copy()
    X2[0, 0] += 1
    _, info4 = space_in_run(tmp_path, X2, Space("pca", dim=3), vectors_fingerprint(X2, [str(i) for i in range(30)]))
    assert info3["cached"] is False and info4["cached"] is False
    assert len(list((tmp_path / "space").glob("*.npy"))) == 3


def test_fingerprint_sees_content_and_ids(rng):
    X = rng.normal(size=(5, 2)).astype(np.float32)
    ids = list("abcde")
    a = vectors_fingerprint(X, ids)
    assert a == vectors_fingerprint(X.copy(), list(ids))
    assert a != vectors_fingerprint(X, list("abcdf"))
    Y = X.copy()
    Y[4, 1] = np.nextafter(Y[4, 1], np.float32(np.inf))
    assert a != vectors_fingerprint(Y, ids)
