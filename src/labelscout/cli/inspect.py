"""``labelscout inspect``: find duplicates, outliers and label errors; write issues.csv."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..detectors import DETECTORS
from ..detectors._runner import DEFAULT_DETECTORS, option_params
from ._app import app, origin
from ._common import (ArchOpt, BatchOpt, CacheOpt, DeviceOpt, FpsOpt, KeyframesOpt, ModelOpt, NoCacheOpt, SequenceOpt, WeightsOpt,
                      WorkersOpt, cache_arg, echo_result)


@app.command("inspect")
def inspect_command(
    source: Path = typer.Argument(..., help="Folder (searched recursively) or file of images and/or videos, or a saved embeddings folder."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write (issues.csv, embeddings/, run.json)."),
    detectors: str = typer.Option(",".join(DEFAULT_DETECTORS), "--detectors", "-d",
                                  help=f"Comma-separated detectors to run: {', '.join(sorted(DETECTORS))}."),
    near_dup_threshold: Optional[float] = typer.Option(None, "--near-dup-threshold", min=0.0,
                                                       help="Largest cosine distance (1 - cos) joining near duplicates (default: calibrated for the model, 0.2 for efficientnet-lite2, 0.04 for the CIFAR model and unknown ones)."),
    near_dup_ratio: Optional[float] = typer.Option(None, "--near-dup-ratio",
                                                   help="A near-duplicate pair must also be at most this fraction of the 10th neighbour's distance, in (0, 1]; 1 turns the test off (default 0.5)."),
    contamination: Optional[float] = typer.Option(None, "--contamination", min=0.0, max=0.5,
                                                  help="Fraction of samples flagged as outliers (default 0.01)."),
    labels: str = typer.Option("auto", "--labels", help="For label-errors: auto (class folders when present), folders, none, or a CSV with id,label."),
    label_column: Optional[str] = typer.Option(None, "--label-column", help="Label column name in the --labels CSV."),
    model: Optional[str] = ModelOpt,
    arch: Optional[str] = ArchOpt,
    weights: Optional[str] = WeightsOpt,
    device: str = DeviceOpt,
    batch_size: int = BatchOpt,
    workers: Optional[int] = WorkersOpt,
    cache_dir: Optional[Path] = CacheOpt,
    no_cache: bool = NoCacheOpt,
    fps: str = FpsOpt,
    sequence_length: int = SequenceOpt,
    keyframes_only: bool = KeyframesOpt,
) -> None:
    """Find exact duplicates, near-duplicate groups and outliers (and label errors) and write OUT/issues.csv."""
    from .. import api

    names = [d.strip() for d in detectors.split(",") if d.strip()]
    params = option_params(names, near_dup_threshold=near_dup_threshold, near_dup_ratio=near_dup_ratio,
                           contamination=contamination)
    result = api.inspect(source, out=out, detectors=names, detector_params=params, labels=labels, label_column=label_column,
                         model=model, arch=arch, weights=weights, device=device, batch_size=batch_size, workers=workers,
                         cache_dir=cache_arg(cache_dir, no_cache), fps=fps, sequence_length=sequence_length,
                         keyframes_only=keyframes_only, origin=origin())
    echo_result(result.summary())
    failed = [f for f in result.issues.failures if not f["error"].startswith("skipped")]
    if failed:  # the other detectors' results are written; the exit code still tells scripts
        for f in failed:
            typer.echo(f"error: detector {f['detector']} failed: {f['error']}", err=True)
        raise typer.Exit(1)
