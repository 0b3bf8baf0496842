"""Near-duplicate groups: samples closer than a distance threshold, joined transitively.

1. kNN graph (:func:`labelscout.space.knn.knn_graph`: exact for small pools, IVF for
   large ones), never an (N, N) matrix.
2. Keep the edges no longer than ``threshold`` that also pass the local ratio test:
   at most ``ratio`` times the local scale at one of their ends, the scale being the
   distance to the k-th listed neighbour (inf when even that one is within the threshold:
   a list filled by near-duplicates says nothing about the density around them). In a
   dense region a pair just inside the threshold is ordinary there, and without the test
   such pairs chain into large groups. They are read as undirected, so the groups are
   symmetric by construction: a ~ b implies b ~ a, even though kNN lists are not (b may
   be among a's neighbours without a being among b's).
3. Groups are the connected components of size >= 2 (``scipy.sparse.csgraph``).
4. Each group keeps one representative: the member closest to the group's centroid (the
   most central one; ties, up to rounding, go to the first id in sorted order, so the
   two members of a pair are decided by their ids). The others are flagged.

Distances: ``metric="cosine"`` (default) measures ``1 - cos`` on the vectors as given;
``"l2"`` the Euclidean distance. The default threshold, 0.04 in cosine distance (cosine
similarity 0.96), was calibrated on the built-in model with the planted-duplicate
benchmark (`labelscout bench duplicates`, docs/benchmarks.md): it groups 98 % of
re-encoded, resized, cropped and mirrored copies of CIFAR-10 images while flagging few
other images (43 in 5,000) and keeping groups small (at most 12). The default ratio 0.5
changes nothing on that 5,000-image pool and the same recall (97.3 %) on a 50,000-image
pool of the CIFAR-10 training set, where it flags 26 % fewer images (2,515 instead of 3,397)
and the largest group shrinks from 334 to 149. 0.05 finds 99.5 % but
chains more unrelated images into groups (up to 27): groups are transitive, so a
threshold errs on the tight side, since dropping a unique image costs more than
labeling a duplicate.

Only groups' members get a row. ``score = 1 - distance / (2 * threshold)``, from the
member's nearest group-mate: 1 for identical vectors, 0.5 at the threshold (monotone).
A group found through ``k`` neighbours is complete when no member has more than ``k``
others within the threshold; with more, the graph can miss edges (never adds any), and
large groups of identical samples are better found by the exact-duplicate detector.
"""
from __future__ import annotations

import numbers
from typing import ClassVar

import numpy as np

from .._validation import Interval, Options
from ..pool import Pool
from ..results import Issues
from ..space.metric import unit_rows
from ._base import BaseDetector

__all__ = ["NearDuplicateDetector", "DEFAULT_THRESHOLD", "MODEL_THRESHOLDS", "threshold_for_model", "threshold_components"]

#: default threshold in cosine distance (1 - cos) for the built-in model
DEFAULT_THRESHOLD = 0.04
#: calibrated defaults per named model (cosine distance): each embedding has its own scale
#: (a whitened embedding spreads pixel-level changes much further than the CIFAR model
#: does), so the threshold is calibrated per model with the planted-duplicate benchmark
#: (benchmarks/bench_near_dup_ratio.py, docs/benchmarks.md); unknown models get
#: DEFAULT_THRESHOLD
MODEL_THRESHOLDS: dict[str, float] = {"ls-cifar-resnet-simclr-128": 0.04,
                                      # 5,400-image planted pool: recall 68 % (flips 98 %, resizes 100 %,
                                      # crops 60 %, JPEG re-encodes 15 %), 33 other images flagged
                                      "efficientnet-lite2": 0.2}


def threshold_for_model(model: str | None) -> float:
    """The calibrated near-duplicate threshold of the vectors of ``model`` (a model id as the
    embeddings record it); DEFAULT_THRESHOLD for None and for models without a calibration."""
    name = str(model or "").removeprefix("builtin:")
    return MODEL_THRESHOLDS.get(name, DEFAULT_THRESHOLD)
#: default local ratio test (1.0 = off): an edge within the threshold must also be at most
#: this fraction of the local scale (the k-th neighbour's distance) at one of its ends
DEFAULT_RATIO = 0.5


