"""A model's predictions (class probabilities or logits) and features as a source.

Active learning and label review read what the current model thinks of each sample.
Accepted layouts of a predictions file:

* a CSV / TSV or parquet table with an id column (``id``, ``filename``, ``filenames``,
  ``path``, ``file``) and one numeric column per class; the column names are the class
  names (a common ``prob_`` / ``p_`` / ``logit_`` prefix is dropped: ``prob_cat`` -> ``cat``);
* ``P.npy`` of shape (n_samples, n_classes) + an ids file (one id per line, row order;
  ``ids.txt`` or ``P.ids.txt`` next to it is found by itself) and, optionally, the class
  names in ``P.classes.txt`` (one per line, column order); without them the names are
  ``class_names`` when it has exactly n_classes entries, else "0" .. "C-1".

Every fault is an :class:`~labelscout.errors.InputError` that names the file, the rows
(line numbers for text tables, ids always) and the fix: NaN / inf, probabilities outside
[0, 1] or rows not summing to 1 within 1e-3 (unless ``logits=True``: rows are then
soft-maxed), duplicate ids, non-numeric cells, fewer than two classes, labels that are not
among the classes. Ids are matched to the pool: pool ids without a row are ``missing``,
rows whose id is not in the pool are ``extra``; both are reported, neither is an error
unless nothing matches. Files are only read, never changed.

Features (the model's penultimate activations, (n_samples, n_features)) load with
:func:`load_features` from the layouts of :mod:`labelscout.sources.precomputed`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from .precomputed import ID_COLUMNS, TABLE_SUFFIXES, _load_npy, _read_table, _sha256, load_precomputed

__all__ = ["Predictions", "Features", "load_predictions", "load_features", "softmax", "check_probabilities",
           "SUM_TOLERANCE"]

log = logging.getLogger(__name__)

#: rows of probabilities must sum to 1 within this
SUM_TOLERANCE = 1e-3
_PREFIXES = ("prob_", "proba_", "p_", "logit_", "logits_", "score_")
_SHOWN = 5


@dataclass
class Predictions:
    """Class probabilities aligned to the pool's ids.

    probabilities : ndarray of shape (n_pool, n_classes), float64; row ``i`` belongs to
        pool id ``ids[i]``; rows of ``missing`` ids are NaN (see ``present``).
    class_names : column order of ``probabilities``.
    present : bool ndarray of shape (n_pool,), whether the file had a row for that id.
    missing : pool ids without a row, pool order.
    extra : ids in the file that are not in the pool, file order.
    logits : the raw scores when loaded with ``logits=True`` (same layout), else None.
    source : {"file", "sha256", "format", "rows", "logits"}, for run.json.
    """

    probabilities: np.ndarray
    class_names: list[str]
    present: np.ndarray
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    logits: np.ndarray | None = None
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def report(self) -> str:
        """One line on how the file matched the pool."""
        n = int(self.present.size)
        line = f"predictions for {int(self.present.sum())} of {n} pool samples, {self.n_classes} classes"
        if self.missing:
            line += f"; {len(self.missing)} pool ids have no row (e.g. {_ids(self.missing)})"
        if self.extra:
            line += f"; {len(self.extra)} rows are not in the pool and were ignored (e.g. {_ids(self.extra)})"
        return line


@dataclass
class Features:
    """Per-sample model features aligned to the pool (rows of ``missing`` ids are NaN)."""

    features: np.ndarray  # (n_pool, n_features) float32
    present: np.ndarray
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)


def _ids(items: Sequence[str]) -> str:
    return ", ".join(repr(s) for s in items[:3]) + (" ..." if len(items) > 3 else "")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large scores."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _where(rows: np.ndarray, ids: Sequence[str], line_of) -> str:
    shown = ", ".join(f"{line_of(r)} (id {ids[r]!r})" for r in rows[:_SHOWN])
    return shown + (f" and {rows.size - _SHOWN} more" if rows.size > _SHOWN else "")


def check_probabilities(values: np.ndarray, ids: Sequence[str], *, name: str, logits: bool = False,
                        line_of=lambda r: f"row {r}") -> None:
    """Raise :class:`InputError` naming rows that hold NaN / inf or, unless ``logits``,
    values outside [0, 1] or sums off 1 by more than :data:`SUM_TOLERANCE`."""
    nonfinite = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if nonfinite.size:
        raise InputError(f"{name}: {nonfinite.size} row(s) hold NaN or infinite values: {_where(nonfinite, ids, line_of)}.",
                         hint="Re-export those predictions, or drop the rows (their samples then count as missing).")
    if logits:
        return
    tol = 1e-6
    out_of_range = np.flatnonzero(((values < -tol) | (values > 1 + tol)).any(axis=1))
    if out_of_range.size:
        r = out_of_range[0]
        raise InputError(f"{name}: {out_of_range.size} row(s) hold values outside [0, 1], e.g. {_where(out_of_range, ids, line_of)}; "
                         f"the first has min {values[r].min():.4g}, max {values[r].max():.4g}.",
                         hint="If these are raw model scores, pass --logits (they are soft-maxed); else export probabilities.")
    sums = values.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > SUM_TOLERANCE)
    if off.size:
        raise InputError(f"{name}: {off.size} row(s) do not sum to 1 (within {SUM_TOLERANCE:g}), e.g. {_where(off, ids, line_of)}; "
                         f"the first sums to {sums[off[0]]:.6g}.",
                         hint="Give one column per class with softmax probabilities (multi-label sigmoid scores are not "
                              "class probabilities), or pass --logits for raw scores.")


def load_predictions(path: str | Path, ids: Sequence[str], *, logits: bool = False,
                     class_names: Sequence[Any] | None = None, ids_file: str | Path | None = None) -> Predictions:
    """Read a predictions file (see the module docs), validate it and align it to ``ids``.

    ``ids``: the pool's sample ids. ``logits``: the values are raw scores (soft-maxed).
    ``class_names``: the classes the labels use (e.g. the distinct ``--labels`` values):
    every one must be a class of the file. ``ids_file``: the row ids of an ``.npy`` file.
    """
    from .scan import require_input_file

    path = require_input_file(path, "--predictions file",
                              hint="Give a CSV / parquet table (id column + one column per class) or an .npy array with an ids file.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        values, file_ids, names, fmt, line_of = _from_npy(path, ids_file, class_names)
        files = [path] + ([Path(ids_file)] if ids_file else [])
    elif suffix in TABLE_SUFFIXES:
        if ids_file is not None:
            raise InputError(f"{path.name} is a table with its own id column; an ids file applies to .npy arrays only.",
                             hint="Drop the ids file option.")
        values, file_ids, names, fmt, line_of = _from_table(path)
        files = [path]
    else:
        raise InputError(f"{path.name}: unknown predictions format {suffix or '(no suffix)'!r}.",
                         hint="Use .csv, .tsv, .parquet, or .npy with an ids file.")
    name = str(path)
    if values.shape[0] == 0:
        raise InputError(f"{name} holds no rows.", hint="Export one row per sample.")
    if values.shape[1] < 2:
        raise InputError(f"{name} has {values.shape[1]} class column(s); at least 2 classes are needed.",
                         hint="Give one probability column per class (for a binary model both p and 1 - p).")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{name} names class(es) {dupes} more than once.", hint="Every class column needs a distinct name.")
    _check_unique_ids(file_ids, name, line_of)
    check_probabilities(values, file_ids, name=name, logits=logits, line_of=line_of)
    if class_names is not None:
        known = set(names)
        unknown = sorted({str(c) for c in class_names if c is not None and str(c) not in known})
        if unknown:
            raise InputError(f"{name}: label(s) {unknown[:_SHOWN]} are not among its classes {names[:10]}"
                             f"{' ...' if len(names) > 10 else ''}.",
                             hint="Name the probability columns by the classes the labels use (or fix the labels).")
    probs = softmax(values) if logits else np.asarray(values, dtype=np.float64)
    # aligned to the pool: one row per pool id, NaN where the file has none
    row_of = {sid: r for r, sid in enumerate(file_ids)}
    pool_pos = np.array([row_of.get(sid, -1) for sid in ids], dtype=np.int64)
    present = pool_pos >= 0
    if not present.any():
        raise InputError(f"None of the {len(file_ids)} ids in {name} is in the pool of {len(ids)} samples "
                         f"(file ids e.g. {_ids(file_ids)}; pool ids e.g. {_ids(list(ids))}).",
                         hint="Ids must be the paths relative to the dataset root, as in selection.txt.")
    aligned = np.full((len(ids), probs.shape[1]), np.nan)
    aligned[present] = probs[pool_pos[present]]
    raw = None
    if logits:
        raw = np.full_like(aligned, np.nan)
        raw[present] = np.asarray(values, dtype=np.float64)[pool_pos[present]]
    pool = set(ids)
    result = Predictions(
        probabilities=aligned, class_names=list(names), present=present,
        missing=[sid for sid, ok in zip(ids, present) if not ok], extra=[s for s in file_ids if s not in pool],
        logits=raw,
        source={"file": str(path), "format": fmt, "sha256": [_sha256(f) for f in files], "rows": len(file_ids),
                "logits": bool(logits)},
    )
    if result.missing or result.extra:
        log.warning("%s: %s", path.name, result.report())
    return result


def load_features(path: str | Path, ids: Sequence[str], *, ids_file: str | Path | None = None) -> Features:
    """The model's per-sample features, aligned to ``ids`` (layouts of precomputed embeddings)."""
    emb = load_precomputed(path, ids_file, mmap=False)
    row_of = {sid: r for r, sid in enumerate(emb.ids)}
    pos = np.array([row_of.get(sid, -1) for sid in ids], dtype=np.int64)
    present = pos >= 0
    if not present.any():
        raise InputError(f"None of the {len(emb.ids)} ids in features file {path} is in the pool of {len(ids)} samples.",
                         hint="Ids must be the paths relative to the dataset root, as in selection.txt.")
    vectors = np.asarray(emb.vectors, dtype=np.float32)
    aligned = np.full((len(ids), vectors.shape[1]), np.nan, dtype=np.float32)
    aligned[present] = vectors[pos[present]]
    pool = set(ids)
    return Features(aligned, present, missing=[s for s, ok in zip(ids, present) if not ok],
                    extra=[s for s in emb.ids if s not in pool], source={"file": str(path), **emb.fingerprint})


