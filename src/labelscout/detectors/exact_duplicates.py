"""Exact duplicates: samples whose files have the same bytes.

The embedder already hashes every file's content (BLAKE2b-128, the key of the embedding
cache) and the embeddings sidecar keeps those hashes, so this detector only groups equal
hashes: nothing is read or hashed again. Video frames carry a decode key instead of a
file hash (``video-...#frame=N``): two frames with equal keys are the same frame of
byte-identical videos, not two files, so frames are left out and counted in
``n_skipped_`` (near-duplicate detection covers them).

Each group keeps one representative, the first id in sorted order (stable across runs);
the others are flagged. Rows exist only for members of groups (score 1.0).
"""
from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from ..pool import Pool
from ..results import Issues
from ._base import BaseDetector

__all__ = ["ExactDuplicateDetector", "is_file_hash"]

log = logging.getLogger(__name__)


def is_file_hash(h: Any) -> bool:
    """Whether ``h`` hashes a file's bytes (video frame keys and missing hashes do not)."""
    return isinstance(h, str) and h != "" and not h.startswith("video-")


class ExactDuplicateDetector(BaseDetector):
    """Group samples with identical file content.

    Attributes
    ----------
    groups_ : list of int64 arrays, the rows of each group (size >= 2), representative first,
        then by id; groups ordered by their representative's id.
    representatives_ : ndarray of shape (n_groups,), the kept row of each group.
    group_of_ : ndarray of shape (n_samples,), group number per row, -1 outside groups.
    n_skipped_ : rows without a file hash (video frames, precomputed vectors).
    issues_ : one ``exact_duplicate`` row per group member.
    """

    name: ClassVar[str] = "exact-duplicates"
    issue: ClassVar[str] = "exact_duplicate"
    description: ClassVar[str] = "Files with identical bytes; one representative per group is kept."
    requires_hashes: ClassVar[bool] = True
    finds_groups: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list]] = {}

    def __init__(self) -> None:
        pass

    def _fit(self, pool: Pool) -> None:
        ids, hashes = pool.ids, pool.content_hashes
        assert hashes is not None  # guaranteed by BaseDetector.fit (requires_hashes)
        by_hash: dict[str, list[int]] = {}
        skipped = 0
        for row, h in enumerate(hashes):
            if is_file_hash(h):
                by_hash.setdefault(h, []).append(row)
            else:
                skipped += 1
        if skipped:
            log.info("exact duplicates: %d sample(s) without a file hash (video frames or precomputed vectors) are left out", skipped)
        groups = [sorted(rows, key=lambda r: ids[r]) for rows in by_hash.values() if len(rows) >= 2]
        groups.sort(key=lambda rows: ids[rows[0]])
        self.groups_ = [np.asarray(g, dtype=np.int64) for g in groups]
        self.representatives_ = np.array([g[0] for g in groups], dtype=np.int64)
        self.group_of_ = np.full(len(ids), -1, dtype=np.int64)
        out_ids, flags, evidence = [], [], []
        for g, rows in enumerate(groups):
            rep = ids[rows[0]]
            for r in rows:
                self.group_of_[r] = g
                out_ids.append(ids[r])
                flags.append(r != rows[0])
                evidence.append({"group": g, "representative": rep, "size": len(rows)})
        self.n_skipped_ = skipped
        self.issues_ = Issues.from_rows(self.issue, out_ids, np.ones(len(out_ids)), flags, evidence)
