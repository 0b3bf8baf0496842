"""Near-duplicate groups: equal to an O(N^2) brute force on random pools (the plain
threshold rule, and the local ratio test against its own brute force), symmetric, one
central representative per group, scores monotone in the distance."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from labelscout.detectors import NearDuplicateDetector
from labelscout.errors import ConfigError
from labelscout.detectors.near_duplicates import DEFAULT_THRESHOLD, MODEL_THRESHOLDS


def _pool(rng, n_base=60, d=8, n_dups=25, noise=0.01, metric="cosine"):
    """Random points plus noisy copies of some of them (chains of copies allowed)."""
    X = rng.normal(size=(n_base, d))
    rows = [X]
    for _ in range(n_dups):
        src = rng.integers(0, n_base + sum(len(r) for r in rows[1:]))
        allx = np.concatenate(rows)
        rows.append(allx[src][None] + noise * rng.normal(size=(1, d)))
    X = np.concatenate(rows).astype(np.float32)
    return X[rng.permutation(len(X))]


def _brute_groups(X, threshold, metric):
    """Connected components of the all-pairs graph d <= threshold (union-find), size >= 2."""
    Z = X.astype(np.float64)
    if metric == "cosine":
        Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
        D = 1.0 - Z @ Z.T
    else:
        D = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
    n = len(X)
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in itertools.combinations(range(n), 2):
        if D[i, j] <= threshold:
            parent[find(i)] = find(j)
    comps = {}
    for i in range(n):
        comps.setdefault(find(i), set()).add(i)
    return {frozenset(c) for c in comps.values() if len(c) >= 2}, D


def _margin_ok(D, threshold, eps=1e-4):
    """No pair sits within eps of the threshold, where float32 search and float64 differ."""
    off = D[~np.eye(len(D), dtype=bool)]
    return not np.any(np.abs(off - threshold) < eps)


@pytest.mark.parametrize("metric,threshold", [("cosine", 0.002), ("cosine", 0.02), ("l2", 0.05)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_groups_match_brute_force(metric, threshold, seed):
    rng = np.random.default_rng(seed)
    X = _pool(rng, noise=0.02)
    truth, D = _brute_groups(X, threshold, metric)
    if not _margin_ok(D, threshold):
        pytest.skip("a pair sits on the threshold")
    assert truth  # non-trivial: the planted copies form groups
    # k >= n - 1: every edge is in the graph, so the groups must equal brute force exactly
    det = NearDuplicateDetector(threshold=threshold, metric=metric, k=len(X) - 1, ratio=1.0).fit(X)
    assert {frozenset(g.tolist()) for g in det.groups_} == truth
    # small k finds the same groups when no sample has more than k others within the threshold
    within = (D <= threshold).sum(axis=1) - 1
    k = int(within.max()) + 1
    det_k = NearDuplicateDetector(threshold=threshold, metric=metric, k=k, ratio=1.0).fit(X)
    assert {frozenset(g.tolist()) for g in det_k.groups_} == truth


def test_representative_is_most_central_and_evidence_is_consistent(rng):
    X = _pool(rng, noise=0.03)
    ids = [f"s{i:03d}.jpg" for i in range(len(X))]
    det = NearDuplicateDetector(threshold=0.01, k=30).fit(X, ids=ids)
    assert det.groups_, "the pool plants duplicates"
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    flagged = set(det.issues_.flagged_ids())
    for g, rows in enumerate(det.groups_):
        rep = rows[0]
        assert det.representatives_[g] == rep and list(rows[1:]) == sorted(rows[1:])
        c = U[rows].mean(axis=0)
        dc = np.linalg.norm(U[rows] - c, axis=1)
        assert dc[0] <= dc.min() + 1e-5
        if len(rows) == 2:  # equally central: the first id in sorted order is kept
            assert ids[rep] < ids[rows[1]]
        assert ids[rep] not in flagged and all(ids[r] in flagged for r in rows[1:])
        for r in rows:
            assert det.group_of_[r] == g
            mate = det.nearest_[r]
            assert mate in rows and mate != r
            d_mates = 1 - U[rows] @ U[r]
            d_mates[list(rows).index(r)] = np.inf
            assert det.nearest_distance_[r] == pytest.approx(d_mates.min(), abs=1e-5)
    iss = det.issues_
    assert set(iss.issue) == {"near_duplicate"} and len(iss) == sum(len(g) for g in det.groups_)
    for sid, score, ev in zip(iss.ids, iss.score, iss.evidence):
        assert set(ev) == {"group", "representative", "nearest", "distance", "size"}
        assert ev["representative"] == ids[det.groups_[ev["group"]][0]] and ev["size"] == len(det.groups_[ev["group"]])
        assert 0.5 <= score <= 1.0 and score == pytest.approx(1 - ev["distance"] / 0.02, abs=5e-5)  # evidence rounds to 1e-6
    # the score falls as the distance grows
    dist = np.array([ev["distance"] for ev in iss.evidence])
    order = np.argsort(dist)
    assert np.all(np.diff(iss.score[order]) <= 1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 6), threshold=st.floats(0.0005, 0.05))
def test_groups_are_symmetric_and_partition(seed, k, threshold):
    rng = np.random.default_rng(seed)
    X = _pool(rng, n_base=30, n_dups=20, noise=0.03)
    det = NearDuplicateDetector(threshold=threshold, k=k, ratio=1.0).fit(X)
    seen = np.concatenate(det.groups_) if det.groups_ else np.empty(0, int)
    assert len(seen) == len(set(seen.tolist()))  # a partition: no sample in two groups
    # symmetric: a ~ b (same group) iff b ~ a; every kept kNN edge joins one group
    from labelscout.space.knn import knn_graph

    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    g = knn_graph(U, k)
    for i in range(len(X)):
        for j, dch in zip(g.indices[i], g.distances[i]):
            if j >= 0 and 0.5 * float(dch) ** 2 <= threshold:
                assert det.group_of_[i] == det.group_of_[j] >= 0
    for rows in det.groups_:
        for a in rows:
            assert set(np.flatnonzero(det.group_of_ == det.group_of_[a])) == set(rows.tolist())


def test_identical_rows_and_no_groups(rng):
    X = rng.normal(size=(40, 5)).astype(np.float32)
    det = NearDuplicateDetector(threshold=1e-6).fit(X)
    assert det.groups_ == [] and len(det.issues_) == 0 and (det.group_of_ == -1).all()
    X[[3, 9, 17]] = X[9]
    det = NearDuplicateDetector().fit(X, ids=[f"{i:02d}" for i in range(40)])
    assert [g.tolist() for g in det.groups_] == [[3, 9, 17]]  # tie on centrality: first id in sorted order
    assert det.issues_.flagged_ids() == ["09", "17"] and np.all(det.issues_.score == 1.0)


def _brute_ratio_groups(X, threshold, k, ratio):
    """The ratio rule from scratch (l2): edges from each row's k nearest others (float64),
    kept when d <= threshold and d <= ratio * max(scale_i, scale_j), where scale is the k-th
    neighbour's distance, or inf when that one is within the threshold; then components."""
    Z = X.astype(np.float64)
    D = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    nbr = np.argsort(D, axis=1)[:, :k]
    dk = D[np.arange(len(X)), nbr[:, -1]]
    scale = np.where(dk > threshold, dk, np.inf)
    parent = list(range(len(X)))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    margins = []
    for i in range(len(X)):
        for j in nbr[i]:
            bound = min(threshold, ratio * max(scale[i], scale[j]))
            margins.append(abs(D[i, j] - bound))
            if D[i, j] <= bound:
                parent[find(i)] = find(j)
    comps = {}
    for i in range(len(X)):
        comps.setdefault(find(i), set()).add(i)
    return {frozenset(c) for c in comps.values() if len(c) >= 2}, min(margins)


