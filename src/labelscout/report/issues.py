"""Reading detector output (``issues.csv``) for the report, whatever evidence keys a
detector uses.

Detectors share one schema (id, issue, score, flag, evidence as JSON), but their evidence
dictionaries differ: a near-duplicate detector may name a group id, a representative or only
the nearest neighbour. Groups are therefore taken from a group id where there is one and
otherwise built by joining each flagged sample with the sample its evidence names.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..results import Issues

__all__ = ["ISSUE_BITS", "issue_bits", "duplicate_groups", "top_outliers"]

#: flag bits of the issue types the map colours
ISSUE_BITS = {"exact_duplicate": 1, "near_duplicate": 2, "outlier": 4}


def issue_bits(issues: Issues | None, ids: Sequence[str]) -> tuple[np.ndarray, dict[str, dict[str, int]] | None]:
    """(n,) uint8 flags of :data:`ISSUE_BITS` per sample, and the rows / flagged counts per
    issue type (None without an issues table)."""
    bits = np.zeros(len(ids), np.uint8)
    if issues is None:
        return bits, None
    pos = {s: i for i, s in enumerate(ids)}
    for sid, issue, flag in zip(issues.ids, issues.issue, issues.flag):
        if flag and issue in ISSUE_BITS and sid in pos:
            bits[pos[sid]] |= ISSUE_BITS[issue]
    return bits, issues.counts()


_GROUP_KEYS = ("group", "group_id", "cluster")
_REP_KEYS = ("representative", "keep", "kept", "rep")
_NEIGHBOUR_KEYS = ("nearest", "nearest_id", "neighbour", "neighbor", "nn", "duplicate_of", "nearest_neighbour", "nearest_neighbor")
_DIST_KEYS = ("distance", "dist", "nearest_distance", "nn_distance")


def _first(ev: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((ev[k] for k in keys if k in ev and ev[k] not in (None, "")), None)


def duplicate_groups(issues: Issues | None, ids: Sequence[str], limit: int) -> list[tuple[str, list[tuple[int, float | None]]]]:
    """Groups of flagged exact / near duplicates as (issue, [(pool row, distance)]).

    A group is named by the evidence's group id where the detector gives one; otherwise
    rows are joined with the neighbour their evidence names (union-find), so the page
    works with either kind of evidence. Largest groups first."""
    if issues is None:
        return []
    pos = {s: i for i, s in enumerate(ids)}
    out = []
    for issue in ("exact_duplicate", "near_duplicate"):
        parent: dict[int, int] = {}

        def find(a: int) -> int:
            while parent.setdefault(a, a) != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        named: dict[str, list[int]] = {}
        dist: dict[int, float] = {}
        for sid, kind, flag, ev in zip(issues.ids, issues.issue, issues.flag, issues.evidence):
            if kind != issue or not flag or sid not in pos:
                continue
            row = pos[sid]
            ev = ev if isinstance(ev, dict) else {}
            d = _first(ev, _DIST_KEYS)
            if isinstance(d, (int, float)):
                dist[row] = float(d)
            group = _first(ev, _GROUP_KEYS)
            if group is not None:
                named.setdefault(str(group), []).append(row)
            for other_key in (_REP_KEYS, _NEIGHBOUR_KEYS):
                other = _first(ev, other_key)
                if isinstance(other, str) and other in pos:
                    if group is not None:
                        named[str(group)].append(pos[other])
                    else:
                        parent[find(row)] = find(pos[other])
            if group is None:
                find(row)
        groups: dict[Any, list[int]] = {("named", k): v for k, v in named.items()}
        for row in list(parent):
            groups.setdefault(("uf", find(row)), []).append(row)
        members = [sorted(set(v)) for v in groups.values() if len(set(v)) >= 2]
        members.sort(key=lambda m: (-len(m), m[0]))
        out += [(issue, [(r, dist.get(r)) for r in m]) for m in members[:limit]]
    return out


def top_outliers(issues: Issues | None, ids: Sequence[str], limit: int) -> list[tuple[int, float, bool, str]]:
    """The ``limit`` outlier rows to show: flagged first, then by score, as (pool row,
    score, flagged, detail)."""
    if issues is None:
        return []
    pos = {s: i for i, s in enumerate(ids)}
    rows = [(pos[s], float(sc), bool(f), ev) for s, t, sc, f, ev in zip(issues.ids, issues.issue, issues.score, issues.flag, issues.evidence)
            if t == "outlier" and s in pos]
    rows.sort(key=lambda r: (not r[2], -np.nan_to_num(r[1], nan=-1.0), r[0]))
    out = []
    for row, score, flagged, ev in rows[:limit]:
        d = _first(ev if isinstance(ev, dict) else {}, _DIST_KEYS)
        detail = f"kNN distance {d:.3g}" if isinstance(d, (int, float)) else ""
        out.append((row, score, flagged, detail))
    return out
