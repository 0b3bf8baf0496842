"""``labelscout embed``: compute (or update) the embeddings of a collection."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app, origin
from ._common import (ArchOpt, BatchOpt, CacheOpt, DeviceOpt, FpsOpt, KeyframesOpt, ModelOpt, NoCacheOpt, SequenceOpt, WeightsOpt,
                      WorkersOpt, cache_arg, echo_result)


@app.command("embed")
def embed_command(
    source: Path = typer.Argument(..., help="Folder (searched recursively) or file of images and/or videos."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write embeddings/ and run.json into."),
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
    """Compute the embeddings of a collection; a rerun embeds only new or changed files."""
    from .. import api

    result = api.embed(source, out=out, model=model, arch=arch, weights=weights, device=device, batch_size=batch_size,
                       workers=workers, cache_dir=cache_arg(cache_dir, no_cache), fps=fps, sequence_length=sequence_length,
                       keyframes_only=keyframes_only, origin=origin())
    s = result.stats
    line = (f"Embedded {s['samples']} samples ({s['embedded_new']} new, {s['from_cache']} from cache"
            + (f", {s['skipped']} skipped" if s["skipped"] else "")
            + (f"; videos: {s['videos_decoded']} decoded, {s['videos_from_cache']} from cache" if s.get("videos_found") else "")
            + ")" + "".join(f"; {note}" for note in result.notes) + f" -> {Path(out) / 'embeddings'}")
    echo_result(line)
