"""The review's decisions, in one SQLite file in the run folder (``RUN/review.sqlite``).

Every mark a reviewer makes is one row appended at once, in its own transaction, in WAL
mode with ``synchronous=FULL``: a reload, a crash or a killed server loses nothing that
the page was told is saved. Rows are never updated or deleted: undo appends the earlier
state again, so the file is also the full history (who decided what, when, from which
label to which).

The file also holds the samples under review (id, given label), so a run folder is
self-contained: ``review export`` needs nothing else, and a restart with different labels
is caught instead of silently mixing two label sets.

Several reviewers (several servers, or several pages of one server) share the file. Each
reviewer's current decision on a sample is their latest row for it; where two reviewers'
current decisions disagree the sample is in *conflict*: both are kept and shown, neither
overwrites the other.
"""
from __future__ import annotations

import datetime as _dt
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import ConfigError, InputError

__all__ = ["DecisionStore", "Decision", "VERDICTS", "STORE_FILE", "outcome", "conflicting"]

STORE_FILE = "review.sqlite"
#: what a reviewer can say about a sample's given label; "unmarked" takes a mark back
VERDICTS = ("correct", "wrong", "unmarked")
_SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (idx INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, given TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sample TEXT NOT NULL REFERENCES samples(id),
    reviewer TEXT NOT NULL,
    time TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('correct', 'wrong', 'unmarked')),
    old_label TEXT NOT NULL,
    new_label TEXT
);
CREATE INDEX IF NOT EXISTS decisions_by_sample ON decisions(sample, reviewer, seq);
"""


@dataclass(frozen=True)
class Decision:
    seq: int
    sample: str
    reviewer: str
    time: str
    verdict: str
    old_label: str
    new_label: str | None

    def to_json(self) -> dict:
        return {"seq": self.seq, "sample": self.sample, "reviewer": self.reviewer, "time": self.time,
                "verdict": self.verdict, "old": self.old_label, "new": self.new_label}


def outcome(d: Decision) -> str | None:
    """The label a decision says the sample should carry: the given label for "correct",
    the new label for "wrong" with a class, "" for "wrong" without one, None for unmarked."""
    if d.verdict == "correct":
        return d.old_label
    if d.verdict == "wrong":
        return d.new_label or ""
    return None


def conflicting(decisions: Iterable[Decision]) -> bool:
    """Whether reviewers' current decisions on one sample disagree. "Wrong, class not
    given" agrees with any "wrong, it is X" (the second only adds the class)."""
    ds = list(decisions)
    outs = {outcome(d) for d in ds} - {None}
    if "" in outs and any(d.verdict == "wrong" and d.new_label for d in ds):
        outs.discard("")
    return len(outs) > 1


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DecisionStore:
    """Open (creating if needed) ``folder/review.sqlite`` for the samples ``ids`` with
    their ``given`` labels. Reopening a folder checks the samples are the same ones.

    Thread-safe: one connection per thread (uvicorn serves requests from a pool)."""

    def __init__(self, folder: str | Path, ids: Sequence[str] | None = None, given: Sequence[str] | None = None):
        self.path = Path(folder) / STORE_FILE
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if ids is None and not self.path.is_file():
            raise InputError(f"{self.path} does not exist: {folder} is not a review run folder.",
                             hint="Give the --out folder of a `labelscout review` run.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._con()
        with con:
            con.executescript(_SCHEMA)
            con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
        if ids is not None:
            self._init_samples(list(ids), list(given or []))
        self.ids, self.given = self._load_samples()
        self.given_of = dict(zip(self.ids, self.given))

    # -- connections ----------------------------------------------------------------------
    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")  # a committed mark survives a kill and a power cut
            con.execute("PRAGMA busy_timeout=30000")
            self._local.con = con
            with self._lock:
                self._conns.append(con)
        return con

    def close(self) -> None:
        with self._lock:
            for con in self._conns:
                try:
                    con.close()
                except sqlite3.ProgrammingError:  # closed from another thread already
                    pass
            self._conns.clear()
        self._local = threading.local()

    # -- samples --------------------------------------------------------------------------
    def _init_samples(self, ids: list[str], given: list[str]) -> None:
        if len(ids) != len(given):
            raise InputError(f"{len(ids)} sample ids but {len(given)} labels; they must match.")
        con = self._con()
        existing = con.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        if existing == 0:
            con.execute("BEGIN IMMEDIATE")
            try:
                if con.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 0:  # another process may have won
                    con.executemany("INSERT INTO samples VALUES (?, ?, ?)", zip(range(len(ids)), ids, given))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        old_ids, old_given = self._load_samples()
        if old_ids != ids or old_given != given:
            changed = sum(1 for a, b in zip(old_given, given) if a != b) if old_ids == ids else None
            what = (f"{changed} of the given labels differ" if changed is not None
                    else f"the samples differ ({len(old_ids)} stored, {len(ids)} now)")
            raise ConfigError(f"{self.path} belongs to another review: {what}.",
                              hint="Review these labels in a new --out folder; the decisions stored there are kept as they are.")

    def _load_samples(self) -> tuple[list[str], list[str]]:
        rows = self._con().execute("SELECT id, given FROM samples ORDER BY idx").fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    # -- decisions ------------------------------------------------------------------------
    def record(self, reviewer: str, marks: Sequence[tuple[str, str, str | None]]) -> list[Decision]:
        """Append ``(sample id, verdict, new label or None)`` marks by ``reviewer`` in one
        transaction; returns the stored rows. Nothing is written if any mark is invalid."""
        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise InputError("A decision needs a reviewer name.", hint="Pass --reviewer NAME.")
        rows = []
        t = _now()
        for sample, verdict, new in marks:
            if sample not in self.given_of:
                raise InputError(f"{sample!r} is not a sample of this review.")
            if verdict not in VERDICTS:
                raise InputError(f"verdict must be one of {VERDICTS}; got {verdict!r} for {sample!r}.")
            if verdict != "wrong":
                new = None
            elif new is not None and new == self.given_of[sample]:
                raise InputError(f"{sample!r} is labeled {new!r} already; marking it wrong with the same label is a contradiction.",
                                 hint="Mark it correct instead.")
            rows.append((sample, reviewer, t, verdict, self.given_of[sample], new))
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            first = None
            for row in rows:
                cur = con.execute("INSERT INTO decisions (sample, reviewer, time, verdict, old_label, new_label) "
                                  "VALUES (?, ?, ?, ?, ?, ?)", row)
                first = cur.lastrowid if first is None else first
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return [Decision(first + i, *row) for i, row in enumerate(rows)] if rows else []

    def since(self, seq: int = 0) -> list[Decision]:
        """Every decision after ``seq``, in order (the page polls this for others' marks)."""
        cur = self._con().execute("SELECT seq, sample, reviewer, time, verdict, old_label, new_label FROM decisions "
                                  "WHERE seq > ? ORDER BY seq", (int(seq),))
        return [Decision(*r) for r in cur.fetchall()]

    def current(self) -> dict[str, dict[str, Decision]]:
        """sample id -> reviewer -> that reviewer's latest decision (unmarked ones left out)."""
        state: dict[str, dict[str, Decision]] = {}
        for d in self.since(0):
            if d.verdict == "unmarked":
                state.get(d.sample, {}).pop(d.reviewer, None)
            else:
                state.setdefault(d.sample, {})[d.reviewer] = d
        return {s: r for s, r in state.items() if r}

    def last_seq(self) -> int:
        return int(self._con().execute("SELECT COALESCE(MAX(seq), 0) FROM decisions").fetchone()[0])
