"""Precomputed embeddings as a source: vectors made elsewhere (any modality: text, audio,
LiDAR...) go through the same selection engine.

Accepted layouts:

* ``X.npy`` (n_samples, n_features) + an ids file (one id per line, in row order);
* a CSV / TSV or parquet table with an id column (``id``, ``filename``, ``filenames``,
  ``path``, ``file``) and either ``embedding_0 .. embedding_{D-1}`` columns (any other
  column is carried along as per-sample metadata) or, without them, numeric columns only
  (each one is a dimension). Lightly's ``embeddings.csv`` (``filenames,embedding_0,...,
  embedding_{D-1},labels``) is the first kind; its ``labels`` become the ``label`` metadata.

The result is an :class:`~labelscout.embed.store.EmbeddingSet` whose fingerprint is the
SHA-256 of the files read, so a selection traces back to the exact bytes it used.
"""
from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..embed.store import EmbeddingSet
from .._validation import zero_rows
from ..errors import InputError

__all__ = ["load_precomputed", "ID_COLUMNS", "TABLE_SUFFIXES"]

log = logging.getLogger(__name__)

ID_COLUMNS = ("id", "filename", "filenames", "path", "file")
#: carried along as the ``label`` metadata (Lightly writes ``labels``)
LABEL_COLUMNS = ("label", "labels")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
_EMB_COL = re.compile(r"^embedding_(\d+)$")
_HASH_CHUNK = 16 << 20
_CHECK_ROWS = 65_536  # rows per block of the finiteness check (memory-mapped inputs stay mapped)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def load_precomputed(path: str | Path, ids: str | Path | None = None, *, mmap: bool = True) -> EmbeddingSet:
    """Load precomputed embeddings (see the module docs for the layouts).

    ``ids``: the ids file of an ``.npy`` array (one per line, row order). Without it,
    ``ids.txt`` or ``<name>.ids.txt`` next to the array is used when present.
    """
    from .scan import require_input_file

    path = require_input_file(path, "--embeddings file", hint="Give an .npy array (with --ids) or a CSV / parquet table.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        vectors, id_list, meta, files = _from_npy(path, ids, mmap)
        fmt = "npy"
    elif suffix in TABLE_SUFFIXES:
        if ids is not None:
            raise InputError(f"{path.name} is a table with its own id column; --ids applies to .npy arrays only.",
                             hint="Drop --ids.")
        vectors, id_list, meta = _from_table(path)
        files = [path]
        fmt = "parquet" if suffix in (".parquet", ".pq") else "csv"
    else:
        raise InputError(f"{path.name}: unknown embeddings format {suffix or '(no suffix)'!r}.",
                         hint="Use .npy (+ an ids file), .csv, .tsv or .parquet.")
    _check_vectors(vectors, id_list, path)
    _check_ids(id_list, files[-1])
    fingerprint: dict[str, Any] = {
        "source": "precomputed", "format": fmt, "files": [f.name for f in files],
        "sha256": [_sha256(f) for f in files], "shape": list(vectors.shape), "dtype": str(vectors.dtype),
    }
    return EmbeddingSet(vectors, id_list, model_id=f"precomputed:{path.name}", fingerprint=fingerprint, sample_meta=meta)


# -- .npy + ids ------------------------------------------------------------------------
_NPY_MAGIC = b"\x93NUMPY"
_HINT_NPY = "Save the array with numpy.save(path, X) (X of shape (n_samples, n_features), float32), or give a CSV."


def _load_npy(path: Path, mmap: bool, what: str = "Embeddings file") -> np.ndarray:
    """``np.load`` with every way a file can fail to be an .npy array named for what it is
    (numpy's own messages say "pickled data" for a text file, and an empty file raised an
    EOFError that the command line printed as "Aborted.")."""
    from .scan import open_regular

    try:
        with open_regular(path) as fh:
            head = fh.read(16)
    except OSError as exc:
        raise InputError(f"{what} {path} cannot be read ({exc}).", hint="Check the path and its permissions.") from exc
    if not head:
        raise InputError(f"{what} {path} is empty (0 bytes).", hint=_HINT_NPY)
    if not head.startswith(_NPY_MAGIC):
        looks = "text" if all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "binary data of another format"
        raise InputError(f"{what} {path} is not a NumPy .npy file: it does not start with the .npy magic bytes "
                         f"(it looks like {looks}).", hint=_HINT_NPY + (" A text table needs the .csv suffix." if looks == "text" else ""))
    try:
        with open_regular(path) as fh:  # the header says how many bytes the data takes
            version = np.lib.format.read_magic(fh)
            fmt = np.lib.format
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read_header(fh)
            data_start, size = fh.tell(), os.fstat(fh.fileno()).st_size
        if not dtype.hasobject:
            need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if size - data_start < need:
                raise InputError(f"{what} {path} is truncated: its header promises {shape} {dtype} values "
                                 f"({need} bytes) but the file holds {size - data_start}.",
                                 hint="Re-copy the file, or save the array again.")
    except (ValueError, EOFError, OSError) as exc:
        raise InputError(f"{what} {path} has a damaged .npy header ({exc}).", hint=_HINT_NPY) from exc
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise InputError(f"{what} {path} holds an object (pickled) array, not numbers.", hint=_HINT_NPY) from exc
        raise InputError(f"{what} {path} cannot be read as a numeric .npy array ({exc}).", hint=_HINT_NPY) from exc
    except (EOFError, OSError) as exc:  # a header that promises more data than the file holds
        raise InputError(f"{what} {path} is truncated: its header promises more data than the file holds ({exc}).",
                         hint="Re-copy the file, or save the array again.") from exc
def _from_npy(path: Path, ids: str | Path | None, mmap: bool):
    vectors = _load_npy(path, mmap)
    if vectors.ndim != 2:
        raise InputError(f"{path} must hold a 2-D array (n_samples, n_features); got shape {vectors.shape}.")
    if not np.issubdtype(vectors.dtype, np.number) or np.issubdtype(vectors.dtype, np.complexfloating):
        raise InputError(f"{path} holds {vectors.dtype} values; embeddings must be real numbers.")
    if vectors.dtype not in (np.float32, np.float16):  # float64 / ints: one float32 copy
        vectors = np.asarray(vectors, dtype=np.float32)
    ids_path = Path(ids) if ids is not None else next(
        (p for p in (path.with_name(f"{path.stem}.ids.txt"), path.with_name("ids.txt")) if p.is_file()), None)
    if ids_path is None:
        raise InputError(f"{path.name} needs its sample ids: none given and no ids.txt or {path.stem}.ids.txt next to it.",
                         hint="Give --ids FILE with one id per line, in the array's row order.")
    from ..runs.ids import decode_id, read_text_lenient
    from .scan import require_input_file

    require_input_file(ids_path, "--ids file", hint="Give --ids FILE with one id per line, in the array's row order.")
    # split on '\n' only (a form feed or U+2028 inside a name is not a line break); ids that
    # cannot stand on a line are quoted the way selection.txt writes them
    lines = read_text_lenient(ids_path).split("\n")
    while lines and not lines[-1].strip():  # a trailing newline is not an id
        lines.pop()
    id_list = [decode_id(ln.strip()) for ln in lines]
    empty = [i + 1 for i, s in enumerate(id_list) if not s]
    if empty:
        raise InputError(f"{ids_path} has empty ids on line(s) {empty[:5]}{' ...' if len(empty) > 5 else ''}.",
                         hint="Every row of the array needs an id: one non-empty line per row.")
    if len(id_list) != vectors.shape[0]:
        raise InputError(f"{path.name} has {vectors.shape[0]} rows (shape {vectors.shape}) but {ids_path.name} has {len(id_list)} ids.",
                         hint="The ids file needs exactly one line per row of the array, in the same order.")
    return vectors, id_list, {}, [path, ids_path]


# -- tables ----------------------------------------------------------------------------
def _read_table(path: Path) -> tuple[list[str], dict[str, list[str]] | dict[str, Any]]:
    """Column names and columns (strings for CSV; native values for parquet)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pandas as pd
        except ImportError as exc:
            raise InputError(f"Reading {path.name} needs pandas and pyarrow.", hint="pip install 'labelscout[tabular]'.") from exc
        df = pd.read_parquet(path)
        return [str(c) for c in df.columns], {str(c): df[c].to_numpy() for c in df.columns}
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    import io

    from ..runs.ids import read_text_lenient

    text = read_text_lenient(path)
    if "\x00" in text:
        raise InputError(f"{path} holds NUL bytes: it is binary data, not a CSV text table.",
                         hint="Give a CSV / TSV text table, or an .npy array with the .npy suffix.")
    try:
        return _parse_table(path, csv.reader(io.StringIO(text, newline=""), delimiter=delim))
    except csv.Error as exc:
        raise InputError(f"{path} is not a valid CSV ({exc}).", hint="Check the file's quoting.") from exc


def _parse_table(path: Path, reader) -> tuple[list[str], dict[str, list[str]]]:
    """Header and columns of a CSV read row by row; a row of the wrong width names its line."""
    header = next(reader, None)
    if not header:
        raise InputError(f"{path} is empty; expected a header row with an id column and embedding columns.")
    header = [h.strip() for h in header]
    cols: list[list[str]] = [[] for _ in header]
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(f"{path}, line {line_no}: {len(row)} fields, but the header has {len(header)}.",
                             hint="Every row needs one value per column.")
        for c, v in zip(cols, row):
            c.append(v)
    return header, dict(zip(header, cols))


def _from_table(path: Path):
    header, table = _read_table(path)
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"{path.name} has repeated column names {dupes}.")
    lower = {h.lower(): h for h in header}
    id_col = next((lower[c] for c in ID_COLUMNS if c in lower), None)
    if id_col is None:
        raise InputError(f"{path.name} has no id column; its columns are {header[:8]}{' ...' if len(header) > 8 else ''}.",
                         hint=f"Name the id column one of {', '.join(ID_COLUMNS)}.")
    emb_cols = sorted((h for h in header if _EMB_COL.match(h)), key=lambda h: int(_EMB_COL.match(h).group(1)))
    label_col = next((lower[c] for c in LABEL_COLUMNS if c in lower), None)
    if emb_cols:
        numbers = [int(_EMB_COL.match(h).group(1)) for h in emb_cols]
        if numbers != list(range(len(numbers))):
            missing = sorted(set(range(max(numbers) + 1)) - set(numbers))
            raise InputError(f"{path.name}: embedding columns must be embedding_0 .. embedding_{{D-1}}; missing {['embedding_%d' % m for m in missing[:5]]}.")
        extra = [h for h in header if h != id_col and h not in emb_cols]
    else:
        # no embedding_ columns: every column except the id (and a label) is a dimension
        emb_cols = [h for h in header if h not in (id_col, label_col)]
        extra = [label_col] if label_col else []
        if not emb_cols:
            raise InputError(f"{path.name} has an id column but no embedding columns.",
                             hint="Add numeric columns, or name them embedding_0 .. embedding_{D-1}.")
    n = len(table[id_col])
    vectors = np.empty((n, len(emb_cols)), dtype=np.float32)
    for j, col in enumerate(emb_cols):
        vectors[:, j] = _numeric_column(path, col, table[col], id_col, table[id_col])
    from ..runs.ids import decode_id

    ids = [decode_id(str(v).strip()) for v in table[id_col]]
    meta: dict[str, list[Any]] = {}
    for col in extra:
        key = "label" if col == label_col else col
        meta[key] = [None if _missing(v) else (v if isinstance(v, (str, int, float, bool)) else v.item() if hasattr(v, "item") else str(v))
                     for v in table[col]]
    return vectors, ids, meta


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "") or (isinstance(v, float) and np.isnan(v))


def _numeric_column(path: Path, col: str, values, id_col: str, ids) -> np.ndarray:
    """One column as float32; a non-numeric cell is an error that names column, row and value."""
    try:
        return np.asarray(values, dtype=np.float32)
    except (ValueError, TypeError):
        pass
    for row, v in enumerate(values):
        try:
            float(v)
        except (ValueError, TypeError):
            raise InputError(
                f"{path.name}: column {col!r} is not numeric: row {row} ({id_col}={str(ids[row]).strip()!r}) holds {v!r}.",
                hint="Embedding columns must hold numbers only; name the dimensions embedding_0 .. embedding_{D-1} "
                     "to carry other columns along as metadata.") from None
    raise InputError(f"{path.name}: column {col!r} cannot be read as numbers.")  # pragma: no cover - float() accepted all


def _check_vectors(vectors: np.ndarray, ids: list[str], path: Path) -> None:
    n = vectors.shape[0]
    if n == 0 or vectors.shape[1] == 0:
        raise InputError(f"{path.name} holds no embeddings (shape {vectors.shape}).")
    bad: list[int] = []
    for s in range(0, n, _CHECK_ROWS):
        block = np.asarray(vectors[s:s + _CHECK_ROWS])
        bad.extend((s + np.flatnonzero(~np.isfinite(block).all(axis=1))).tolist())
    if bad:
        shown = ", ".join(f"row {r} ({ids[r]!r})" for r in bad[:5])
        raise InputError(f"{path.name}: {len(bad)} of {n} embeddings hold NaN or inf: {shown}{' ...' if len(bad) > 5 else ''}.",
                         hint="Drop or recompute those rows (a model can emit NaN for a degenerate input).")
    zero = zero_rows(vectors)
    if zero.size:
        shown = ", ".join(f"row {r} ({ids[r]!r})" for r in zero[:5])
        raise InputError(f"{path.name}: {zero.size} of {n} embeddings are all zeros: {shown}{' ...' if zero.size > 5 else ''}. "
                         "A zero vector has no direction, so it has no cosine distance to anything (often a placeholder "
                         "for a sample that failed).",
                         hint="Drop or recompute those rows.")


def _check_ids(ids: list[str], where: Path) -> None:
    seen: dict[str, int] = {}
    reported: set[str] = set()
    dupes: list[str] = []
    for row, i in enumerate(ids):
        if i in seen and i not in reported:
            reported.add(i)
            dupes.append(f"{i!r} (rows {seen[i]} and {row})")
        seen.setdefault(i, row)
    if dupes:
        raise InputError(f"{where.name} has {len(dupes)} duplicate id(s): {', '.join(dupes[:5])}{' ...' if len(dupes) > 5 else ''}.",
                         hint="Every sample needs a unique id; selections and reports refer to samples by id.")
