"""Turning :class:`ReportData` into one self-contained HTML page.

A pure function: no file or network access beyond reading the package's own template,
style sheet and script, which are inlined, so the page opens from disk anywhere. The map's
data travels as one JSON block whose numeric arrays are base64 little-endian typed arrays
(about 4x smaller than JSON numbers and parsed without a loop).
"""
from __future__ import annotations

import base64
import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
import numpy as np

from .data import ReportData
from .svg import histogram_svg

__all__ = ["render_report", "map_payload"]

_NO_LABEL = 65535


def _b64(arr: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(arr, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode("ascii")


def map_payload(data: ReportData) -> dict[str, Any]:
    """The map's data as the page's script reads it."""
    m = data.map
    labels = m.label_index.astype(np.int64)
    labels = np.where((labels >= 0) & (labels < _NO_LABEL), labels, _NO_LABEL)
    atlas = None
    if data.atlas is not None:
        a = data.atlas
        atlas = {"tile": a.tile, "cols": a.cols, "perSheet": a.per_sheet,
                 "sheets": ["data:image/jpeg;base64," + base64.b64encode(s).decode("ascii") for s in a.sheets],
                 "present": _b64(a.present.astype(np.uint8), "u1")}
    return {
        "n": len(data.ids),
        "ids": data.ids,
        "xy": _b64(m.xy.astype(np.float32).reshape(-1), "f4"),  # x0, y0, x1, y1, ...
        "status": _b64(m.status, "u1"),
        "label": _b64(labels, "u2"),
        "labels": m.label_names[:_NO_LABEL],
        "issues": _b64(m.issue_bits, "u1"),
        "centre": _b64(m.nearest_centre, "i4"),
        "cdist": _b64(np.nan_to_num(m.centre_distance, nan=-1, posinf=-1), "f4"),
        "rank": _b64(m.rank, "i4"),
        "ts": data.timestamps,
        "method": m.method,
        "metric": data.summary.get("metric"),
        "atlas": atlas,
    }


def _json_for_script(obj: Any) -> str:
    # inside <script>, "</" could close the element and "<!--" open a comment; "<" only
    # occurs inside JSON strings, where the escape \u003c means the same character
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("labelscout.report", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True),
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = _num
    env.filters["dist"] = lambda v: "" if v is None else f"{v:.3g}"
    env.filters["pct"] = lambda v, total: f"{100.0 * v / total:.1f}%" if total else "0%"
    env.filters["seconds"] = _seconds
    return env


def _num(v: Any) -> str:
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.3g}"
    return str(v)


def _seconds(v: float) -> str:
    return f"{v * 1000:.0f} ms" if v < 1 else (f"{v:.1f} s" if v < 120 else f"{v / 60:.1f} min")


def _static(name: str) -> str:
    return resources.files("labelscout.report").joinpath("static", name).read_text(encoding="utf-8")


def render_report(data: ReportData) -> str:
    """The HTML page for ``data``."""
    histograms = [
        {"h": h, "svg": histogram_svg(h.edges, [(s.name, s.counts, s.css, s.stats.get("median")) for s in h.series], h.xlabel)}
        for h in data.histograms
    ]
    template = _environment().get_template("report.html.j2")
    return template.render(
        d=data, s=data.summary, histograms=histograms,
        css=_static("report.css"), js=_static("report.js"),
        payload=_json_for_script(map_payload(data)),
    )
