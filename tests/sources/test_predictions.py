"""Prediction files: every layout loads the same probabilities aligned to the pool; every
fault is rejected with a message naming the file, the row and the fix; inputs stay untouched."""
from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import InputError
from labelscout.sources.predictions import SUM_TOLERANCE, load_features, load_predictions, softmax

CLASSES = ["cat", "dog", "ship"]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8, 3)) * 3
    ids = [f"train/{i:03d}.jpg" for i in range(8)]
    return softmax(logits), logits, ids


def write_csv(path, P, ids, header=None, delimiter=","):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(header or ["id", *CLASSES])
        for i, row in zip(ids, P):
            w.writerow([i, *[repr(float(v)) for v in row]])
    return path


def write_npy(tmp_path, P, ids, classes=CLASSES):
    np.save(tmp_path / "P.npy", P)
    (tmp_path / "P.ids.txt").write_text("".join(f"{i}\n" for i in ids))
    if classes is not None:
        (tmp_path / "P.classes.txt").write_text("".join(f"{c}\n" for c in classes))
    return tmp_path / "P.npy"


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("layout", ["csv", "tsv", "parquet", "npy", "prefixed"])
def test_layouts_load_the_same_probabilities(tmp_path, data, layout):
    P, _, ids = data
    if layout == "csv":
        path = write_csv(tmp_path / "p.csv", P, ids)
    elif layout == "tsv":
        path = write_csv(tmp_path / "p.tsv", P, ids, delimiter="\t")
    elif layout == "prefixed":
        path = write_csv(tmp_path / "p.csv", P, ids, header=["filename", *[f"prob_{c}" for c in CLASSES]])
    elif layout == "parquet":
        import pandas as pd

        path = tmp_path / "p.parquet"
        pd.DataFrame({"id": ids, **{c: P[:, j] for j, c in enumerate(CLASSES)}}).to_parquet(path)
    else:
        path = write_npy(tmp_path, P, ids)
    before = digest(path)
    pred = load_predictions(path, ids, class_names=["cat", "ship"])
    assert pred.class_names == CLASSES
    np.testing.assert_allclose(pred.probabilities, P, rtol=0, atol=1e-12)
    assert pred.present.all() and not pred.missing and not pred.extra
    assert digest(path) == before  # the input is only read


def test_rows_align_to_pool_order_with_missing_and_extra_reported(tmp_path, data):
    P, _, ids = data
    path = write_csv(tmp_path / "p.csv", P[::-1], ids[::-1] + [], header=None)  # file order differs from the pool
    pool = ids[2:] + ["train/new.jpg"]
    with open(path, "a", newline="") as fh:
        csv.writer(fh).writerow(["elsewhere/x.jpg", 0.2, 0.3, 0.5])
    pred = load_predictions(path, pool)
    assert pred.missing == ["train/new.jpg"]
    assert set(pred.extra) == {*ids[:2], "elsewhere/x.jpg"}
    np.testing.assert_allclose(pred.probabilities[:-1], P[2:], atol=1e-12)
    assert np.isnan(pred.probabilities[-1]).all() and not pred.present[-1]
    assert "1 pool ids have no row" in pred.report() and "3 rows are not in the pool" in pred.report()


def test_logits_are_softmaxed_and_kept(tmp_path, data):
    P, logits, ids = data
    path = write_csv(tmp_path / "s.csv", logits, ids)
    pred = load_predictions(path, ids, logits=True)
    np.testing.assert_allclose(pred.probabilities, P, atol=1e-12)
    np.testing.assert_allclose(pred.logits, logits, atol=1e-12)
    with pytest.raises(InputError, match=r"outside \[0, 1\].*--logits"):
        load_predictions(path, ids)


def test_softmax_matches_the_definition_and_survives_large_scores():
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0]])
    ref = np.exp(z[0]) / np.exp(z[0]).sum()
    out = softmax(z)
    np.testing.assert_allclose(out[0], ref)
    np.testing.assert_allclose(out[1], [0.5, 0.5, 0.0])


def _csv_with(tmp_path, data, row, values):
    P, _, ids = data
    rows = [list(map(repr, map(float, r))) for r in P]
    rows[row] = values
    path = tmp_path / "bad.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *CLASSES])
        for i, r in zip(ids, rows):
            w.writerow([i, *r])
    return path


@pytest.mark.parametrize("row", [0, 5])
@pytest.mark.parametrize("values, words", [
    (["nan", "0.5", "0.5"], r"NaN or infinite.*line {line} \(id 'train/{row:03d}.jpg'\).*Re-export"),
    (["inf", "0", "0"], r"NaN or infinite.*line {line} \(id 'train/{row:03d}.jpg'\)"),
    (["1.5", "-0.25", "-0.25"], r"outside \[0, 1\].*line {line} \(id 'train/{row:03d}.jpg'\).*--logits"),
    (["0.5", "0.2", "0.2"], r"do not sum to 1.*line {line} \(id 'train/{row:03d}.jpg'\).*sums to 0.9.*softmax"),
    (["0.5", "high", "0.5"], r"line {line} \(id 'train/{row:03d}.jpg'\): column 'dog' holds 'high', not a number"),
])
def test_faulty_rows_are_named(tmp_path, data, row, values, words):
    path = _csv_with(tmp_path, data, row, values)
    before = digest(path)
    with pytest.raises(InputError, match=words.format(line=row + 2, row=row)) as err:
        load_predictions(path, data[2])
    assert str(path) in str(err.value)
    assert digest(path) == before


