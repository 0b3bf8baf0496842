"""Plain-data results shared by every strategy and detector.

* :class:`Selection`: ids in pick order (every prefix is itself a valid smaller
  selection), a score and a short human reason per pick.
* :class:`Issues`: one row per (sample, issue type) with a score in [0, 1], a flag and
  evidence (nearest neighbour, distance, group...). Every detector fills the same schema,
  so reports and the CLI render any of them without special cases. A detector that fails
  is recorded in ``failures`` as data, not swallowed.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from .runs.ids import decode_id, encode_id, format_id_lines

__all__ = ["Selection", "Issues", "ISSUE_COLUMNS", "SELECTION_COLUMNS"]

SELECTION_COLUMNS = ("id", "rank", "score", "reason")
ISSUE_COLUMNS = ("id", "issue", "score", "flag", "evidence")


@dataclass
class Selection:
    """The outcome of a strategy: ``ids[i]`` was picked at rank ``i`` (0-based)."""

    ids: list[str]
    indices: np.ndarray  # (n_selected,) int64 positions in the pool
    scores: np.ndarray  # (n_selected,) float64
    reasons: list[str]
    strategy: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    extra_columns: dict[str, list[Any]] = field(default_factory=dict)  # e.g. video, frame, timestamp

    def __post_init__(self) -> None:
        self.indices = np.asarray(self.indices, dtype=np.int64)
        self.scores = np.asarray(self.scores, dtype=np.float64)
        n = len(self.ids)
        if not (len(self.indices) == len(self.scores) == len(self.reasons) == n):
            raise ValueError(
                f"Selection columns differ in length: ids {n}, indices {len(self.indices)}, "
                f"scores {len(self.scores)}, reasons {len(self.reasons)}"
            )
        for name, col in self.extra_columns.items():
            if len(col) != n:
                raise ValueError(f"Selection extra column {name!r} has {len(col)} values for {n} ids")

    def __len__(self) -> int:
        return len(self.ids)

    def head(self, n: int) -> "Selection":
        """The first ``n`` picks: by the pick-order contract, a valid selection of size ``n``."""
        return Selection(
            self.ids[:n], self.indices[:n], self.scores[:n], self.reasons[:n], self.strategy, dict(self.params),
            {k: v[:n] for k, v in self.extra_columns.items()},
        )

    def to_txt(self) -> str:
        """selection.txt: one id per line, escaped where a line cannot hold it (see :mod:`labelscout.runs.ids`)."""
        return format_id_lines(self.ids)

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        extra = list(self.extra_columns)
        writer.writerow([*SELECTION_COLUMNS, *extra])
        for rank, (sid, score, reason) in enumerate(zip(self.ids, self.scores, self.reasons)):
            writer.writerow(_cells([sid, rank, _fmt(score), reason, *(self.extra_columns[c][rank] for c in extra)]))
        return buf.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> "Selection":
        reader = csv.DictReader(io.StringIO(text))
        rows = [{k: decode_id(v) if isinstance(v, str) else v for k, v in r.items()} for r in reader]
        extra_names = [c for c in (reader.fieldnames or []) if c not in SELECTION_COLUMNS]
        return cls(
            ids=[r["id"] for r in rows],
            indices=np.full(len(rows), -1, dtype=np.int64),
            scores=np.array([float(r["score"]) if r["score"] != "" else np.nan for r in rows]),
            reasons=[r["reason"] for r in rows],
            extra_columns={c: [r[c] for r in rows] for c in extra_names},
        )


def _cells(row: list[Any]) -> list[Any]:
    """Text cells escaped like ids in selection.txt, so a file name with a newline or bytes
    that are not UTF-8 round-trips (and every row stays one line)."""
    return [encode_id(v) if isinstance(v, str) else v for v in row]


def _fmt(x: float) -> str:
    return "" if not np.isfinite(x) else f"{x:.6g}"


@dataclass
class Issues:
    """A table of issues found by detectors (one row per sample and issue type)."""

    ids: list[str] = field(default_factory=list)
    issue: list[str] = field(default_factory=list)
    score: np.ndarray = field(default_factory=lambda: np.empty(0))
    flag: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    evidence: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)  # detector -> error, recorded as data

    def __post_init__(self) -> None:
        self.score = np.asarray(self.score, dtype=np.float64)
        self.flag = np.asarray(self.flag, dtype=bool)
        n = len(self.ids)
        if not (len(self.issue) == len(self.score) == len(self.flag) == len(self.evidence) == n):
            raise ValueError("Issues columns differ in length")
        if n and (np.nanmin(self.score) < 0 or np.nanmax(self.score) > 1):
            raise ValueError("Issue scores must lie in [0, 1]")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: int | slice | Sequence[int] | np.ndarray) -> "Issues":
        """Rows by position: ``issues[3]``, ``issues[:10]``, ``issues[mask]`` or ``issues[[0, 5]]``
        (always an :class:`Issues`; ``failures`` are kept)."""
        if isinstance(key, (int, np.integer)):
            n = len(self)
            if not -n <= key < n:
                raise IndexError(f"issue row {key} out of range for {n} rows")
            rows = [int(key) % n]
        elif isinstance(key, slice):
            rows = list(range(len(self)))[key]
        else:
            arr = np.asarray(key)
            rows = list(np.flatnonzero(arr)) if arr.dtype == bool else [int(i) for i in arr.reshape(-1)]
        return Issues([self.ids[i] for i in rows], [self.issue[i] for i in rows], self.score[rows], self.flag[rows],
                      [self.evidence[i] for i in rows], list(self.failures))

    def __repr__(self) -> str:
        counts = ", ".join(f"{t}: {c['flagged']}/{c['rows']} flagged" for t, c in self.counts().items())
        failed = f", {len(self.failures)} detector failure(s)" if self.failures else ""
        return f"Issues({len(self)} rows" + (f"; {counts}" if counts else "") + failed + ")"

    @classmethod
    def from_rows(cls, issue: str, ids: Sequence[str], score: Iterable[float], flag: Iterable[bool], evidence: Sequence[dict]) -> "Issues":
        ids = list(ids)
        return cls(ids, [issue] * len(ids), np.asarray(list(score), dtype=np.float64), np.asarray(list(flag), dtype=bool), list(evidence))

    @classmethod
    def concat(cls, parts: Iterable["Issues"]) -> "Issues":
        out = cls()
        for p in parts:
            out.ids += p.ids
            out.issue += p.issue
            out.score = np.concatenate([out.score, p.score])
            out.flag = np.concatenate([out.flag, p.flag])
            out.evidence += p.evidence
            out.failures += p.failures
        return out

    def of(self, issue: str) -> "Issues":
        keep = [i for i, t in enumerate(self.issue) if t == issue]
        return Issues(
            [self.ids[i] for i in keep], [issue] * len(keep), self.score[keep], self.flag[keep], [self.evidence[i] for i in keep]
        )

    def flagged_ids(self, issue: str | None = None) -> list[str]:
        return [s for s, t, f in zip(self.ids, self.issue, self.flag) if f and (issue is None or t == issue)]

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for t, f in zip(self.issue, self.flag):
            c = out.setdefault(t, {"rows": 0, "flagged": 0})
            c["rows"] += 1
            c["flagged"] += int(f)
        return out

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(ISSUE_COLUMNS)
        for sid, t, s, f, ev in zip(self.ids, self.issue, self.score, self.flag, self.evidence):
            writer.writerow(_cells([sid, t, _fmt(s), int(bool(f)),
                                    json.dumps(ev, sort_keys=True, separators=(",", ":"), default=_jsonable)]))
        return buf.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> "Issues":
        rows = [{k: decode_id(v) if isinstance(v, str) else v for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]
        return cls(
            [r["id"] for r in rows],
            [r["issue"] for r in rows],
            np.array([float(r["score"]) if r["score"] else np.nan for r in rows]),
            np.array([r["flag"] == "1" for r in rows], dtype=bool),
            [json.loads(r["evidence"]) if r["evidence"] else {} for r in rows],
        )


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)
