"""inspect / select --dedupe through the Python API on planted duplicate vectors."""
from __future__ import annotations

import json

import numpy as np
import pytest

import labelscout
from labelscout.embed.store import EmbeddingSet
from labelscout.report.data import compute_report_data
from labelscout.results import Issues


def _pool_with_duplicates(rng, n=80, d=12):
    X = rng.normal(size=(n, d)).astype(np.float32)
    ids = [f"s{i:03d}.jpg" for i in range(n)]  # sorted order = row order
    hashes = [f"h{i:03d}" for i in range(n)]
    # exact copies (same bytes -> same vector) of row 1, a near copy of row 10 and of row 20
    for j in (40, 41):
        X[j], hashes[j] = X[1], hashes[1]
    X[50] = X[10] + 1e-3 * rng.normal(size=d)
    X[60] = X[20] + 1e-3 * rng.normal(size=d)
    X[61] = X[20] + 1e-3 * rng.normal(size=d)
    return EmbeddingSet(X, ids, content_hashes=hashes)


def test_inspect_embeddings_without_hashes_records_the_skip(rng, tmp_path):
    emb = _pool_with_duplicates(rng)
    emb.content_hashes = None
    res = labelscout.inspect(emb, out=tmp_path / "run")
    assert [f["detector"] for f in res.issues.failures] == ["exact-duplicates"]
    assert res.issues.failures[0]["error"].startswith("skipped")
    assert "exact-duplicates skipped" in res.summary()
    assert {frozenset(g.tolist()) for g in res.detectors["near-duplicates"].groups_} == {
        frozenset({1, 40, 41}), frozenset({10, 50}), frozenset({20, 60, 61})}
    run = json.loads((tmp_path / "run" / "inspect.json").read_text())
    assert run["detector_failures"][0]["detector"] == "exact-duplicates" and run["counts"]["pool"] == 80


@pytest.mark.parametrize("strategy", ["coreset", "random"])
def test_select_dedupe_never_picks_dropped_duplicates(rng, tmp_path, strategy):
    emb = _pool_with_duplicates(rng)
    # s050 is the non-representative of the pair {s010, s050} (equally central: first id
    # kept); labeled, it is never dropped and stays as covered
    labeled = [emb.ids[50]]
    out = tmp_path / "run"
    res = labelscout.select(emb, 75, out=out, strategy=strategy, dedupe=True, exclude=labeled, progress=False, report=False)
    issues = Issues.from_csv((out / "issues.csv").read_text())
    dropped = set(issues.flagged_ids()) - set(labeled)
    assert emb.ids[50] in issues.flagged_ids("near_duplicate")
    assert {emb.ids[40], emb.ids[41]} <= dropped and len(dropped) == 4 and len(dropped & {emb.ids[i] for i in (20, 60, 61)}) == 2
    chosen = set(res.selection.ids)
    # every other sample, representatives included, is picked: 80 - 4 dropped - 1 labeled
    assert chosen == set(emb.ids) - dropped - set(labeled)
    assert [emb.ids[i] for i in res.selection.indices] == res.selection.ids  # indices are pool rows
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["duplicates_dropped"] == 4 and run["dedupe"]["groups"] == {"exact-duplicates": 1, "near-duplicates": 3}
    assert "4 duplicates left out" in res.summary()
    assert set(issues.flagged_ids("exact_duplicate")) == {emb.ids[40], emb.ids[41]}


@pytest.mark.slow  # the report's first build compiles its layout code (~20 s)
def test_report_of_a_dedupe_run_shows_the_groups(rng, tmp_path):
    emb = _pool_with_duplicates(rng)
    out = tmp_path / "run"
    labelscout.select(emb, 10, out=out, dedupe=True, exclude=[emb.ids[50]], progress=False, report=True)
    run = json.loads((out / "run.json").read_text())
    data = compute_report_data(out, progress=False)
    shown = {(g.issue, frozenset(m.id for m, _ in g.members)) for g in data.duplicate_groups}
    assert ("near_duplicate", frozenset(emb.ids[i] for i in (20, 60, 61))) in shown
    assert ("exact_duplicate", frozenset(emb.ids[i] for i in (1, 40, 41))) in shown
    assert data.issue_counts["near_duplicate"]["flagged"] == 5  # 2 + 1 + 2, the labeled one included
    assert (out / "report.html").is_file() and "report_error" not in run


def test_select_dedupe_budget_counts_the_deduplicated_pool(rng):
    emb = _pool_with_duplicates(rng)
    with pytest.raises(labelscout.InputError, match="the pool has 75 samples"):
        labelscout.select(emb, 76, dedupe=True, progress=False)
    assert len(labelscout.select(emb, 76, progress=False).selection) == 76  # without --dedupe all 80 are candidates
