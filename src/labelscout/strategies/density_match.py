"""Density matching of a biased pool to a validation set: pick where the validation set is
dense and the pool is not.

A small *balanced* validation set says what the test distribution looks like. Where the
pool under-represents a part of it (a class at 1 % of the pool but 10 % of the validation
set), the ratio of the two densities ``p_validation(x) / p_pool(x)`` is large; importance
weighting calls it the weight a pool sample needs to stand for the test distribution. This
strategy estimates the ratio with nearest neighbours and picks the largest first: among the
``k`` nearest neighbours of a pool sample in pool + validation, ``v`` are validation
samples, and ``(v / M) / ((k - v + 1) / N)`` (``M`` validation, ``N`` pool samples) is the
estimate. It needs no model, no predictions and no validation labels; it is the label-free
counterpart of ``fisher-match``, which asks where the *model* sees the pool like the
validation samples it gets wrong. On the 100x-imbalanced CIFAR-10 pool of ``labelscout
bench active`` it finds more rare-class images than fisher-match (docs/benchmarks.md).

Ties (``v`` is an integer) go to the sample nearer to its nearest validation neighbour,
then to the lower index. The kNN search runs block by block (exact up to
:data:`labelscout.space.knn.EXACT_LIMIT` rows, IVF above), so only (N, 2) numbers are kept.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._validation import Instance, Interval
from ..errors import ConfigError, InputError
from ..space.knn import knn_blocks
from ._base import BUDGET_CONSTRAINT, BaseSelector, ComponentScores, as_index_array

__all__ = ["DensityMatchSelector", "validation_density_ratio"]


def validation_density_ratio(X: np.ndarray, V: np.ndarray, k: int, *, seed: int = 0
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every row of the pool ``X`` (N, d) against the validation set ``V`` (M, d):
    (density-ratio estimate, validation samples among its ``k`` nearest neighbours in
    ``X`` + ``V``, L2 distance to the nearest of them (inf: none among the k)).
    ``k`` is capped at N + M - 1."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    V = np.ascontiguousarray(V, dtype=np.float32)
    N, M = X.shape[0], V.shape[0]
    A = np.concatenate([X, V], axis=0)
    k_eff = min(int(k), N + M - 1)
    counts = np.zeros(N, dtype=np.int64)
    nearest = np.full(N, np.inf)
    for start, I, D in knn_blocks(A, k_eff, seed=seed):
        if start >= N:
            break
        stop = min(N, start + I.shape[0])
        I, D = I[:stop - start], D[:stop - start]
        is_val = I >= N
        counts[start:stop] = is_val.sum(axis=1)
        d = np.where(is_val, D.astype(np.float64), np.inf).min(axis=1)
        nearest[start:stop] = d
    ratio = (counts / M) / ((k_eff - counts + 1) / N)
    return ratio, counts, nearest


class DensityMatchSelector(BaseSelector):
    """Pick the pool samples where a validation set is densest relative to the pool.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    validation_vectors : array-like (n_validation, n_features): the validation samples in
        the pool's embedding space (``--validation FOLDER`` embeds a folder with the pool's
        model).
    validation_labels : accepted so that ``--validation`` gives every validation strategy
        the same set; not used (the ratio needs no labels).
    validation_ids : instead of vectors, pool samples (ids or indices) that form the
        validation set; they are never picked and count as validation, not pool, samples.
    k : neighbours in the estimate. Larger is smoother; it should exceed the number of
        validation samples a rare part of the data holds by little (50 here for a
        validation slice of 50 a class).
    seed : the approximate (IVF) search's clustering, for pools above the exact limit.

    Attributes
    ----------
    selected_ : pool indices, largest ratio first.
    scores_ : the density-ratio estimate of each pick.
    ratio_ : the estimate for every pool sample (excluded ones included).
    """

    name = "density-match"
    needs_validation_labels = False  # the ratio is label-free: a folder without class folders will do
    score_description = "validation density / pool density (kNN estimate)"
    prefix_consistent = True  # a fixed ranking: a larger budget only appends
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "validation_vectors": [Instance(list, tuple, np.ndarray), None],
        "validation_labels": [Instance(list, tuple, np.ndarray), None],
        "validation_ids": [Instance(list, tuple, np.ndarray), None],
        "k": [Interval(numbers.Integral, 1, None)],
        "seed": [Interval(numbers.Integral, 0, None)],
    }

    def __init__(self, n: int | float | str = 1000, *, validation_vectors: Any = None, validation_labels: Any = None,
                 validation_ids: Any = None, k: int = 50, seed: int = 0):
        self.n = n
        self.validation_vectors = validation_vectors
        self.validation_labels = validation_labels
        self.validation_ids = validation_ids
        self.k = k
        self.seed = seed

    def _validate_params(self) -> None:
        super()._validate_params()
        if (self.validation_vectors is None) == (self.validation_ids is None):
            raise ConfigError("DensityMatchSelector needs a validation set: set exactly one of 'validation_vectors' "
                              "(n_validation, n_features) and 'validation_ids' (pool samples).",
                              hint="On the command line: --validation FOLDER (images like the ones the model will meet).")

    def _validation(self, pool) -> np.ndarray:
        V = np.asarray(self.validation_vectors, dtype=np.float32)
        d = pool.vectors.shape[1]
        if V.ndim != 2 or V.shape[1] != d or V.shape[0] == 0:
            raise InputError(f"validation_vectors must have shape (n_validation, {d}); got {V.shape}.",
                             hint="Embed the validation images with the same model (and space) as the pool.")
        bad = np.flatnonzero(~np.isfinite(V).all(axis=1))
        if bad.size:
            raise InputError(f"validation_vectors hold NaN or infinite values in {bad.size} row(s), e.g. row {int(bad[0])}.",
                             hint="Re-embed the validation images; a broken image gives no vector, not a NaN one.")
        return V

    def _ratio(self, pool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.validation_ids is None:
            ratio, counts, nearest = validation_density_ratio(pool.vectors, self._validation(pool), self.k, seed=self.seed)
            self.n_validation_ = len(self.validation_vectors)
        else:  # validation rows of the pool: the rest is the pool; they get no ratio and are never picked
            rows = self._validation_rows(pool)
            if rows.size == 0:
                raise InputError("validation_ids is empty.", hint="Name the pool samples that form the validation set.")
            rest = np.setdiff1d(np.arange(len(pool)), rows)
            ratio, counts, nearest = np.full(len(pool), -np.inf), np.zeros(len(pool), np.int64), np.full(len(pool), np.inf)
            if rest.size:
                ratio[rest], counts[rest], nearest[rest] = validation_density_ratio(
                    pool.vectors[rest], pool.vectors[rows], self.k, seed=self.seed)
            self.n_validation_ = int(rows.size)
        self.ratio_ = ratio
        return ratio, counts, nearest

    def _validation_rows(self, pool) -> np.ndarray:
        return as_index_array(self.validation_ids, len(pool), pool.ids, name="validation_ids")

    def candidates(self, pool, excluded) -> np.ndarray:
        """Pool rows that may be picked: not excluded, not validation rows."""
        cand = np.ones(len(pool), dtype=bool)
        cand[excluded] = False
        if self.validation_ids is not None:
            cand[self._validation_rows(pool)] = False
        return cand

    def component_scores(self, pool, excluded):
        ratio = self._ratio(pool)[0]
        if self.validation_ids is None:
            return ComponentScores(ratio)
        return ComponentScores(np.where(np.isfinite(ratio), ratio, 0.0), blocked=self._validation_rows(pool))

    def _select(self, pool, n, excluded):
        ratio, counts, nearest = self._ratio(pool)
        cand = self.candidates(pool, excluded)
        if n > int(cand.sum()):
            raise InputError(f"Cannot select {n} samples: only {int(cand.sum())} candidates "
                             f"(the {len(pool)} pool samples less the excluded and validation ones).")
        key = np.where(cand, -ratio, np.inf)  # excluded and validation samples sort last and are cut off
        order = np.lexsort((np.arange(key.size), nearest, key))[:n]
        searched = len(pool) + (self.n_validation_ if self.validation_ids is None else 0)  # pool + validation rows
        k_eff = min(self.k, searched - 1)
        reasons = [f"validation/pool density ratio {ratio[i]:.3g} ({counts[i]} of its {k_eff} nearest are validation samples)"
                   for i in order]
        return order, ratio[order], reasons