# -- layouts ---------------------------------------------------------------------------
def _strip_prefix(cols: list[str]) -> list[str]:
    for p in _PREFIXES:
        if cols and all(c.lower().startswith(p) and len(c) > len(p) for c in cols):
            return [c[len(p):] for c in cols]
    return list(cols)


def _from_table(path: Path):
    header, table = _read_table(path)
    text = path.suffix.lower() not in (".parquet", ".pq")
    lower = {h.lower(): h for h in header}
    id_col = next((lower[c] for c in ID_COLUMNS if c in lower), None)
    if id_col is None:
        raise InputError(f"{path} has no id column; its columns are {header[:8]}{' ...' if len(header) > 8 else ''}.",
                         hint=f"Name the id column one of {', '.join(ID_COLUMNS)}.")
    class_cols = [h for h in header if h != id_col]
    from ..runs.ids import decode_id

    file_ids = [decode_id(str(v).strip()) for v in table[id_col]]
    # a CSV's data row r is on line r + 2 (the header is line 1)
    line_of = (lambda r: f"line {r + 2}") if text else (lambda r: f"row {r}")
    empty = [r for r, s in enumerate(file_ids) if not s]
    if empty:
        raise InputError(f"{path}: {len(empty)} row(s) have an empty id: {', '.join(line_of(r) for r in empty[:_SHOWN])}.",
                         hint="Every row needs the sample's id (its path relative to the dataset root).")
    values = np.empty((len(file_ids), len(class_cols)), dtype=np.float64)
    for j, col in enumerate(class_cols):
        values[:, j] = _numeric(path, col, table[col], file_ids, line_of)
    return values, file_ids, _strip_prefix(class_cols), ("parquet" if not text else "csv"), line_of