@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.8])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_ratio_groups_match_brute_force(ratio, seed):
    rng = np.random.default_rng(seed)
    X = _pool(rng, n_base=80, n_dups=40, noise=0.04, d=4)
    truth, margin = _brute_ratio_groups(X, 0.08, 5, ratio)
    if margin < 1e-4:
        pytest.skip("an edge sits on a bound, where float32 search and float64 differ")
    det = NearDuplicateDetector(threshold=0.08, metric="l2", k=5, ratio=ratio).fit(X)
    assert {frozenset(g.tolist()) for g in det.groups_} == truth


def test_ratio_cuts_chains_in_dense_regions_but_keeps_isolated_copies():
    """A line of points 0.01 apart chains into one group under the plain threshold 0.015;
    the ratio test cuts it (inside the line the 4th neighbour is only 0.02 away, so 0.01 is
    not unusually close there), while a copy 0.01 from a point with no other neighbours nearby stays a
    pair, and six identical rows (more than k) stay one group: their lists hold only each
    other, which says nothing about the density around them."""
    line = np.stack([np.arange(30) * 0.01, np.zeros(30)], axis=1)
    pair = np.array([[5.0, 5.0], [5.01, 5.0]])
    same = np.tile([[-7.0, 3.0]], (6, 1))
    far = np.random.default_rng(0).normal(size=(10, 2)) * 3 + [[20.0, 0.0]]
    X = np.concatenate([line, pair, same, far]).astype(np.float32)
    plain = NearDuplicateDetector(threshold=0.015, metric="l2", k=4, ratio=1.0).fit(X)
    assert set(range(30)) in [set(g.tolist()) for g in plain.groups_]
    det = NearDuplicateDetector(threshold=0.015, metric="l2", k=4, ratio=0.4).fit(X)
    groups = [set(g.tolist()) for g in det.groups_]
    assert {30, 31} in groups and set(range(32, 38)) in groups
    # the chain falls apart; only its two ends, where the line is sparser, keep short pieces
    on_line = [g & set(range(30)) for g in groups if g & set(range(30))]
    assert len(on_line) <= 2 and all(len(g) <= 3 and g <= set(range(30)) for g in on_line)
    assert not any(g & set(range(4, 26)) for g in on_line)


