"""ReportData computed from real run folders, checked against brute-force references."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

import labelscout
from labelscout.embed.store import EmbeddingSet
from labelscout.errors import InputError
from labelscout.report.data import STATUS_LABELED, STATUS_REMOVED, STATUS_SELECTED, compute_report_data
from labelscout.report.geometry import sample_rows
from labelscout.results import Issues

TOL = 2e-3
CLASSES = ("cat", "dog", "ship")


def _unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _dist(A, B):
    return np.sqrt(((A[:, None, :].astype(np.float64) - B[None, :, :]) ** 2).sum(-1))


def _pool(rng, n=54, d=12):
    centres = rng.normal(size=(len(CLASSES), d)) * 3
    lab = np.arange(n) % len(CLASSES)
    X = (centres[lab] + rng.normal(size=(n, d))).astype(np.float32)
    ids = [f"{CLASSES[c]}/{i:04d}.jpg" for i, c in enumerate(lab)]
    return X, ids


def _run(tmp_path, X, ids, n=8, name="run", **kw):
    out = tmp_path / name
    labelscout.select(EmbeddingSet(X, ids), n, out=out, report=False, progress=False, **kw)
    return out


def test_report_data_matches_brute_force(rng, tmp_path):
    X, ids = _pool(rng)
    labeled = ids[:3]
    run = _run(tmp_path, X, ids, n=8, exclude=labeled)
    d = compute_report_data(run, progress=False)
    U = _unit(X.astype(np.float64))  # cosine: the selection's space is unit vectors
    sel = [ids.index(s) for s in (run / "selection.txt").read_text().split()]
    lab = [ids.index(s) for s in labeled]
    centres = np.array(sel + lab)

    # statuses and counts
    assert (d.map.status == STATUS_SELECTED).sum() == 8 and (d.map.status[sel] == STATUS_SELECTED).all()
    assert (d.map.status[lab] == STATUS_LABELED).all() and (d.map.status == STATUS_REMOVED).sum() == len(ids) - 11
    assert d.summary["pool"] == 54 and d.summary["selected"] == 8 and d.summary["labeled"] == 3 and d.summary["removed"] == 43
    assert [int(r) for r in d.map.rank[sel]] == list(range(8))

    # coverage: distance of every sample to its nearest selected or labeled sample
    D = _dist(U, U[centres])
    np.testing.assert_allclose(d.map.centre_distance, D.min(1), atol=TOL)
    np.testing.assert_allclose(_dist(U, U)[np.arange(len(ids)), d.map.nearest_centre], D.min(1), atol=TOL)
    cov = next(h for h in d.histograms if h.key == "coverage")
    by_name = {s.name: s for s in cov.series}
    np.testing.assert_allclose(by_name["selection + labeled"].values, D.min(1), atol=TOL)
    np.testing.assert_allclose(by_name["labeled only (before)"].values, _dist(U, U[lab]).min(1), atol=TOL)
    assert all(s.counts.sum() == len(ids) for s in cov.series)
    assert by_name["selection + labeled"].stats["max"] == pytest.approx(D.min(1).max(), abs=TOL)

    # nearest-neighbour distances in the pool and within the selection
    nn = next(h for h in d.histograms if h.key == "nn")
    P = _dist(U, U)
    np.fill_diagonal(P, np.inf)
    np.testing.assert_allclose(nn.series[0].values, P.min(1), atol=TOL)
    S = P[np.ix_(sel, sel)]
    np.testing.assert_allclose(np.sort(nn.series[1].values), np.sort(S.min(1)), atol=TOL)

    # kept samples: their nearest removed samples, and how many samples each stands for
    removed = np.flatnonzero(d.map.status == STATUS_REMOVED)
    owner = centres[D.argmin(1)]
    assert d.kept and len(d.kept) <= 16
    for ex in d.kept:
        row = ex.kept.index
        assert ex.kept.status == "selected" and ex.kept.id == ids[row]
        ref = np.sort(_dist(U[[row]], U[removed])[0])[:8]
        np.testing.assert_allclose([nb.distance for nb in ex.neighbours], ref, atol=TOL)
        assert all(nb.sample.status == "not selected" for nb in ex.neighbours)
        assert ex.stands_for == int((owner == row).sum())
        for nb in ex.neighbours:
            assert (nb.note == "") == (owner[nb.sample.index] == row)
    assert sum(ex.stands_for for ex in d.kept) <= len(ids)

    # balance before and after, from the class folders
    (bal,) = d.balance
    assert bal.name == "label" and bal.pool_total == 54 and bal.selected_total == 8
    sel_counts = Counter(ids[i].split("/")[0] for i in sel)
    assert {v: (p, s) for v, p, s in bal.rows} == {c: (18, sel_counts.get(c, 0)) for c in CLASSES}
    assert d.map.label_names and sorted(d.map.label_names) == sorted(CLASSES)

    # without issues.csv: nothing invented, and the page says why
    assert d.issue_counts is None and d.duplicate_groups == [] and d.outliers == []
    assert any("issues.csv" in n for n in d.notes)
    assert d.summary["map_method"] == "pca"  # 54 samples: too few for UMAP


def test_issue_groups_and_outliers_from_issues_csv(rng, tmp_path):
    X, ids = _pool(rng, n=30)
    run = _run(tmp_path, X, ids, n=5)
    near = Issues.from_rows("near_duplicate", ids[:4], [0.9, 0.9, 0.8, 0.8], [1, 1, 1, 0],
                            [{"group": 7, "distance": 0.01}, {"group": 7, "distance": 0.02},
                             {"group": 7, "representative": ids[0]}, {"group": 9}])
    # exact duplicates that only name their neighbour: grouped by joining the pairs
    exact = Issues.from_rows("exact_duplicate", [ids[10], ids[11], ids[20]], [1, 1, 1], [1, 1, 1],
                             [{"nearest": ids[11]}, {"nearest": ids[12]}, {"nearest": ids[21], "distance": 0.0}])
    outl = Issues.from_rows("outlier", ids[5:9], [0.2, 0.95, 0.5, 0.99], [0, 1, 1, 0],
                            [{"distance": 1.5}, {"distance": 3.0}, {}, {}])
    (run / "issues.csv").write_text(Issues.concat([near, exact, outl]).to_csv())
    d = compute_report_data(run, progress=False)
    assert d.issue_counts == {"near_duplicate": {"rows": 4, "flagged": 3}, "exact_duplicate": {"rows": 3, "flagged": 3},
                              "outlier": {"rows": 4, "flagged": 2}}
    groups = {(g.issue, tuple(sorted(m.id for m, _ in g.members))) for g in d.duplicate_groups}
    assert groups == {("near_duplicate", tuple(sorted(ids[:3]))), ("exact_duplicate", tuple(sorted(ids[10:13]))),
                      ("exact_duplicate", tuple(sorted(ids[20:22])))}
    # flagged first, then by score
    assert [o.sample.id for o in d.outliers] == [ids[6], ids[7], ids[8], ids[5]]
    assert d.outliers[0].detail == "kNN distance 3"
    assert d.map.issue_bits[0] & 2 and d.map.issue_bits[10] & 1 and d.map.issue_bits[6] & 4 and not d.map.issue_bits[5]
    assert not any("issues.csv" in n for n in d.notes)


def test_report_with_images_caches_and_reuses_its_work(cifar_sample, small_model_dir, tmp_path):
    run = tmp_path / "run"
    labelscout.select(cifar_sample, 8, out=run, model=str(small_model_dir), device="cpu", workers=0, progress=False,
                      report=False)
    d = compute_report_data(run, progress=False)
    assert d.atlas is not None and d.atlas.present.all() and d.atlas.tile == 32  # CIFAR thumbnails stay 32 px
    assert all(ex.kept.thumb and ex.kept.thumb.startswith("data:image/jpeg;base64,") for ex in d.kept)
    assert not d.notes or all("thumbnail" not in n for n in d.notes)
    cache = run / "report_cache"
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    again = compute_report_data(run, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == stamps  # nothing recomputed or rewritten
    np.testing.assert_array_equal(again.map.xy, d.map.xy)
    assert again.atlas.sheets == d.atlas.sheets
    # a changed pool invalidates the geometry but keeps the thumbnails it can
    (run / "report_cache" / "map.json").write_text(json.dumps({"key": "other"}))
    third = compute_report_data(run, progress=False)
    np.testing.assert_allclose(third.map.xy, d.map.xy, atol=1e-5)
    assert (cache / "thumbs.pack").stat().st_mtime_ns == stamps["thumbs.pack"]


def test_large_pool_histograms_come_from_a_sample_and_stay_exact_for_it(rng, tmp_path):
    X, ids = _pool(rng, n=60)  # under 64 samples: a PCA map, so no UMAP start-up in this test
    X[50:] = X[:10]  # exact duplicates: the hard case for "nearest other sample"
    run = _run(tmp_path, X, ids, n=9)
    d = compute_report_data(run, max_histogram_samples=25, progress=False)
    U = _unit(X.astype(np.float64))
    sel = [ids.index(s) for s in (run / "selection.txt").read_text().split()]
    rows = sample_rows(60, 25, 0)
    assert rows.size == 25 and len(set(rows.tolist())) == 25
    nn = next(h for h in d.histograms if h.key == "nn")
    cov = next(h for h in d.histograms if h.key == "coverage")
    assert "random 25 of the 60" in nn.description and "random 25 of the 60" in cov.description
    P = _dist(U, U)
    np.fill_diagonal(P, np.inf)
    np.testing.assert_allclose(nn.series[0].values, P.min(1)[rows], atol=TOL)
    assert nn.series[1].values.size == 9  # the selection's own curve is never sampled
    np.testing.assert_allclose(cov.series[0].values, _dist(U, U[sel]).min(1)[rows], atol=TOL)
    assert all(s.values.size == 25 for s in cov.series) and all(s.counts.sum() == 25 for s in cov.series)


def test_random_baseline_is_drawn_apart_from_the_histogram_sample(rng, tmp_path):
    # a selection as large as the histogram sample: the two random draws must still differ
    X, ids = _pool(rng, n=60)
    run = _run(tmp_path, X, ids, n=25)
    d = compute_report_data(run, max_histogram_samples=25, progress=False)
    cov = next(h for h in d.histograms if h.key == "coverage")
    random_curve = cov.series[1].values
    assert cov.series[1].name == "random 25" and random_curve.size == 25
    assert (random_curve < 1e-6).mean() < 0.8  # by chance about 25/60 of the rows are random picks themselves


def test_missing_images_and_labels_leave_a_note_not_an_error(rng, tmp_path):
    X = rng.normal(size=(20, 4)).astype(np.float32)
    run = _run(tmp_path, X, [f"img{i}.png" for i in range(20)], n=4)
    d = compute_report_data(run, progress=False)
    assert d.atlas is None and d.balance == [] and d.map.label_names == []
    assert any("--root" in n for n in d.notes)


def test_video_frames_get_thumbnails_timestamps_and_a_video_balance(rng, tmp_path, videos_dir):
    ids = [f"street_cuts.mp4#frame={i}" for i in range(0, 250, 10)] + [f"dashcam_highway.mp4#frame={i}" for i in range(0, 220, 20)]
    ts = [int(s.rsplit("=", 1)[1]) / 25 for s in ids]
    emb = EmbeddingSet(rng.normal(size=(len(ids), 6)).astype(np.float32), ids, sample_meta={"timestamp": ts})
    labelscout.select(emb, 6, out=tmp_path / "run", report=False, progress=False)
    d = compute_report_data(tmp_path / "run", root=videos_dir, progress=False)
    assert d.atlas is not None and d.atlas.present.all()
    assert d.timestamps == ts
    assert all(ex.kept.timestamp == pytest.approx(ts[ex.kept.index]) for ex in d.kept)
    (bal,) = d.balance
    assert bal.name == "video" and {v: p for v, p, _ in bal.rows} == {"street_cuts.mp4": 25, "dashcam_highway.mp4": 11}


def test_bad_run_folders_are_explained(tmp_path, rng):
    with pytest.raises(InputError, match="not a folder"):
        compute_report_data(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="run.json"):
        compute_report_data(tmp_path / "empty")
    X, ids = _pool(rng, n=12)
    run = _run(tmp_path, X, ids, n=3)
    (run / "selection.csv").write_text("id,rank,score,reason\nnot/in/pool.jpg,0,,x\n")
    with pytest.raises(InputError, match="not in"):
        compute_report_data(run)
