"""Coreset selection: exact greedy k-center (farthest-point) sampling.

Each pick is the sample farthest from everything picked (or already labeled) so far, so
the picks cover the embedding space; the pick order makes every prefix a coreset of its
own size. On raw self-supervised features this chases outliers (Englert's thesis found it
worse than random); use it in a space that removes global structure (cosine, UMAP).
"""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import Instance, Interval, Options
from ..kernels.farthest_point import BACKENDS, STORAGE, farthest_point_sampling, resolve_backend
from ..space.metric import prepare_metric
from ._base import BUDGET_CONSTRAINT, BaseSelector, ComponentScores

__all__ = ["CoresetSelector", "DiversityScores", "prepare_metric"]


class CoresetSelector(BaseSelector):
    """Greedy k-center selection.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    metric : "l2" or "cosine" (L2 on unit-normalised vectors).
    seed : chooses the first centre when nothing is labeled yet.
    stop_radius : stop early when every sample lies within this distance of a pick
        ("don't label what is already covered"); the selection may then be shorter than n.
    backend : "auto" (torch on a CUDA GPU, else numba), "numba" (exact, pruned CPU kernel),
        "torch" or "numpy" (the vectorised baseline). See
        :func:`labelscout.kernels.farthest_point_sampling`.
    device : torch device for backend "torch" ("auto", "cpu", "cuda", "cuda:N").
    storage : "float32" or "float16" (torch only: halves the bytes read per pick; the
        distances are then those of the float16-rounded vectors).

    Attributes
    ----------
    selected_ : ndarray of shape (n_selected,), pool indices in pick order.
    scores_ : distance of each pick to its nearest earlier pick or labeled sample (the
        covering radius just before it was picked; ``inf`` for a first pick).
    radius_ : covering radius after the last pick (``inf`` when nothing was picked or labeled).
    backend_ : the backend that ran ("auto" resolved).
    """

    name = "coreset"
    prefix_consistent = True  # greedy picks do not depend on the budget
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "metric": [Options({"l2", "cosine"})],
        "seed": [Interval(numbers.Integral, 0, None)],
        "stop_radius": [Interval(numbers.Real, 0, None), None],
        "backend": [Options(BACKENDS)],
        "device": [Instance(str)],
        "storage": [Options(STORAGE)],
    }

    def __init__(
        self,
        n: int | float | str = 1000,
        *,
        metric: str = "cosine",
        seed: int = 0,
        stop_radius: float | None = None,
        backend: str = "auto",
        device: str = "auto",
        storage: str = "float32",
    ):
        self.n = n
        self.metric = metric
        self.seed = seed
        self.stop_radius = stop_radius
        self.backend = backend
        self.device = device
        self.storage = storage

    score_description = "distance to the nearest pick or labeled sample (updated after every pick)"

    def component_scores(self, pool, excluded):
        return DiversityScores(prepare_metric(pool.vectors, self.metric), excluded)

    def _select(self, pool, n, excluded):
        X = pool.vectors
        # combinations the kernel rejects (device with a CPU backend...) fail before any work
        self.backend_ = resolve_backend(self.backend, self.device, self.storage)
        Xm = prepare_metric(X, self.metric)
        first = int(np.random.default_rng(self.seed).integers(X.shape[0]))
        picks, dists, self.radius_ = farthest_point_sampling(
            Xm, n, initial=excluded, first=first, stop_radius=self.stop_radius,
            backend=self.backend_, device=self.device, storage=self.storage, return_radius=True,
        )
        reasons = [
            f"first centre (seed={self.seed})" if not np.isfinite(d) else f"farthest from selected: d={d:.3g}" for d in dists
        ]
        return picks, dists, reasons


class DiversityScores(ComponentScores):
    """Distance of every row to its nearest pick or labeled row, updated after each pick
    (one pass over the pool, in blocks); +inf while nothing is picked or labeled."""

    dynamic = True

    def __init__(self, Xm: np.ndarray, excluded: np.ndarray):
        self._X = Xm
        self._x_sq = np.einsum("ij,ij->i", Xm, Xm, dtype=np.float64)
        self._mind = np.full(Xm.shape[0], np.inf)  # squared distances
        for e in excluded:
            self._update(int(e))
        super().__init__(np.sqrt(self._mind))

    def picked(self, row: int) -> None:
        self._update(row)
        self.values = np.sqrt(self._mind)

    def _update(self, j: int, block: int = 1 << 18) -> None:
        """mind = min(mind, squared distance to row j), in blocks of rows."""
        X, mind = self._X, self._mind
        c = X[j].astype(np.float64)
        c_sq = float(c @ c)
        for s in range(0, X.shape[0], block):
            d2 = self._x_sq[s:s + block] - 2.0 * (X[s:s + block] @ c) + c_sq
            np.minimum(mind[s:s + block], np.maximum(d2, 0.0), out=mind[s:s + block])
        mind[j] = 0.0