@pytest.mark.parametrize("params,needle", [
    ({"threshold": 0}, "'threshold' parameter of NearDuplicateDetector must be a float in the range (0, inf) or None. Got 0 instead."),
    ({"k": 0}, "'k' parameter of NearDuplicateDetector must be an int in the range [1, inf"),
    ({"metric": "cos"}, "'metric' parameter of NearDuplicateDetector must be one of"),
    ({"ratio": 0}, "'ratio' parameter of NearDuplicateDetector must be a float in the range (0, 1]. Got 0 instead."),
    ({"ratio": 1.5}, "'ratio' parameter of NearDuplicateDetector must be a float in the range (0, 1]. Got 1.5 instead."),
])
def test_bad_parameters_are_named(params, needle, rng):
    with pytest.raises(ConfigError) as err:
        NearDuplicateDetector(**params).fit(rng.normal(size=(10, 3)))
    assert needle in str(err.value)


@pytest.mark.parametrize("model, expected", [(None, DEFAULT_THRESHOLD), ("precomputed", DEFAULT_THRESHOLD),
                                             ("ls-cifar-resnet-simclr-128", 0.04), ("builtin:ls-cifar-resnet-simclr-128", 0.04),
                                             ("efficientnet-lite2", MODEL_THRESHOLDS["efficientnet-lite2"])])
def test_an_unset_threshold_is_the_one_calibrated_for_the_model_of_the_vectors(model, expected):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 8)).astype(np.float32)
    det = NearDuplicateDetector().use_calibration_of(model).fit(X)
    assert det.threshold_ == expected
    assert NearDuplicateDetector(threshold=0.07).use_calibration_of(model).fit(X).threshold_ == 0.07  # an explicit one always wins


def test_inspect_uses_the_calibration_of_the_model_that_made_the_embeddings(tmp_path):
    import labelscout

    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 16)).astype(np.float32)
    X[1] = X[0] + 0.3 * rng.standard_normal(16).astype(np.float32)  # cosine distance about 0.04-0.1: a lite2 near pair only
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "ids.txt").write_text("".join(f"s{i:02d}\n" for i in range(30)))
    emb = labelscout.select(embeddings=tmp_path / "X.npy", ids=tmp_path / "ids.txt", n=1, out=tmp_path / "a",
                            report=False).out / "embeddings"
    meta = json.loads((emb / "embeddings.json").read_text())
    dist = 1 - float(X[0] @ X[1] / np.linalg.norm(X[0]) / np.linalg.norm(X[1]))
    assert DEFAULT_THRESHOLD < dist < MODEL_THRESHOLDS["efficientnet-lite2"], dist
    found = {}
    for model_id in ("precomputed", "efficientnet-lite2"):
        meta["model_id"] = model_id
        (emb / "embeddings.json").write_text(json.dumps(meta))
        res = labelscout.inspect(emb, out=tmp_path / model_id, detectors=["near-duplicates"])
        found[model_id] = set(res.issues.ids)
    assert found == {"precomputed": set(), "efficientnet-lite2": {"s00", "s01"}}
