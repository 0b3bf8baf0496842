"""Exact duplicates come from content hashes: groups, representative, frames left out."""
from __future__ import annotations

import numpy as np
import pytest

from labelscout.detectors import ExactDuplicateDetector
from labelscout.errors import InputError


def test_groups_by_hash_with_first_sorted_id_kept(rng):
    ids = ["b.jpg", "a.jpg", "c.jpg", "d.jpg", "e.jpg", "clip.mp4#frame=0", "clip2.mp4#frame=0", "f.jpg"]
    hashes = ["h1", "h1", "h2", "h1", "h3", "video-x#frame=0", "video-x#frame=0", "h3"]
    X = rng.normal(size=(len(ids), 4))
    det = ExactDuplicateDetector().fit(X, ids=ids, hashes=hashes)
    assert [[ids[r] for r in g] for g in det.groups_] == [["a.jpg", "b.jpg", "d.jpg"], ["e.jpg", "f.jpg"]]
    assert [ids[r] for r in det.representatives_] == ["a.jpg", "e.jpg"]
    assert det.n_skipped_ == 2  # video frame keys are not file hashes
    assert det.group_of_.tolist() == [0, 0, -1, 0, 1, -1, -1, 1]
    iss = det.issues_
    assert sorted(iss.flagged_ids()) == ["b.jpg", "d.jpg", "f.jpg"] and set(iss.issue) == {"exact_duplicate"}
    assert np.all(iss.score == 1.0)
    ev = dict(zip(iss.ids, iss.evidence))
    assert ev["d.jpg"] == {"group": 0, "representative": "a.jpg", "size": 3}


@pytest.mark.parametrize("n,n_distinct", [(1, 1), (50, 7), (300, 299)])
def test_matches_a_plain_dictionary(n, n_distinct, rng):
    hashes = [f"h{v}" for v in rng.integers(0, n_distinct, n)]
    ids = [f"{i:04d}" for i in rng.permutation(n)]
    det = ExactDuplicateDetector().fit(rng.normal(size=(n, 3)), ids=ids, hashes=hashes)
    want = {}
    for sid, h in zip(ids, hashes):
        want.setdefault(h, []).append(sid)
    assert sorted(sorted(ids[r] for r in g) for g in det.groups_) == sorted(sorted(v) for v in want.values() if len(v) > 1)
    assert len(det.issues_.flagged_ids()) == n - len(want)


def test_needs_hashes(rng):
    with pytest.raises(InputError, match="needs content hashes"):
        ExactDuplicateDetector().fit(rng.normal(size=(3, 2)))
    with pytest.raises(InputError, match="hashes has 2 entries for 3 samples"):
        ExactDuplicateDetector().fit(rng.normal(size=(3, 2)), hashes=["a", "b"])