def threshold_components(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Connected-component label per node of the undirected graph with edges (rows, cols)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    A = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n)).tocsr()
    # connection="weak" ignores edge direction: the undirected reading of the kNN lists
    _, labels = connected_components(A, directed=True, connection="weak")
    return labels.astype(np.int64)


class NearDuplicateDetector(BaseDetector):
    """Groups of near-identical samples, one representative kept per group.

    Parameters
    ----------
    threshold : largest distance joining two samples (cosine distance ``1 - cos`` with
        ``metric="cosine"``, Euclidean with ``"l2"``).
    k : neighbours per sample in the kNN graph.
    metric : "cosine" or "l2".
    method : kNN search, "auto" (exact up to 200k samples, IVF above), "exact", "ivf" or "hnsw".
    ratio : local ratio test in (0, 1]: an edge must also be at most this fraction of the
        k-th neighbour's distance at one of its ends; 1 turns it off (plain threshold).

    Attributes
    ----------
    groups_ : list of int64 arrays, rows of each group (size >= 2), representative first,
        then ascending; groups ordered by their smallest row.
    representatives_ : ndarray of shape (n_groups,), kept row of each group.
    group_of_ : ndarray of shape (n_samples,), group number per row, -1 outside groups.
    nearest_ : ndarray of shape (n_samples,), nearest group-mate per row (-1 outside groups).
    nearest_distance_ : ndarray of shape (n_samples,), its distance (inf outside groups).
    issues_ : one ``near_duplicate`` row per group member.
    """

    name: ClassVar[str] = "near-duplicates"
    shares_knn_graph: ClassVar[bool] = True
    issue: ClassVar[str] = "near_duplicate"
    description: ClassVar[str] = "Groups of samples within a distance threshold (kNN graph, connected components); one representative per group is kept."
    finds_groups: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "threshold": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "k": [Interval(numbers.Integral, 1, None)],
        "metric": [Options({"cosine", "l2"})],
        "method": [Options({"auto", "exact", "ivf", "hnsw"})],
        "ratio": [Interval(numbers.Real, 0, 1, closed="right")],
    }

    def __init__(self, *, threshold: float | None = None, k: int = 10, metric: str = "cosine", method: str = "auto",
                 ratio: float = DEFAULT_RATIO):
        # None: the threshold calibrated for the model that made the vectors (the pipeline
        # tells it with use_calibration_of; unknown models get DEFAULT_THRESHOLD)
        self.threshold = threshold
        self.calibrated_for: str | None = None
        self.k = k
        self.metric = metric
        self.method = method
        self.ratio = ratio

    def _distances(self, chord: np.ndarray) -> np.ndarray:
        # unit vectors: |a - b|^2 = 2 - 2 cos, so 1 - cos = |a - b|^2 / 2
        return 0.5 * np.square(chord, dtype=np.float64) if self.metric == "cosine" else chord.astype(np.float64)

    def _local_scale(self, D: np.ndarray) -> np.ndarray:
        """Per row: the distance to its k-th listed neighbour, or inf when even that one is
        within the threshold (a list filled by its own near-duplicates says nothing about
        the density around them, and the ratio test must not split such a group)."""
        dk = D[:, -1]
        return np.where(dk > self.threshold_, dk, np.inf)

    def use_calibration_of(self, model_id: str | None) -> "NearDuplicateDetector":
        """An unset ``threshold`` becomes the one calibrated for ``model_id``'s vectors."""
        self.calibrated_for = model_id
        return self

    def _fit(self, pool: Pool) -> None:
        self.threshold_ = float(self.threshold if self.threshold is not None else threshold_for_model(self.calibrated_for))
        X, ids = pool.vectors, pool.ids
        n = X.shape[0]
        Z = unit_rows(X) if self.metric == "cosine" else np.ascontiguousarray(X, dtype=np.float32)
        if n >= 2:
            g = self._knn_graph(Z, self.k, self.method, key=self.metric)
            D = self._distances(g.distances)  # (n, k)
            r, c = np.nonzero((g.indices >= 0) & (D <= self.threshold_))
            cols, d = g.indices[r, c], D[r, c]
            rows = r.astype(np.int64)
            if self.ratio < 1.0:
                scale = self._local_scale(D)
                keep = d <= self.ratio * np.maximum(scale[rows], scale[cols])
                rows, cols, d = rows[keep], cols[keep], d[keep]
            self.knn_method_ = g.method
        else:
            rows = cols = np.empty(0, np.int64)
            d = np.empty(0)
            self.knn_method_ = "none"
        comp = threshold_components(n, rows, cols)
        sizes = np.bincount(comp, minlength=n)
        member = sizes[comp] >= 2

        # nearest group-mate: the shortest kept edge at each end (both directions, since
        # an approximate search may list a pair on one side only)
        both_r, both_c, both_d = np.concatenate([rows, cols]), np.concatenate([cols, rows]), np.concatenate([d, d])
        order = np.lexsort((both_c, both_d, both_r))  # by row, then distance, then neighbour
        both_r, both_c, both_d = both_r[order], both_c[order], both_d[order]
        first = np.ones(both_r.size, dtype=bool)
        first[1:] = both_r[1:] != both_r[:-1]
        nearest = np.full(n, -1, dtype=np.int64)
        nearest_d = np.full(n, np.inf)
        nearest[both_r[first]] = both_c[first]
        nearest_d[both_r[first]] = both_d[first]

        # groups numbered by their smallest row
        mrows = np.flatnonzero(member)  # ascending
        _, first_pos, gnum = np.unique(comp[mrows], return_index=True, return_inverse=True)
        order_groups = np.argsort(mrows[first_pos], kind="stable")
        renum = np.empty_like(order_groups)
        renum[order_groups] = np.arange(order_groups.size)
        gnum = renum[gnum.reshape(-1)]
        n_groups = int(order_groups.size)
        group_of = np.full(n, -1, dtype=np.int64)
        group_of[mrows] = gnum

        # representative: closest to its group's centroid, ties to the first id in sorted order
        reps = np.empty(n_groups, dtype=np.int64)
        if n_groups:
            Zm = np.asarray(Z[mrows], dtype=np.float64)  # (n_members, d)
            counts = np.bincount(gnum, minlength=n_groups).astype(np.float64)
            centroids = np.zeros((n_groups, Z.shape[1]))
            np.add.at(centroids, gnum, Zm)
            centroids /= counts[:, None]
            dc = np.linalg.norm(Zm - centroids[gnum], axis=1)
            # distances equal up to rounding (both members of a pair are equally central)
            # count as ties, so the first id in sorted order wins rather than float noise
            tol = 1e-6 * max(1.0, float(np.abs(centroids).max()))
            dc = np.round(dc / tol)
            id_rank = np.empty(mrows.size, dtype=np.int64)
            id_rank[np.argsort(np.array([ids[i] for i in mrows], dtype=object), kind="stable")] = np.arange(mrows.size)
            best = np.lexsort((id_rank, dc, gnum))
            firsts = np.ones(best.size, dtype=bool)
            firsts[1:] = gnum[best][1:] != gnum[best][:-1]
            reps[gnum[best][firsts]] = mrows[best][firsts]
        groups: list[list[int]] = [[int(reps[g])] for g in range(n_groups)]
        for row, gi in zip(mrows, gnum):
            if row != reps[gi]:
                groups[gi].append(int(row))

        self.groups_ = [np.asarray(gr, dtype=np.int64) for gr in groups]
        self.representatives_ = reps
        self.group_of_ = group_of
        self.nearest_ = np.where(member, nearest, -1)
        self.nearest_distance_ = np.where(member, nearest_d, np.inf)
        out_ids, scores, flags, evidence = [], [], [], []
        for gi, gr in enumerate(groups):
            rep = ids[gr[0]]
            for row in gr:
                dist = float(nearest_d[row])
                out_ids.append(ids[row])
                scores.append(min(1.0, max(0.0, 1.0 - dist / (2.0 * self.threshold_))))
                flags.append(row != gr[0])
                evidence.append({"group": gi, "representative": rep, "nearest": ids[nearest[row]],
                                 "distance": round(dist, 6), "size": len(gr)})
        self.issues_ = Issues.from_rows(self.issue, out_ids, scores, flags, evidence)
