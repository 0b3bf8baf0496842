"""``labelscout select``: pick the samples worth labeling."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from ..strategies import STRATEGIES
from ._app import app, origin
from ._common import (ArchOpt, BatchOpt, CacheOpt, DeviceOpt, FpsOpt, KeyframesOpt, ModelOpt, NoCacheOpt, SequenceOpt, WeightsOpt,
                      WorkersOpt, cache_arg, echo_result, param_value)


@app.command("select")
def select_command(
    ctx: typer.Context,
    source: Optional[Path] = typer.Argument(None, help="Folder (searched recursively) or file of images and/or videos, or a saved embeddings folder. Omit with --embeddings."),
    n: Optional[str] = typer.Option(None, "-n", "--n", help="How many to select: a count (1000), a fraction (0.1) or a percentage (10%). Required unless --config."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write (selection.txt, selection.csv, embeddings/, run.json)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Replay a run: its run.json (or folder). The selection is repeated exactly into --out; give no other selection options."),
    strategy: str = typer.Option("auto", "--strategy", "-s", help=f"Selection strategy: {', '.join(sorted(STRATEGIES))}."),
    metric: str = typer.Option("cosine", "--metric", help="Distance: cosine or l2 (the same as --space norm / raw; --space wins when given)."),
    space: Optional[str] = typer.Option(None, "--space", help="Space the selection works in: raw (L2), norm (cosine), pca or umap (unit vectors re-embedded, cached in OUT/space/). Default: from --metric."),
    space_dim: Optional[int] = typer.Option(None, "--space-dim", help="Dimensions of the pca / umap space (default: the embedding's, at most 64)."),
    embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="Precomputed embeddings instead of SOURCE: an .npy array (with --ids) or a CSV / parquet table with an id column (Lightly's embeddings.csv works)."),
    ids: Optional[Path] = typer.Option(None, "--ids", help="Ids of the --embeddings .npy rows, one per line (default: ids.txt next to it)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed (first coreset centre, random picks)."),
    param: List[str] = typer.Option([], "--param", "-p", metavar="KEY=VALUE", help=(
        "Strategy parameter KEY=VALUE, repeatable, e.g. -s typiclust -p k=20. Numbers, true/false and none are "
        "parsed; a value starting with { or [ is read as JSON, e.g. -s combine -p 'strategies={\"coreset\": 1, \"typicality\": 0.5}'.")),
    exclude: Optional[Path] = typer.Option(None, "--exclude", help="File of already-labeled ids (one per line, or a CSV with an id column); never picked, counted as covered."),
    labels: str = typer.Option("auto", "--labels", help="auto (class folders when present), folders, none, or a CSV file with id,label columns."),
    label_column: Optional[str] = typer.Option(None, "--label-column", help="Label column name in the --labels CSV."),
    copy: bool = typer.Option(False, "--copy", help="Copy the selected files into OUT/selected/, keeping relative paths."),
    link: bool = typer.Option(False, "--link", help="Symlink the selected files into OUT/selected/ instead of copying."),
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
    frame_format: str = typer.Option("jpg", "--frame-format", help="Selected video frames are written to OUT/frames/ as jpg or png (lossless), or 'none'."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write OUT/report.html explaining the selection."),
    dedupe: bool = typer.Option(False, "--dedupe", help="Drop exact and near duplicates (all but one representative per group) before selecting; groups go to OUT/issues.csv."),
    near_dup_threshold: Optional[float] = typer.Option(None, "--near-dup-threshold", min=0.0, help="With --dedupe: largest cosine distance (1 - cos) joining near duplicates (default: calibrated for the model, 0.2 for efficientnet-lite2, 0.04 for the CIFAR model and unknown ones)."),
    near_dup_ratio: Optional[float] = typer.Option(None, "--near-dup-ratio", help="With --dedupe: a pair must also be at most this fraction of the 10th neighbour's distance, in (0, 1]; 1 turns the test off (default 0.5)."),
    predictions: Optional[Path] = typer.Option(None, "--predictions", help="Your model's class probabilities for the pool (uncertainty, badge, fisher-match): a CSV / parquet with an id column and one column per class, or an .npy (N, C) with P.ids.txt (and P.classes.txt) beside it. Without it, a logistic head on the embeddings trained on the --labels samples predicts."),
    logits: bool = typer.Option(False, "--logits", help="The --predictions values are raw scores (soft-maxed), not probabilities."),
    features: Optional[Path] = typer.Option(None, "--features", help="Your model's per-sample features (N, L) for badge / fisher-match (.npy + ids, or CSV / parquet); default: the embeddings."),
    validation: Optional[Path] = typer.Option(None, "--validation", help="fisher-match / density-match: a folder of validation images (in class folders for fisher-match), embedded with the pool's model; the pool is matched to it."),
) -> None:
    """Select N samples worth labeling from a collection and write the run folder."""
    from .. import api

    if config is not None:
        _only_out_with_config(ctx)
        from ..config import SelectConfig

        result = api.run_select(SelectConfig.from_run(config), out=out, origin=origin())
    else:
        if n is None:
            raise typer.BadParameter("give the number to select (-n 1000, -n 10%) or --config RUN/run.json", param_hint="-n")
        if copy and link:
            raise typer.BadParameter("use either --copy or --link, not both", param_hint="--copy/--link")
        if (source is None) == (embeddings is None):
            raise typer.BadParameter("give either SOURCE or --embeddings FILE, not both and not neither", param_hint="SOURCE/--embeddings")
        if ids is not None and embeddings is None:
            raise typer.BadParameter("--ids names the rows of --embeddings; give --embeddings too", param_hint="--ids")
        result = api.select(
            source, n, out=out, strategy=strategy, metric=metric, space=space, space_dim=space_dim, embeddings=embeddings,
            ids=ids, seed=seed, strategy_params=_params(param), exclude=exclude, labels=labels,
            label_column=label_column, place="copy" if copy else ("link" if link else None), model=model, arch=arch,
            weights=weights, device=device, batch_size=batch_size, workers=workers, cache_dir=cache_arg(cache_dir, no_cache),
            fps=fps, sequence_length=sequence_length, keyframes_only=keyframes_only,
            frame_format=None if frame_format.lower() == "none" else frame_format.lower(),
            report=report, dedupe=dedupe, near_dup_threshold=near_dup_threshold, near_dup_ratio=near_dup_ratio,
            predictions=predictions, logits=logits, features=features, validation=validation, origin=origin(),
        )
    echo_result(result.summary())
    if result.record.config.get("report") and not result.record.extra.get("report_error"):
        echo_result(f"Report -> {Path(out) / 'report.html'}")


def _only_out_with_config(ctx: typer.Context) -> None:
    """With --config the recorded config says everything but where to write."""
    given = [p.opts[0] if p.opts else p.name for p in ctx.command.params
             if p.name not in ("config", "out") and ctx.get_parameter_source(p.name) is not None
             and ctx.get_parameter_source(p.name).name not in ("DEFAULT", "DEFAULT_MAP")]
    if given:
        raise typer.BadParameter(f"with --config the run's recorded config is replayed as it is; drop {', '.join(given)}",
                                 param_hint="--config")


def _params(items: List[str]) -> dict[str, Any]:
    """``KEY=VALUE`` options as a dict of strategy parameters."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--param/-p")
        out[key.strip()] = param_value(key.strip(), text)
    return out
