"""Options shared by several commands, declared once."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

ModelOpt = typer.Option(None, "--model", "-m", help="Model: built-in name (default), a `labelscout train` folder, a checkpoint/TorchScript file, torchvision:NAME or timm:NAME.")
ArchOpt = typer.Option(None, "--arch", help="Architecture of a plain checkpoint file (torchvision:resnet18, timm:NAME, cifar_resnet18).")
WeightsOpt = typer.Option(None, "--weights", help="Local weights file for a torchvision:/timm: model (instead of the hub cache).")
DeviceOpt = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps.")
BatchOpt = typer.Option(256, "--batch-size", min=1, help="Images per forward pass.")
WorkersOpt = typer.Option(None, "--workers", min=0, help="Decoding processes for images, decoding threads for videos (default: chosen for the machine: on fewer than 4 cores images decode in one background thread; 0: that thread, no processes).")
CacheOpt = typer.Option(None, "--cache-dir", help="Embedding cache folder (default $LABELSCOUT_CACHE_DIR or ~/.cache/labelscout).")
NoCacheOpt = typer.Option(False, "--no-cache", help="Do not read or write the embedding cache.")


def cache_arg(cache_dir: Optional[Path], no_cache: bool):
    if no_cache:
        return None
    return cache_dir if cache_dir is not None else "default"


def echo_result(line: str) -> None:
    """The final result line: printed even with --quiet."""
    typer.echo(line)


FpsOpt = typer.Option("5", "--fps", help="Video frames sampled per second of video, by exact timestamps (a number, or 'all'). Default 5: no scene shorter than 0.2 s is missed, 5-12x fewer near-duplicate frames than 25-60 fps.")
SequenceOpt = typer.Option(1, "--sequence-length", min=1, help="Videos: make each sample a clip of this many consecutive sampled frames (mean embedding), for labeling tracks.")
KeyframesOpt = typer.Option(False, "--keyframes-only", help="Videos: decode keyframes only (several times faster; samples follow the encoder's keyframe spacing).")


def param_value(key: str, text: str, option: str = "--param/-p") -> Any:
    """The value of a ``-p KEY=VALUE`` strategy parameter: JSON for a dict or list
    (``strategies={"coreset": 1, "uncertainty": 1}``), else int, float, bool, None or text;
    ``select`` and ``bench active`` read parameters the same way."""
    from .._validation import parse_value

    text = text.strip()
    if text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"{key}: {text!r} is not valid JSON ({exc.msg})", param_hint=option) from None
    return parse_value(text)
