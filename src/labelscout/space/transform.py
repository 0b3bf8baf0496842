"""The space a selection works in: the pool's vectors re-expressed so that plain L2
distance *is* the chosen geometry.

* ``raw``  - the vectors as they are (L2);
* ``norm`` - unit vectors (L2 on them = sqrt(2 - 2 cos): cosine geometry);
* ``pca``  - unit vectors, then their top ``dim`` principal components;
* ``umap`` - unit vectors, then UMAP to ``dim`` dimensions. Englert's thesis: farthest
  point on raw SSL features chases outliers and loses to random; after a UMAP
  re-embedding (which keeps local neighbourhoods and drops the global structure) it wins.

Every space returns C-contiguous float32, so strategies, kernels and faiss take it as is
with ``metric="l2"``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, InputError
from .metric import unit_rows

__all__ = ["Space", "SPACES", "METRIC_SPACES", "transform_space", "fit_space", "resolve_space", "unit_rows",
           "UMAP_MAX_DEFAULT_DIM"]

log = logging.getLogger(__name__)

#: space name -> (re-embedding kind, metric of the input): the geometry (as L2)
SPACES: dict[str, tuple[str, str]] = {
    "raw": ("raw", "l2"),
    "norm": ("raw", "cosine"),
    "pca": ("pca", "cosine"),
    "umap": ("umap", "cosine"),
}
#: the space a bare ``metric`` stands for
METRIC_SPACES = {"l2": "raw", "cosine": "norm"}

#: without an explicit dim, pca and umap keep min(n_features, this). UMAP's optimisation
#: cost grows linearly with the output dimension; 64 keeps a 512-d model's re-embedding
#: within minutes while staying far above the 2-10 dims where UMAP starts to distort.
UMAP_MAX_DEFAULT_DIM = 64

#: fewer samples than this cannot support UMAP's fuzzy graph meaningfully (umap-learn's
#: spectral initialisation needs n > dim + 1; a neighbourhood of 2 is no neighbourhood)
UMAP_MIN_SAMPLES = 10


@dataclass(frozen=True)
class Space:
    """A space and its parameters (``dim``, ``n_neighbors``, ``min_dist`` matter for umap;
    ``dim`` for pca). ``seed`` fixes PCA's solver and UMAP's layout."""

    name: str = "norm"
    dim: int | None = None
    n_neighbors: int = 15
    min_dist: float = 0.1
    seed: int = 0

    def validate(self) -> "Space":
        if self.name not in SPACES:
            raise ConfigError(f"The 'space' parameter must be one of {{{', '.join(repr(s) for s in SPACES)}}}. "
                              f"Got {self.name!r} instead.")
        kind = SPACES[self.name][0]
        if self.dim is not None:
            if kind == "raw":
                raise ConfigError(f"The 'space_dim' parameter applies to the pca and umap spaces, not {self.name!r}. "
                                  f"Got {self.dim!r} instead.", hint="Drop --space-dim or use --space pca / umap.")
            if isinstance(self.dim, bool) or not isinstance(self.dim, (int, np.integer)) or self.dim < 1:
                raise ConfigError(f"The 'space_dim' parameter must be an int in [1, inf). Got {self.dim!r} instead.")
        if isinstance(self.n_neighbors, bool) or not isinstance(self.n_neighbors, (int, np.integer)) or self.n_neighbors < 2:
            raise ConfigError(f"The 'n_neighbors' parameter of the umap space must be an int in [2, inf). Got {self.n_neighbors!r} instead.")
        if not isinstance(self.min_dist, (int, float)) or isinstance(self.min_dist, bool) or not 0.0 <= self.min_dist <= 1.0:
            raise ConfigError(f"The 'min_dist' parameter of the umap space must be a float in [0, 1]. Got {self.min_dist!r} instead.")
        return self

    @property
    def kind(self) -> str:
        return SPACES[self.name][0]

    @property
    def metric(self) -> str:
        """The metric of the input the space realises ("l2" or "cosine")."""
        return SPACES[self.name][1]

    def params(self) -> dict[str, Any]:
        """The parameters that change the vectors (what a cache entry must match)."""
        if self.kind == "raw":
            return {"name": self.name}
        p: dict[str, Any] = {"name": self.name, "dim": self.dim, "seed": self.seed}
        if self.kind == "umap":
            p.update(n_neighbors=int(self.n_neighbors), min_dist=float(self.min_dist))
        return p

    def key(self, fingerprint: Any) -> str:
        """A file-name-safe key of this space on the embeddings with ``fingerprint``."""
        blob = json.dumps([self.params(), fingerprint], sort_keys=True, default=str)
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def resolve_space(space: str | Space | None, metric: str | None = None) -> Space:
    """The space to use. Precedence: an explicit ``space`` wins; without one, ``metric``
    picks it (``cosine`` -> ``norm``, ``l2`` -> ``raw``); neither gives ``norm``.
    (pca and umap always start from unit vectors, so a metric cannot change them.)"""
    if isinstance(space, Space):
        return space.validate()
    if space is None:
        if metric is None:
            return Space("norm")
        if metric not in METRIC_SPACES:
            raise ConfigError(f"The 'metric' parameter must be one of {{'cosine', 'l2'}}. Got {metric!r} instead.")
        return Space(METRIC_SPACES[metric])
    return Space(str(space)).validate()


@dataclass
class SpaceResult:
    vectors: np.ndarray  # (n_samples, dim) float32, C-contiguous
    info: dict[str, Any] = field(default_factory=dict)  # what was actually done (dims, fallbacks)


def fit_space(vectors: np.ndarray, space: Space) -> SpaceResult:
    """``vectors`` in ``space`` plus a record of what was done (input and output dims, and
    a fallback to PCA when the pool is too small for UMAP)."""
    space = space.validate()
    X = np.asarray(vectors)
    if X.ndim != 2:
        raise InputError(f"embeddings must be 2-D (n_samples, n_features); got shape {X.shape}.")
    n, d = X.shape
    info: dict[str, Any] = {**space.params(), "input_dim": int(d), "n_samples": int(n)}
    X = unit_rows(X) if space.metric == "cosine" else np.asarray(X, dtype=np.float32)
    kind = space.kind
    out_dim = int(space.dim) if space.dim is not None else min(d, UMAP_MAX_DEFAULT_DIM)
    if kind == "umap" and (n < UMAP_MIN_SAMPLES or n <= out_dim + 1):
        # a recorded, visible fallback rather than umap-learn's random-init warning or crash
        info["fallback"] = (f"pca: {n} samples are too few for UMAP to {out_dim} dims "
                            f"(needs >= {max(UMAP_MIN_SAMPLES, out_dim + 2)})")
        log.warning("space umap: %s", info["fallback"])
        kind = "pca"
    if kind == "raw":
        Z = X
    elif kind == "pca":
        Z = _pca(X, out_dim, space.seed)
    else:
        Z = _umap(X, out_dim, space)
    Z = np.ascontiguousarray(Z, dtype=np.float32)
    info["dim"] = int(Z.shape[1])
    return SpaceResult(Z, info)


def transform_space(vectors: np.ndarray, space: str | Space, *, dim: int | None = None, seed: int = 0,
                    n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    """The pool's vectors in ``space`` (see :data:`SPACES`), float32, where L2 is the geometry.

    ``umap``: unit-normalise, then UMAP (cosine neighbourhoods) to ``dim`` dimensions
    (default: the input's, at most :data:`UMAP_MAX_DEFAULT_DIM`); pools too small for UMAP
    fall back to PCA (see :func:`fit_space`, which records it). ``pca``: the top ``dim``
    (same default) principal components of the unit vectors.
    """
    spec = space if isinstance(space, Space) else Space(space, dim=dim, n_neighbors=n_neighbors, min_dist=min_dist, seed=seed)
    return fit_space(vectors, spec).vectors


def _pca(X: np.ndarray, dim: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    k = min(dim, *X.shape)
    if k < dim:
        log.info("space pca: %d components requested, %d possible for shape %s", dim, k, X.shape)
    return PCA(n_components=k, random_state=seed).fit_transform(X)


def _umap(X: np.ndarray, dim: int, space: Space) -> np.ndarray:
    import umap

    n_neighbors = min(int(space.n_neighbors), X.shape[0] - 1)
    reducer = umap.UMAP(n_components=dim, n_neighbors=n_neighbors, min_dist=float(space.min_dist), metric="euclidean",
                        random_state=space.seed, low_memory=True)
    # on unit vectors euclidean neighbourhoods are cosine neighbourhoods; euclidean is faster
    # in umap-learn. A fixed random_state makes it single-threaded (and reproducible): say so
    # once, not per call.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
        return reducer.fit_transform(X)
