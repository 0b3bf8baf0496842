"""The report of a run folder: :func:`build_report` returns the HTML, :func:`write_report`
stores it as ``RUN_DIR/report.html`` (atomically)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..runs.atomic import atomic_write_text
from .data import compute_report_data
from .render import render_report

__all__ = ["build_report", "write_report", "REPORT_FILE"]

REPORT_FILE = "report.html"


def build_report(run_dir: str | Path, **options: Any) -> str:
    """The self-contained HTML report of ``run_dir``. ``options`` go to
    :func:`labelscout.report.data.compute_report_data` (``root``, ``thumbs``, ...)."""
    return render_report(compute_report_data(run_dir, **options))


def write_report(run_dir: str | Path, out: str | Path | None = None, **options: Any) -> Path:
    """Write the report to ``out`` (default ``RUN_DIR/report.html``) and return its path."""
    # a file name that is not UTF-8 is shown with its bytes escaped (caf\udce9.jpg); the
    # exact ids are in selection.txt / selection.csv
    return atomic_write_text(Path(out) if out is not None else Path(run_dir) / REPORT_FILE, build_report(run_dir, **options),
                             errors="backslashreplace")
