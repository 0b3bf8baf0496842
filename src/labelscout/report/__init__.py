"""The dataset-insights report: why each sample was kept or removed.

:func:`build_report` reads a run folder and returns one self-contained HTML page (the
embedding map, kept samples with the removed neighbours they stand for, distance
histograms, balance, duplicate and outlier galleries); :func:`write_report` stores it as
``RUN_DIR/report.html``. The page is computed as :class:`ReportData` first
(:func:`compute_report_data`) and rendered without further computation
(:func:`render_report`).
"""
from .build import REPORT_FILE, build_report, write_report
from .data import ReportData, compute_report_data
from .render import render_report
from .thumbs import thumbnail_for

__all__ = ["build_report", "write_report", "compute_report_data", "render_report", "ReportData", "thumbnail_for", "REPORT_FILE"]
