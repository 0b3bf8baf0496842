"""``labelscout review``: the label-review web app, and ``review export`` of its decisions.

``labelscout review IMAGES ...`` opens a review (the subcommand ``open`` is implied);
``labelscout review export RUN --out FILE`` writes the corrections.
"""
from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from ._app import app
from ._common import (ArchOpt, BatchOpt, CacheOpt, DeviceOpt, ModelOpt, NoCacheOpt, WeightsOpt, WorkersOpt, cache_arg,
                      echo_result)


class _OpenByDefault(TyperGroup):
    """``review IMAGES ...`` means ``review open IMAGES ...``: anything that is not a
    subcommand (or --help) in first place starts the open command."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["open", *args]
        return super().parse_args(ctx, args)


review_app = typer.Typer(cls=_OpenByDefault, no_args_is_help=True,
                         help="Review labels one class at a time in the browser, misfits first (`review IMAGES --labels FILE`), and export the corrections (`review export RUN`).")
app.add_typer(review_app, name="review")


@review_app.command("open")
def open_command(
    images: Path = typer.Argument(..., help="Folder of the images; label ids are paths relative to it."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: decisions go to OUT/review.sqlite at once; reopening it resumes."),
    labels: str = typer.Option("auto", "--labels", help="A CSV with id,label columns, or auto / folders (class folders)."),
    label_column: Optional[str] = typer.Option(None, "--label-column", help="Label column name in the --labels CSV."),
    predictions: Optional[Path] = typer.Option(None, "--predictions", help="A model's class probabilities per sample (CSV / parquet with an id column and one column per class, or .npy + ids): they order each class and show what the model believed."),
    logits: bool = typer.Option(False, "--logits", help="The --predictions values are raw scores (soft-maxed), not probabilities."),
    embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="Precomputed embeddings of IMAGES (.npy with --ids, or a CSV / parquet table with an id column) instead of embedding them."),
    ids: Optional[Path] = typer.Option(None, "--ids", help="Ids of the --embeddings .npy rows (default: ids.txt next to it)."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", help="Name stored with every decision (default $LABELSCOUT_REVIEWER or the login name); a page may override it with ?reviewer=NAME."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; anything but 127.0.0.1 / localhost needs --token."),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Port (default: a free one)."),
    token: Optional[str] = typer.Option(None, "--token", help="Secret every request must carry (the printed URL has it); 'auto' makes one."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Print the URL only; do not open a browser."),
    method: str = typer.Option("ensemble", "--method", help="Label-error posterior from the embeddings: knn, logistic or ensemble (ignored with --predictions)."),
    model: Optional[str] = ModelOpt,
    arch: Optional[str] = ArchOpt,
    weights: Optional[str] = WeightsOpt,
    device: str = DeviceOpt,
    batch_size: int = BatchOpt,
    workers: Optional[int] = WorkersOpt,
    cache_dir: Optional[Path] = CacheOpt,
    no_cache: bool = NoCacheOpt,
) -> None:
    """Open the review of IMAGES with their labels: a local web app, one class at a time."""
    from ..review import ReviewServer, open_review
    from ..review.server import check_bind, new_token

    if token == "auto":
        token = new_token()
    check_bind(host, token)  # before the slow part
    session = open_review(images, out=out, labels=labels, label_column=label_column, predictions=predictions, logits=logits,
                          embeddings=embeddings, ids=ids, reviewer=reviewer, method=method, model=model, arch=arch,
                          weights=weights, device=device, batch_size=batch_size, workers=workers,
                          cache_dir=cache_arg(cache_dir, no_cache))
    server = ReviewServer(session, host=host, port=port, token=token)
    s = session.summary()
    echo_result(f"Reviewing {len(session.ids)} labeled samples in {len(session.misfits.classes)} classes "
                f"({s['decided']} decided so far) -> {session.store.path}")
    echo_result(f"Review at {server.url}  (Ctrl+C stops; every decision is already saved)")
    if not no_browser:
        webbrowser.open(server.url)
    server.run()


@review_app.command("export")
def export_command(
    run_dir: Path = typer.Argument(..., help="Run folder of a `labelscout review` (holds review.sqlite)."),
    out: Path = typer.Option(..., "--out", "-o", help="Corrected labels file to write (id,label), for `select --labels` / `inspect --labels`."),
    corrections: Optional[Path] = typer.Option(None, "--corrections", help="Where corrections.csv goes (default: beside --out)."),
) -> None:
    """Write the corrected labels file and corrections.csv (id, given, corrected, reviewer, time, status)."""
    from ..review import export_review

    echo_result(export_review(run_dir, out, corrections=corrections).summary())
