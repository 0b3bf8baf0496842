"""Property tests of the embedding-file loaders: what is saved loads back unchanged, and
no file content at all makes them fail with anything but a clear InputError."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from labelscout.errors import InputError
from labelscout.runs.ids import encode_id, format_id_lines
from labelscout.sources.precomputed import load_precomputed

_settings = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# ids: any text without leading/trailing white space issues (those are quoted on write), unique
_ids = st.text(alphabet=st.characters(blacklist_categories=()), min_size=1, max_size=16)
_finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32).filter(lambda v: v != 0)


@st.composite
def _table(draw, dtype=np.float32):
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 6))
    X = draw(arrays(dtype, (n, d), elements=_finite))
    ids = draw(st.lists(_ids, min_size=n, max_size=n, unique=True))
    return X, ids


@_settings
@given(_table(), st.sampled_from([np.float32, np.float16, np.float64]))
def test_npy_and_ids_round_trip(tmp_path, table, dtype):
    X, ids = table
    with np.errstate(over="ignore"):
        X = X.astype(dtype)
    X[~np.isfinite(X) | (X == 0)] = 1  # float16 may overflow or flush to zero
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "x.ids.txt").write_bytes(format_id_lines(ids).encode("utf-8"))
    emb = load_precomputed(tmp_path / "x.npy")
    assert emb.ids == ids
    expect = X if dtype in (np.float32, np.float16) else X.astype(np.float32)
    assert np.asarray(emb.vectors).dtype == expect.dtype and np.array_equal(np.asarray(emb.vectors), expect)


@_settings
@given(_table())
def test_csv_round_trip(tmp_path, table):
    """A CSV written with ids escaped as selection.csv writes them loads back bit for bit
    (repr of a float32 as a double is exact)."""
    import csv
    import io

    X, ids = table
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", *[f"embedding_{j}" for j in range(X.shape[1])]])
    for sid, row in zip(ids, X):
        w.writerow([encode_id(sid), *[repr(float(v)) for v in row]])
    (tmp_path / "x.csv").write_bytes(buf.getvalue().encode("utf-8"))
    emb = load_precomputed(tmp_path / "x.csv")
    assert emb.ids == ids and np.array_equal(np.asarray(emb.vectors), X)


@_settings
@given(st.binary(max_size=400), st.sampled_from(["x.npy", "x.csv", "x.tsv"]))
def test_any_bytes_give_a_result_or_a_clear_error(tmp_path, data, name):
    (tmp_path / name).write_bytes(data)
    (tmp_path / "x.ids.txt").write_text("a\nb\n")
    try:
        emb = load_precomputed(tmp_path / name)
    except InputError as exc:
        assert str(exc.message) and "x." in exc.message  # names the file
    else:
        assert np.isfinite(np.asarray(emb.vectors, dtype=np.float64)).all() and len(emb.ids) == len(emb)


@_settings
@given(_table(), st.integers(0, 10_000))
def test_damaged_npy_is_a_clear_error(tmp_path, table, cut):
    """An .npy cut short anywhere, or with one byte flipped in its header, is refused with a
    message or loads the same array; it never crashes."""
    X, ids = table
    np.save(tmp_path / "good.npy", X)
    raw = (tmp_path / "good.npy").read_bytes()
    for variant in (raw[: cut % len(raw)], raw[:9] + bytes([raw[9] ^ 0xFF]) + raw[10:]):
        (tmp_path / "x.npy").write_bytes(variant)
        (tmp_path / "x.ids.txt").write_bytes(format_id_lines(ids).encode("utf-8"))
        try:
            emb = load_precomputed(tmp_path / "x.npy", mmap=False)
        except InputError as exc:
            assert "x.npy" in exc.message
        else:
            assert np.array_equal(np.asarray(emb.vectors), X)
