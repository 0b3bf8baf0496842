"""Optional labels carried along with a collection: from class folders or a CSV file.

Later capabilities (balance, label review, reports) use them; selection itself never needs
them. A CSV needs an id column (``id``, ``path``, ``filename`` or ``file``) and a label
column (``label``, ``class`` or ``category``, or name it with ``column``).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path, PurePosixPath
from typing import Sequence

from ..errors import InputError

__all__ = ["labels_from_folders", "labels_from_csv", "resolve_labels"]

_ID_COLUMNS = ("id", "path", "filename", "file", "image")
_LABEL_COLUMNS = ("label", "class", "category", "target")


def labels_from_folders(ids: Sequence[str]) -> list[str | None] | None:
    """The parent folder name of each id, if the collection looks class-structured
    (every sample inside a folder and at least two distinct folder names); else None."""
    parents = [PurePosixPath(i.split("#", 1)[0]).parent.name for i in ids]
    if not ids or any(p == "" for p in parents) or len(set(parents)) < 2:
        return None
    return parents


def labels_from_csv(path: str | Path, ids: Sequence[str], column: str | None = None) -> list[str | None]:
    """Labels for ``ids`` from a CSV; samples absent from the file get None."""
    from ..runs.ids import decode_id, read_text_lenient
    from .scan import require_input_file

    path = require_input_file(path, "--labels file", hint="Give a CSV with an id column and a label column, or --labels folders / none.")
    text = read_text_lenient(path)
    if "\x00" in text:
        raise InputError(f"The --labels file {path} holds NUL bytes: it is not a CSV text file.",
                         hint="Give a CSV with an id column and a label column.")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        fields = reader.fieldnames or []
        id_col = next((c for c in fields if c.lower() in _ID_COLUMNS), None)
        label_col = column if column else next((c for c in fields if c.lower() in _LABEL_COLUMNS), None)
        if id_col is None or label_col is None or label_col not in fields:
            raise InputError(
                f"{path} has columns {fields}; need an id column ({'/'.join(_ID_COLUMNS)}) and a label column "
                f"({'/'.join(_LABEL_COLUMNS)}{' or ' + repr(column) if column else ''}).",
                hint="Rename the columns, or name the label column with --label-column.",
            )
        table = {decode_id((row[id_col] or "").strip()).replace("\\", "/"): decode_id(row[label_col] or "")
                 for row in reader if row.get(id_col)}
    except csv.Error as exc:
        raise InputError(f"The --labels file {path} is not a valid CSV ({exc}).", hint="Check the file's quoting.") from exc
    return [table.get(i) for i in ids]


def resolve_labels(spec: str | None, ids: Sequence[str], column: str | None = None) -> tuple[list | None, str]:
    """``spec``: None/"none", "auto" (class folders when the layout has them), "folders", or a CSV path.

    Returns (labels or None, where they came from)."""
    if spec in (None, "none"):
        return None, "none"
    if spec in ("auto", "folders"):
        labels = labels_from_folders(ids)
        if labels is None and spec == "folders":
            raise InputError("--labels folders needs every sample inside a class folder, with at least two classes.")
        return labels, ("folders" if labels is not None else "none")
    return labels_from_csv(spec, ids, column), f"csv:{spec}"
