"""Is the pool repetitive? A label-free estimate of how many distinct things it holds.

Video frames, burst photos and re-uploads make pools where many samples are near-identical
copies of one scene. There the pool's natural groups are the copy groups, random sampling
spends its budget on copies, and a strategy should think in groups (TypiClust's one typical
sample per cluster while the budget is below the number of groups, farthest point once
every group has a pick). ``auto`` asks this module which case it is in.

**The copy test.** A seeded sample of rows gets its ``k`` exact nearest neighbours (brute
force on the sample only: ``sample x N`` distances, never ``N x N``). Among samples drawn
independently from a smooth density of intrinsic dimension ``m``, the ratio of a row's
``j``-th to its ``k``-th neighbour distance follows ``(d_j / d_k)^m ~ Beta(j, k - j)``
(the neighbours of a Poisson process). A neighbour is called a copy when its ratio is far
below that law: below the ``alpha`` quantile of ``Beta(j, k - j)`` (alpha = 1e-5). ``m`` is
the Levina-Bickel estimate from the far half of the neighbour lists (``j >= k / 2``), where
copies are rare; it is a median over the sampled rows. The test is scale-free (only
distance ratios enter) and adapts to the dimension: a 2-D cloud has close first
neighbours by nature and is not called repetitive, a 128-d one rarely has any.

**Groups.** A sampled row with ``c`` copies stands in a group of ``c + 1``; the number of
groups is ``N x mean(1 / (c + 1))`` over the sampled rows (every group is counted once
whichever of its members is drawn). The pool is repetitive when groups / N <= 0.5, i.e.
on average every distinct sample appears at least twice.

Measured (``benchmarks/repeated_pool_bounds.py``, this module's tests): CIFAR-10 train
(50,000, the default embedding) 0.86; the repeated-copies pool (1,000 originals x 5-30
copies, true 0.057) 0.074, i.e. 1,308 groups for 1,000 (copies that the embedding moves far
are missed); synthetic copies x2 to x60 at 0.67 - 1.0 times the true ratio (the nearest
other groups of a tight group can pass as extra copies); i.i.d. Gaussians of 2 to 128 dimensions
and Gaussian mixtures > 0.95. **Limit**: a group larger than about ``k / 2``
copies fills the far half of the neighbour lists and is not seen (k = 128 here: groups up
to about 64 copies); on video, sample frames sparser (``--fps``) so scenes repeat fewer times.
Cost: one exact search of ``sample`` rows against the pool (0.4 s for 50,000 x 128, about 3 s
for 1M x 64 on 2 cores).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Repetition", "detect_repetition", "REPETITIVE_AT"]

#: groups / N at or below which a pool counts as repetitive
REPETITIVE_AT = 0.5


@dataclass(frozen=True)
class Repetition:
    """What :func:`detect_repetition` found. ``groups`` is the estimated number of distinct
    groups of near-identical samples, ``ratio`` = groups / N."""

    repetitive: bool
    groups: int
    ratio: float
    n_pool: int
    rows_sampled: int
    k: int
    intrinsic_dim: float
    alpha: float
    threshold: float = REPETITIVE_AT
    why: str = ""

    def as_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _copy_counts(ratios: np.ndarray, m: float, alpha: float) -> np.ndarray:
    """Copies per row: neighbours j < k whose (d_j / d_k)^m lies below the alpha quantile of
    Beta(j, k - j). ratios: (rows, k) of d_j / d_k, ascending along each row."""
    from scipy.stats import beta

    k = ratios.shape[1]
    j = np.arange(1, k)
    limit = beta.ppf(alpha, j, k - j)  # (k - 1,)
    with np.errstate(divide="ignore", under="ignore"):
        scaled = np.exp(m * np.log(np.maximum(ratios[:, :-1], 1e-30)))
    return (scaled < limit).sum(axis=1)


def intrinsic_dimension(dist: np.ndarray) -> float:
    """Median over rows of the Levina-Bickel estimate from the far half of each row's
    neighbour distances (ascending, k columns): m = mean log(k / j) / mean log(d_k / d_j)
    over the ranks k / 2 < j < k."""
    k = dist.shape[1]
    ranks = np.arange(k // 2 + 1, k)  # 1-based ranks; column j - 1
    num = float(np.mean(np.log(k / ranks)))
    with np.errstate(divide="ignore"):
        denom = np.log(dist[:, -1:] / np.maximum(dist[:, ranks - 1], 1e-30)).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        m_row = num / denom
    m_row = m_row[np.isfinite(m_row) & (m_row > 0)]
    return float(np.median(m_row)) if m_row.size else 0.0


def detect_repetition(X: np.ndarray, *, sample: int = 2000, k: int = 128, alpha: float = 1e-5,
                      threshold: float = REPETITIVE_AT, seed: int = 0) -> Repetition:
    """Estimate the copy groups of X (rows already in the selection's metric: unit rows for
    cosine). See the module docstring for the test."""
    from ..space.knn import exact_neighbours

    n = int(X.shape[0])
    k_eff = min(k, n - 1)
    if k_eff < 16:  # too few neighbours for the far half to say anything
        return Repetition(False, n, 1.0, n, 0, max(k_eff, 0), 0.0, alpha, threshold,
                          f"pool of {n} samples: too small to test for copies (needs > 16)")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, min(sample, n), replace=False))
    _, dist = exact_neighbours(np.ascontiguousarray(X, dtype=np.float32), rows, k_eff)
    dist = dist.astype(np.float64)
    kth = dist[:, -1:]
    ok = np.isfinite(kth[:, 0]) & (kth[:, 0] > 0)
    if not ok.any():  # every sampled row has >= k exact duplicates at distance 0
        return Repetition(True, max(1, math.ceil(n / (k_eff + 1))), 1.0 / (k_eff + 1), n, int(rows.size), k_eff,
                          0.0, alpha, threshold, f"every sampled row has at least {k_eff} identical copies")
    m = intrinsic_dimension(dist[ok])
    copies = np.full(rows.size, k_eff, np.int64)  # rows whose k-th neighbour is identical: all copies
    copies[ok] = _copy_counts(dist[ok] / kth[ok], m, alpha)
    ratio = float(np.mean(1.0 / (copies + 1.0)))
    groups = max(1, int(round(ratio * n)))
    repetitive = ratio <= threshold
    why = (f"about {groups:,} distinct groups in {n:,} samples ({ratio:.0%}; "
           f"{np.mean(copies > 0):.0%} of {rows.size:,} sampled rows have near-identical copies)")
    return Repetition(repetitive, groups, ratio, n, int(rows.size), k_eff, m, alpha, threshold, why)
