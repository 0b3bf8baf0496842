"""Reading a finished run folder: everything the report explains, and nothing else.

``run.json`` and ``embeddings/`` are required (the report explains a selection made on
those vectors); ``selection.csv`` (or ``selection.txt``), ``issues.csv``, the already
labeled ids and the labels are used where present. Where the images live is found from
``run.json`` (the collection root, or the run that made a loaded embeddings folder),
unless the caller names it.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..embed.store import SIDECAR_FILE, EmbeddingSet
from ..errors import InputError
from ..results import Issues, Selection
from ..runs.record import INSPECT_FILE, RUN_FILE
from ..sources.labels import labels_from_csv, labels_from_folders

__all__ = ["RunInputs", "read_run", "EXCLUDED_FILE"]

log = logging.getLogger(__name__)

#: ids that were already labeled when the selection ran (one per line), written by select
EXCLUDED_FILE = "excluded.txt"


@dataclass
class RunInputs:
    run_dir: Path
    record: dict[str, Any]  # run.json as written
    embeddings: EmbeddingSet
    selection: Selection  # ``indices`` resolved to rows of ``embeddings``
    excluded: np.ndarray  # (n_labeled,) int64 rows that were labeled before the run
    issues: Issues | None  # None when the run has no issues.csv
    labels: list[str | None] | None  # per pool row
    labels_source: str
    data_root: Path | None  # where the sample files are, when found
    notes: list[str] = field(default_factory=list)  # what was missing or odd, shown on the page
    space_vectors: np.ndarray | None = None  # (n_samples, dim) the pca / umap space the selection ran in

    @property
    def space(self) -> str | None:
        """The re-embedding the selection ran in (pca, umap), when it did."""
        return (self.record.get("space") or {}).get("transform") or None

    @property
    def metric(self) -> str:
        # the geometry the run worked in (the space's), else what the config asked for
        space = self.record.get("space") if isinstance(self.record.get("space"), dict) else {}
        return str(space.get("metric") or (self.record.get("config") or {}).get("metric") or "l2")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} cannot be read as JSON ({exc}).", hint="Is this a complete labelscout run folder?") from exc


def _find_data_root(record: dict[str, Any], run_dir: Path) -> Path | None:
    """The collection root recorded by the run, or by the run that made a loaded
    embeddings folder, or the source folder itself."""
    candidates: list[Any] = [(record.get("collection") or {}).get("root")]
    loaded = (record.get("embedding") or {}).get("loaded_from")
    if loaded:
        parent_run = Path(loaded).parent / RUN_FILE
        if parent_run.is_file():
            try:
                candidates.append((json.loads(parent_run.read_text()).get("collection") or {}).get("root"))
            except (OSError, ValueError):
                pass
    src = (record.get("config") or {}).get("source")
    if src and not (Path(src) / SIDECAR_FILE).is_file():
        candidates.append(src)
    for c in candidates:
        if not c:
            continue
        p = Path(c)
        if not p.is_absolute():
            # a relative root was relative to where the run was started; try the run's parent too
            for base in (Path.cwd(), run_dir.parent):
                if (base / p).is_dir():
                    return (base / p).resolve()
            continue
        if p.is_dir():
            return p
        if p.is_file():
            return p.parent
    return None


def _read_selection(run_dir: Path, ids: list[str]) -> Selection:
    pos = {sid: i for i, sid in enumerate(ids)}
    csv_path, txt_path = run_dir / "selection.csv", run_dir / "selection.txt"
    if csv_path.is_file():
        sel = Selection.from_csv(csv_path.read_text(encoding="utf-8"))
    elif txt_path.is_file():
        from ..runs.ids import parse_id_lines, read_text_lenient

        chosen = parse_id_lines(read_text_lenient(txt_path))
        sel = Selection(chosen, np.full(len(chosen), -1), np.full(len(chosen), np.nan), [""] * len(chosen))
    elif not (run_dir / RUN_FILE).is_file() and (run_dir / INSPECT_FILE).is_file():
        # an inspect-only run: nothing was selected; the page shows the map coloured by issue
        sel = Selection([], np.empty(0, np.int64), np.empty(0), [])
    else:
        raise InputError(f"{run_dir} has no selection.csv or selection.txt.",
                         hint="Run `labelscout select ... --out DIR` first; the report explains a selection.")
    missing = [s for s in sel.ids if s not in pos]
    if missing:
        raise InputError(f"{len(missing)} selected id(s) are not in {run_dir / 'embeddings'}, e.g. {missing[:3]}.",
                         hint="The selection and the embeddings come from different runs.")
    sel.indices = np.array([pos[s] for s in sel.ids], dtype=np.int64)
    return sel


def _read_excluded(run_dir: Path, record: dict[str, Any], ids: list[str], notes: list[str]) -> np.ndarray:
    pos = {sid: i for i, sid in enumerate(ids)}
    path = run_dir / EXCLUDED_FILE
    if not path.is_file():
        cfg = record.get("config") or {}
        if isinstance(cfg.get("exclude"), list):  # a typed config holds the ids themselves
            return np.unique(np.asarray([pos[s] for s in cfg["exclude"] if s in pos], dtype=np.int64))
        given = cfg.get("exclude_file") or cfg.get("exclude")
        path = Path(given) if given and not str(given).startswith("<") else None
    n_expected = int((record.get("counts") or {}).get("excluded") or 0)
    if path is None or not path.is_file():
        if n_expected:
            notes.append(f"{n_expected} samples were already labeled, but their ids are not in the run folder; "
                         "coverage counts only the selection.")
        return np.empty(0, np.int64)
    from ..runs.ids import read_id_file  # the one reader of id files

    rows = [pos[s] for s in read_id_file(path) if s in pos]
    return np.unique(np.asarray(rows, dtype=np.int64))


def _read_labels(record: dict[str, Any], ids: list[str], notes: list[str]) -> tuple[list | None, str]:
    source = str(record.get("labels_source") or "none")
    try:
        if source == "folders":
            return labels_from_folders(ids), source
        if source.startswith("csv:"):
            column = (record.get("config") or {}).get("label_column")
            return labels_from_csv(source[4:], ids, column), source
    except InputError as exc:
        notes.append(f"Labels from {source} could not be read again ({exc.message}); the page shows no classes.")
    return None, "none"


def _embeddings_dir(run_dir: Path, record: dict[str, Any]) -> Path:
    """``RUN_DIR/embeddings``, or the saved embeddings folder the run loaded its pool from."""
    own = run_dir / "embeddings"
    loaded = (record.get("embedding") or {}).get("loaded_from")
    if not (own / SIDECAR_FILE).is_file() and loaded and (Path(loaded) / SIDECAR_FILE).is_file():
        return Path(loaded)
    return own


def read_run(run_dir: str | Path, root: str | Path | None = None) -> RunInputs:
    """Load what the report needs from ``run_dir``; ``root`` overrides where the images are."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is not a folder.", hint="Give the --out folder of a labelscout select run.")
    run_file = run_dir / RUN_FILE
    if not run_file.is_file():  # an inspect-only run keeps its record in inspect.json
        run_file = run_dir / INSPECT_FILE
    if not run_file.is_file():
        raise InputError(f"{run_dir} has no {RUN_FILE} (or {INSPECT_FILE}).",
                         hint="Give the --out folder of a labelscout select or inspect run.")
    record = _read_json(run_file)
    inspected = run_dir / INSPECT_FILE
    if run_file.name == RUN_FILE and inspected.is_file():  # select and inspect in one folder: both show
        record = {**record, "inspect": _read_json(inspected)}
    notes: list[str] = []
    if record.get("status") != "finished":
        notes.append(f"run.json says the run is {record.get('status')!r}, not finished: the page may be incomplete.")
    emb = EmbeddingSet.load(_embeddings_dir(run_dir, record))
    selection = _read_selection(run_dir, emb.ids)
    excluded = _read_excluded(run_dir, record, emb.ids, notes)
    issues = None
    issues_path = run_dir / "issues.csv"
    if issues_path.is_file():
        try:
            issues = Issues.from_csv(issues_path.read_text(encoding="utf-8"))
        except (ValueError, KeyError) as exc:
            notes.append(f"issues.csv could not be read ({type(exc).__name__}: {exc}); duplicates and outliers are not shown.")
    labels, labels_source = _read_labels(record, emb.ids, notes)
    data_root = Path(root) if root is not None else _find_data_root(record, run_dir)
    if root is not None and not Path(root).is_dir():
        raise InputError(f"The data root {root} is not a folder.", hint="Give the folder the sample ids are relative to.")
    if data_root is None:
        notes.append("The sample files were not found, so the page has no thumbnails. "
                     "Give their folder with `labelscout report RUN_DIR --root DATA_DIR`.")
    space_vectors = _read_space(run_dir, record, len(emb), notes)
    return RunInputs(run_dir, record, emb, selection, excluded, issues, labels, labels_source, data_root, notes, space_vectors)


def _read_space(run_dir: Path, record: dict[str, Any], n: int, notes: list[str]) -> np.ndarray | None:
    """The fitted space (``OUT/space/*.npy``) of a pca / umap selection, so the page's
    distances are the strategy's; None for raw / norm (the metric says it all)."""
    space = record.get("space") or {}
    if not isinstance(space, dict) or not space.get("transform"):
        return None
    path = run_dir / str(space.get("file") or "")
    if space.get("file") and path.is_file():
        Z = np.load(path, allow_pickle=False)
        if Z.ndim == 2 and Z.shape[0] == n:
            return Z
    notes.append(f"The {space.get('transform')} space of the selection is not in the run folder; "
                 "distances are shown between the embeddings instead.")
    return None
