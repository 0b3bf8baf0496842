"""BADGE: uncertainty and diversity at once, from gradient embeddings (Ash et al., ICLR 2020).

Each sample's gradient embedding is the gradient of the cross-entropy loss, at its own
pseudo-label ``argmax p``, with respect to the last layer's weights:
``g_i = (p_i - onehot(argmax p_i)) (x) z_i`` (outer product of the logit gradient,
C values, and the penultimate features, L values). Its norm is large where the model is
unsure; directions differ between samples that would change the model differently.
BADGE seeds k-means++ on these vectors: the first pick has the largest norm, each next
one is drawn with probability proportional to its squared distance to the nearest pick.

The C x L vectors are never built: ``<g_i, g_j> = (a_i . a_j)(z_i . z_j)``, so the
distance to a new pick costs one pass over A (n, C) and Z (n, L). Draws come from
``seed``; every prefix of a selection is the selection of that size.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._validation import Interval
from ._base import BUDGET_CONSTRAINT
from ._predictive import HEAD_CONSTRAINTS, PredictiveSelector, gradient_factors

__all__ = ["BadgeSelector", "badge_kmeanspp", "gradient_embedding_sq_norms"]

_BLOCK = 1 << 16


def gradient_embedding_sq_norms(A: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """``|g_i|^2 = |a_i|^2 |z_i|^2`` for every row, float64."""
    return np.einsum("ij,ij->i", A, A) * np.einsum("ij,ij->i", Z, Z)


def badge_kmeanspp(A: np.ndarray, Z: np.ndarray, n: int, candidates: np.ndarray, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding on the gradient embeddings ``a_i (x) z_i`` of the candidate rows.

    ``A``: (n_samples, C), ``Z``: (n_samples, L), float64; ``candidates``: bool mask.
    Returns (picks in order, squared distance of each pick to the nearest earlier pick at
    the time it was drawn; the first pick's is its squared norm). When every remaining
    candidate sits on a pick (all distances 0), the lowest-index one is taken.
    """
    rng = np.random.default_rng(seed)
    a_sq = np.einsum("ij,ij->i", A, A)
    z_sq = np.einsum("ij,ij->i", Z, Z)
    norms = a_sq * z_sq
    cand = candidates.copy()
    mind = np.full(A.shape[0], np.inf)
    picks, d2_at = [], []
    for step in range(n):
        if step == 0:
            key = np.where(cand, norms, -np.inf)
            j = int(np.argmax(key))  # ties: lowest index
            d2_at.append(float(norms[j]))
        else:
            w = np.where(cand, mind, 0.0)
            cum = np.cumsum(w)
            total = cum[-1]
            if total > 0:
                j = int(np.searchsorted(cum, rng.random() * total, side="right"))
                j = min(j, w.size - 1)
                while not cand[j] or w[j] == 0:  # float edge: land on the next row with weight
                    j -= 1
            else:
                j = int(np.flatnonzero(cand)[0])
            d2_at.append(float(mind[j]))
        picks.append(j)
        cand[j] = False
        _update(A, Z, a_sq, z_sq, j, mind)
    return np.asarray(picks, np.int64), np.asarray(d2_at)


def _update(A, Z, a_sq, z_sq, j, mind) -> None:
    """mind = min(mind, |g - g_j|^2) in blocks of rows."""
    aj, zj = A[j], Z[j]
    nj = a_sq[j] * z_sq[j]
    for s in range(0, A.shape[0], _BLOCK):
        e = slice(s, s + _BLOCK)
        d2 = a_sq[e] * z_sq[e] + nj - 2.0 * (A[e] @ aj) * (Z[e] @ zj)
        np.minimum(mind[e], np.maximum(d2, 0.0), out=mind[e])
    mind[j] = 0.0


class BadgeSelector(PredictiveSelector):
    """k-means++ on gradient embeddings: uncertain and mutually different samples.

    Parameters
    ----------
    n : budget (count, fraction or "P%").
    seed : the k-means++ draws (and the fallback head's folds).
    head_folds, head_C : the fallback logistic head (see ``uncertainty``).

    Attributes
    ----------
    scores_ : squared gradient-embedding distance of each pick to the nearest earlier
        pick when it was drawn (the first: its squared norm).
    model_source_ : "predictions" or "head".
    """

    name = "badge"
    score_description = "gradient embedding norm (uncertainty)"
    prefix_consistent = True  # each draw depends only on the earlier picks and the seed's stream
    _parameter_constraints = {
        "n": BUDGET_CONSTRAINT,
        "seed": [Interval(numbers.Integral, 0, None)],
        **HEAD_CONSTRAINTS,
    }

    def __init__(self, n: int | float | str = 1000, *, seed: int = 0, head_folds: int = 5, head_C: float = 1.0):
        self.n = n
        self.seed = seed
        self.head_folds = head_folds
        self.head_C = head_C

    def _component(self, view, pool, candidates):
        """Static component scores for ``combine``: the gradient embedding's norm (its
        diversity needs the k-means++ draws and is not a per-sample score)."""
        A, Z = gradient_factors(view.probabilities, view.features)
        return np.sqrt(gradient_embedding_sq_norms(A, Z))

    def _select_with(self, view, pool, n, candidates):
        A, Z = gradient_factors(view.probabilities, view.features)
        picks, d2 = badge_kmeanspp(A, Z, n, candidates, self.seed)
        norms = np.sqrt(gradient_embedding_sq_norms(A, Z))
        names = view.class_names
        pseudo = np.argmax(view.probabilities, axis=1)
        reasons = [("largest gradient embedding" if k == 0 else f"gradient distance {np.sqrt(d):.3g} to the nearest pick")
                   + f"; |g|={norms[i]:.3g}, pseudo-label {names[pseudo[i]]} p={view.probabilities[i, pseudo[i]]:.2f}"
                   for k, (i, d) in enumerate(zip(picks, d2))]
        return picks, d2, reasons
