"""Precomputed embeddings: every layout loads the same vectors and ids; bad files fail
with messages that say what, where and what to do."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from labelscout.errors import InputError
from labelscout.sources.precomputed import load_precomputed


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 5)).astype(np.float32)
    ids = [f"img/{i:03d}.jpg" for i in range(12)]
    return X, ids


def write_npy(tmp_path, X, ids, name="X.npy", ids_name="ids.txt"):
    np.save(tmp_path / name, X)
    (tmp_path / ids_name).write_text("".join(f"{i}\n" for i in ids))
    return tmp_path / name, tmp_path / ids_name


def write_lightly_csv(path, X, ids, labels):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["filenames", *[f"embedding_{j}" for j in range(X.shape[1])], "labels"])
        for i, v, lab in zip(ids, X, labels):
            w.writerow([i, *[repr(float(x)) for x in v], lab])
    return path


def test_npy_with_ids_round_trips(tmp_path, data):
    X, ids = data
    xp, ip = write_npy(tmp_path, X, ids)
    emb = load_precomputed(xp, ip)
    np.testing.assert_array_equal(np.asarray(emb.vectors), X)
    assert emb.ids == ids and emb.model_id == "precomputed:X.npy"
    assert emb.fingerprint["sha256"][0] and len(emb.fingerprint["sha256"]) == 2
    # ids.txt next to the array is found without --ids
    assert load_precomputed(xp).ids == ids


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.float16])
def test_npy_dtypes(tmp_path, data, dtype):
    X, ids = data
    xp, ip = write_npy(tmp_path, (X * 10).astype(dtype), ids)
    emb = load_precomputed(xp, ip)
    assert emb.vectors.dtype in (np.float32, np.float16)
    np.testing.assert_allclose(np.asarray(emb.vectors, np.float64), (X * 10).astype(dtype), rtol=1e-3)


def test_fingerprint_follows_file_content(tmp_path, data):
    X, ids = data
    xp, ip = write_npy(tmp_path, X, ids)
    a = load_precomputed(xp, ip).fingerprint
    assert load_precomputed(xp, ip).fingerprint == a
    X2 = X.copy()
    X2[3, 2] += 1e-3
    write_npy(tmp_path, X2, ids)
    assert load_precomputed(xp, ip).fingerprint != a


def test_lightly_embeddings_csv(tmp_path, data):
    X, ids = data
    labels = [i % 3 for i in range(12)]
    p = write_lightly_csv(tmp_path / "embeddings.csv", X, ids, labels)
    emb = load_precomputed(p)
    np.testing.assert_array_equal(emb.vectors, X)  # repr() of a float32 as float64 round-trips
    assert emb.ids == ids and emb.sample_meta["label"] == [str(v) for v in labels]
    assert emb.fingerprint["format"] == "csv"


def test_embedding_columns_are_ordered_by_number_and_extras_carried(tmp_path):
    X = np.arange(24, dtype=np.float32).reshape(2, 12)
    cols = [f"embedding_{j}" for j in range(12)]
    order = [11, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9]  # scrambled, with embedding_10 before embedding_2
    with open(tmp_path / "e.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["split", "id", *[cols[j] for j in order]])
        for r, v in enumerate(X):
            w.writerow(["train", f"s{r}", *[v[j] for j in order]])
    emb = load_precomputed(tmp_path / "e.csv")
    np.testing.assert_array_equal(emb.vectors, X)
    assert emb.sample_meta == {"split": ["train", "train"]}


def test_plain_numeric_table_and_parquet_agree(tmp_path, data):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X, ids = data
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(5)])
    df.insert(0, "path", ids)
    df["label"] = ["cat", "dog"] * 6
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet")
    a, b = load_precomputed(tmp_path / "t.csv"), load_precomputed(tmp_path / "t.parquet")
    np.testing.assert_allclose(a.vectors, X, rtol=1e-6)
    np.testing.assert_array_equal(b.vectors, X)
    assert a.ids == b.ids == ids and a.sample_meta["label"] == b.sample_meta["label"] == ["cat", "dog"] * 6


def test_mismatched_counts(tmp_path, data):
    X, ids = data
    xp, ip = write_npy(tmp_path, X, ids[:-2])
    with pytest.raises(InputError, match=r"X.npy has 12 rows .* ids.txt has 10 ids.*one line per row"):
        load_precomputed(xp, ip)


def test_duplicate_ids_are_named(tmp_path, data):
    X, ids = data
    ids = list(ids)
    ids[7] = ids[2]
    xp, ip = write_npy(tmp_path, X, ids)
    with pytest.raises(InputError, match=r"1 duplicate id\(s\): 'img/002.jpg' \(rows 2 and 7\)"):
        load_precomputed(xp, ip)


def test_nan_rows_are_named(tmp_path, data):
    X, ids = data
    X = X.copy()
    X[4, 1] = np.nan
    X[9, 0] = np.inf
    xp, ip = write_npy(tmp_path, X, ids)
    with pytest.raises(InputError, match=r"2 of 12 embeddings hold NaN or inf: row 4 \('img/004.jpg'\), row 9 \('img/009.jpg'\)"):
        load_precomputed(xp, ip)
    p = write_lightly_csv(tmp_path / "embeddings.csv", X, ids, [0] * 12)
    with pytest.raises(InputError, match=r"row 4 \('img/004.jpg'\)"):
        load_precomputed(p)


def test_non_numeric_column_is_named(tmp_path, data):
    X, ids = data
    p = write_lightly_csv(tmp_path / "embeddings.csv", X, ids, [0] * 12)
    text = p.read_text().splitlines()
    cells = text[4].split(",")
    cells[3] = "oops"
    text[4] = ",".join(cells)
    p.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match=r"column 'embedding_2' is not numeric: row 3 \(filenames='img/003.jpg'\) holds 'oops'"):
        load_precomputed(p)
    # a plain table with a text column: the hint says how to carry it along
    with open(tmp_path / "t.csv", "w") as fh:
        fh.write("id,a,b,split\nx,1,2,train\ny,3,4,test\n")
    with pytest.raises(InputError, match="column 'split' is not numeric") as exc:
        load_precomputed(tmp_path / "t.csv")
    assert "embedding_0" in str(exc.value)


@pytest.mark.parametrize("content, match", [
    ("", "is empty"),
    ("a,b\n1,2\n", "no id column"),
    ("id,embedding_0,embedding_2\nx,1,2\n", r"missing \['embedding_1'\]"),
    ("id,x\nq,1,2\n", "line 2: 3 fields, but the header has 2"),
])
def test_malformed_tables(tmp_path, content, match):
    (tmp_path / "e.csv").write_text(content)
    with pytest.raises(InputError, match=match):
        load_precomputed(tmp_path / "e.csv")


def test_missing_files_and_ids(tmp_path, data):
    X, _ = data
    with pytest.raises(InputError, match="does not exist"):
        load_precomputed(tmp_path / "nope.npy")
    np.save(tmp_path / "only.npy", X)
    with pytest.raises(InputError, match="needs its sample ids.*--ids"):
        load_precomputed(tmp_path / "only.npy")
    np.save(tmp_path / "flat.npy", X[0])
    (tmp_path / "flat.ids.txt").write_text("a\n")
    with pytest.raises(InputError, match="2-D"):
        load_precomputed(tmp_path / "flat.npy")
    (tmp_path / "v.txt").write_text("x")
    with pytest.raises(InputError, match="unknown embeddings format"):
        load_precomputed(tmp_path / "v.txt")