def test_sums_within_tolerance_pass_and_beyond_fail(tmp_path, data):
    P, _, ids = data
    ok = P.copy()
    ok[0] *= 1 + SUM_TOLERANCE / 2
    load_predictions(write_csv(tmp_path / "ok.csv", ok, ids), ids)
    bad = P.copy()
    bad[3] *= 1 + 3 * SUM_TOLERANCE
    with pytest.raises(InputError, match="line 5"):
        load_predictions(write_csv(tmp_path / "bad.csv", bad, ids), ids)


def test_nan_rows_in_npy_are_named_by_row_and_id(tmp_path, data):
    P, _, ids = data
    P = P.copy()
    P[[1, 6]] = np.nan
    with pytest.raises(InputError, match=r"2 row\(s\).*row 1 \(id 'train/001.jpg'\), row 6 \(id 'train/006.jpg'\)"):
        load_predictions(write_npy(tmp_path, P, ids), ids)


@pytest.mark.parametrize("fault, match", [
    ("duplicate", r"repeated id.*'train/000.jpg' \(line 2 and line 10\).*one row"),
    ("no_id", r"no id column.*Name the id column"),
    ("one_class", r"1 class column.*at least 2"),
    ("dup_class", r"names class\(es\) \['cat'\] more than once"),
    ("empty_id", r"empty id: line 3"),
    ("unknown_label", r"label\(s\) \['horse'\] are not among its classes"),
    ("no_match", r"None of the 8 ids.*Ids must be the paths"),
    ("suffix", r"unknown predictions format '.json'"),
    ("missing_file", r"does not exist"),
])
def test_file_faults(tmp_path, data, fault, match):
    P, _, ids = data
    pool, classes = ids, None
    path = tmp_path / "p.csv"
    if fault == "duplicate":
        write_csv(path, np.vstack([P, P[:1]]), ids + ids[:1])
    elif fault == "no_id":
        write_csv(path, P, ids, header=["name", *CLASSES])
    elif fault == "one_class":
        write_csv(path, np.ones((8, 1)), ids, header=["id", "cat"])
    elif fault == "dup_class":
        write_csv(path, P, ids, header=["id", "cat", "cat", "ship"])
    elif fault == "empty_id":
        write_csv(path, P, [ids[0], "", *ids[2:]])
    elif fault == "unknown_label":
        write_csv(path, P, ids)
        classes = ["cat", "horse"]
    elif fault == "no_match":
        write_csv(path, P, ids)
        pool = ["other/1.jpg"]
    elif fault == "suffix":
        path = tmp_path / "p.json"
        path.write_text("{}")
    else:
        path = tmp_path / "absent.csv"
    with pytest.raises(InputError, match=match) as err:
        load_predictions(path, pool, class_names=classes)
    assert path.name in str(err.value)


@pytest.mark.parametrize("fault, match", [
    ("no_ids", r"needs its sample ids.*ids.txt"),
    ("ids_count", r"has 8 rows .* but .* has 7 ids"),
    ("ndim", r"2-D array"),
    ("classes_count", r"names 2 classes but .* has 3 columns"),
])
def test_npy_faults(tmp_path, data, fault, match):
    P, _, ids = data
    path = write_npy(tmp_path, P, ids)
    if fault == "no_ids":
        (tmp_path / "P.ids.txt").unlink()
    elif fault == "ids_count":
        (tmp_path / "P.ids.txt").write_text("\n".join(ids[:7]))
    elif fault == "ndim":
        np.save(path, P.reshape(-1))
    else:
        (tmp_path / "P.classes.txt").write_text("cat\ndog\n")
    with pytest.raises(InputError, match=match):
        load_predictions(path, ids)


def test_npy_without_class_names_takes_the_labels_sorted_or_numbers(tmp_path, data):
    P, _, ids = data
    path = write_npy(tmp_path, P, ids, classes=None)
    assert load_predictions(path, ids).class_names == ["0", "1", "2"]
    assert load_predictions(path, ids, class_names=["ship", "cat", "dog", "cat"]).class_names == CLASSES
    with pytest.raises(InputError, match="not among its classes"):
        load_predictions(path, ids, class_names=["ship", "cat"])  # 2 labels for 3 columns: no guess


def test_features_align_to_the_pool(tmp_path, data):
    _, _, ids = data
    F = np.arange(8 * 4, dtype=np.float32).reshape(8, 4)
    np.save(tmp_path / "F.npy", F)
    (tmp_path / "F.ids.txt").write_text("\n".join(ids))
    feats = load_features(tmp_path / "F.npy", ids[::-1] + ["x.jpg"])
    np.testing.assert_array_equal(feats.features[:8], F[::-1])
    assert feats.missing == ["x.jpg"] and np.isnan(feats.features[8]).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12), st.integers(2, 6), st.integers(0, 2**31 - 1), st.booleans())
def test_saved_predictions_load_back_unchanged(tmp_path_factory, n, c, seed, as_logits):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n, c)) * 5
    values = scores if as_logits else softmax(scores)
    ids = [f"s/{i}.png" for i in range(n)]
    names = [f"c{j}" for j in range(c)]
    path = tmp_path_factory.mktemp("p") / "p.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *names])
        for i, row in zip(ids, values):
            w.writerow([i, *[repr(float(v)) for v in row]])
    order = list(rng.permutation(n))
    pool = [ids[i] for i in order]
    pred = load_predictions(path, pool, logits=as_logits)
    expected = softmax(scores) if as_logits else values
    np.testing.assert_allclose(pred.probabilities, expected[order], atol=1e-12)
    np.testing.assert_allclose(pred.probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert pred.class_names == names
