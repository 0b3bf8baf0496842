"""``review export``: the decisions of a review as files other tools read.

* ``corrections.csv``: one row per reviewed sample (id, given, corrected, reviewer, time,
  status), and one row per reviewer where reviewers disagree (status ``conflict``).
  ``status`` is ``relabeled`` (corrected is the new class), ``wrong`` (the label is wrong,
  no class was given: corrected is empty), ``confirmed`` (corrected = given) or
  ``conflict``.
* the corrected labels file (``id,label``), which ``select --labels`` and
  ``inspect --labels`` read: every sample under review with its given label, the new
  class where it was relabeled, and *no row* where it was marked wrong without a class
  (it reads back as unlabeled). Conflicts keep the given label until the reviewers agree.

Both files are written atomically. The user's own label file is never written: exporting
onto it is refused.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError
from ..runs.atomic import atomic_write_text
from .store import Decision, DecisionStore, conflicting, outcome

__all__ = ["export_review", "ExportResult", "CORRECTIONS_COLUMNS"]

CORRECTIONS_COLUMNS = ("id", "given", "corrected", "reviewer", "time", "status")


@dataclass
class ExportResult:
    labels: Path
    corrections: Path
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        c = self.counts
        return (f"Exported {c['reviewed']} reviewed of {c['samples']} samples: {c['relabeled']} relabeled, "
                f"{c['wrong']} wrong without a class (left unlabeled), {c['confirmed']} confirmed, "
                f"{c['conflicts']} in conflict (given label kept) -> {self.labels}, {self.corrections}")


def _status(given: str, corrected: str) -> str:
    if corrected == given:
        return "confirmed"
    return "wrong" if corrected == "" else "relabeled"


def _agreed(decisions: list[Decision]) -> Decision:
    """The decision that speaks for agreeing reviewers: one that names a class if any does,
    the latest among those."""
    named = [d for d in decisions if d.verdict == "wrong" and d.new_label]
    return max(named or decisions, key=lambda d: d.seq)


def _user_label_file(run_dir: Path) -> Path | None:
    try:
        config = json.loads((run_dir / "run.json").read_text()).get("config", {})
    except (OSError, ValueError):
        return None
    spec = config.get("labels")
    return Path(spec).resolve() if spec and spec not in ("auto", "folders", "none") else None


def export_review(run_dir: str | Path, out: str | Path, *, corrections: str | Path | None = None) -> ExportResult:
    """Write the corrected labels file ``out`` and ``corrections`` (default:
    ``corrections.csv`` beside ``out``) from the review in ``run_dir``."""
    run_dir = Path(run_dir)
    out = Path(out)
    corrections = Path(corrections) if corrections is not None else out.with_name("corrections.csv")
    if out.resolve() == corrections.resolve():
        raise ConfigError(f"The corrected labels and the corrections would both go to {out}.", hint="Pass --corrections OTHER.csv.")
    user = _user_label_file(run_dir)
    for target in (out, corrections):
        if user is not None and target.resolve() == user:
            raise InputError(f"{target} is the label file the review was opened with; it is never overwritten.",
                             hint="Export to a new file, e.g. --out corrected_labels.csv.")
    store = DecisionStore(run_dir)
    try:
        current = store.current()
        rows: list[tuple[str, ...]] = []
        labels: dict[str, str | None] = dict(store.given_of)
        counts = {"samples": len(store.ids), "reviewed": 0, "relabeled": 0, "wrong": 0, "confirmed": 0, "conflicts": 0}
        for sid in store.ids:
            by_reviewer = current.get(sid)
            if not by_reviewer:
                continue
            given = store.given_of[sid]
            counts["reviewed"] += 1
            decisions = sorted(by_reviewer.values(), key=lambda d: d.seq)
            if conflicting(decisions):
                counts["conflicts"] += 1
                rows.extend((sid, given, outcome(d) or "", d.reviewer, d.time, "conflict") for d in decisions)
                continue
            d = _agreed(decisions)
            corrected = outcome(d) or ""
            status = _status(given, corrected)
            counts[status] += 1
            reviewers = ";".join(sorted({x.reviewer for x in decisions}))
            rows.append((sid, given, corrected, reviewers, max(x.time for x in decisions), status))
            labels[sid] = None if status == "wrong" else corrected
    finally:
        store.close()
    atomic_write_text(corrections, _csv([CORRECTIONS_COLUMNS, *rows]))
    atomic_write_text(out, _csv([("id", "label"), *((s, lab) for s, lab in labels.items() if lab is not None)]))
    return ExportResult(out, corrections, counts)


def _csv(rows: list[tuple[Any, ...]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()