def _numeric(path: Path, col: str, cells, file_ids, line_of) -> np.ndarray:
    try:
        return np.asarray(cells, dtype=np.float64)
    except (ValueError, TypeError):
        pass
    for r, v in enumerate(cells):
        try:
            float(v)
        except (ValueError, TypeError):
            raise InputError(f"{path}, {line_of(r)} (id {file_ids[r]!r}): column {col!r} holds {v!r}, not a number.",
                             hint="Every column besides the id is a class and must hold its probability (or logit).") from None
    raise InputError(f"{path}: column {col!r} cannot be read as numbers.")  # pragma: no cover - float() accepted all


def _from_npy(path: Path, ids_file, class_names):
    # the shared .npy reader: empty, text, truncated and pickled files each named for what they are
    values = np.asarray(_load_npy(path, mmap=False, what="Predictions file"))
    if values.ndim != 2:
        raise InputError(f"{path} must hold a 2-D array (n_samples, n_classes); got shape {values.shape}.",
                         hint="Save one row per sample and one column per class.")
    if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
        raise InputError(f"{path} holds {values.dtype} values; predictions must be real numbers.")
    ids_path = Path(ids_file) if ids_file is not None else next(
        (p for p in (path.with_name(f"{path.stem}.ids.txt"), path.with_name("ids.txt")) if p.is_file()), None)
    if ids_path is None:
        raise InputError(f"{path} needs its sample ids: none given and no ids.txt or {path.stem}.ids.txt next to it.",
                         hint="Write the ids one per line in the array's row order to ids.txt beside it.")
    from ..runs.ids import decode_id, read_text_lenient

    from .scan import require_input_file

    require_input_file(ids_path, "ids file", hint="Give a file with one id per line, in row order.")
    # the id file conventions of selection.txt: split on '\n' only, quoted ids decoded
    lines = read_text_lenient(ids_path).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    file_ids = [decode_id(ln.strip()) for ln in lines]
    empty = [i + 1 for i, s in enumerate(file_ids) if not s]
    if empty:
        raise InputError(f"{ids_path} has empty ids on line(s) {empty[:_SHOWN]}.", hint="One non-empty id per row of the array.")
    if len(file_ids) != values.shape[0]:
        raise InputError(f"{path} has {values.shape[0]} rows (shape {values.shape}) but {ids_path} has {len(file_ids)} ids.",
                         hint="The ids file needs exactly one line per row of the array, in the same order.")
    classes_path = path.with_name(f"{path.stem}.classes.txt")
    n_classes = values.shape[1]
    if classes_path.is_file():
        names = [ln.strip() for ln in classes_path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
        if len(names) != n_classes:
            raise InputError(f"{classes_path} names {len(names)} classes but {path} has {n_classes} columns.",
                             hint="One class name per line, in the array's column order.")
    elif class_names is not None and len(set(map(str, class_names))) == n_classes:
        # the labels' classes in sorted order, the order a classifier trained on them uses
        names = sorted({str(c) for c in class_names})
        log.warning("%s has no %s; its %d columns are taken as the labels' classes in sorted order: %s",
                    path.name, classes_path.name, n_classes, names[:10])
    else:
        names = [str(j) for j in range(n_classes)]
    line_of = lambda r: f"row {r}"  # noqa: E731 - rows of an array have no lines
    return np.asarray(values, dtype=np.float64), file_ids, names, "npy", line_of


def _check_unique_ids(file_ids: list[str], name: str, line_of) -> None:
    first: dict[str, int] = {}
    dupes = []
    for r, sid in enumerate(file_ids):
        if sid in first:
            dupes.append(f"{sid!r} ({line_of(first[sid])} and {line_of(r)})")
        else:
            first[sid] = r
    if dupes:
        raise InputError(f"{name} has {len(dupes)} repeated id(s): {', '.join(dupes[:_SHOWN])}{' ...' if len(dupes) > _SHOWN else ''}.",
                         hint="Keep one row of predictions per sample.")
