"""``labelscout report``: the HTML report of a finished run folder."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app
from ._common import echo_result


@app.command("report")
def report_command(
    run_dir: Path = typer.Argument(..., help="Run folder written by `labelscout select --out`."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder the sample ids are relative to, if the images moved since the run."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where to write the page (default RUN_DIR/report.html)."),
) -> None:
    """Write RUN_DIR/report.html: the embedding map, kept samples with the removed neighbours
    they stand for, distance histograms, balance, duplicates and outliers. Opens offline."""
    from .. import api

    path = api.report(run_dir, root=root, out=out)
    echo_result(f"Report -> {path} ({path.stat().st_size / 1e6:.1f} MB)")
