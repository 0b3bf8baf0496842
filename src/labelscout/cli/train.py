"""``labelscout train``: train an embedding model on your own images with self-supervision."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError
from ._app import app, origin
from ._common import DeviceOpt, echo_result


def _parse_blocks(text: str) -> list[int]:
    try:
        return [int(b) for b in text.split(",")]
    except ValueError:
        # a library error, so the boundary prints it as one line with the hint
        raise ConfigError(f"--blocks must be comma-separated integers such as 1,1,1,1. Got {text!r} instead.",
                          hint="Use 1,1,1,1 (ResNet-10) or 2,2,2,2 (ResNet-18).") from None


@app.command("train")
def train_command(
    source: Path = typer.Argument(..., help="Folder of images to learn from (searched recursively; class folders, if any, feed only the kNN monitor)."),
    out: Path = typer.Option(..., "--out", "-o", help="Model folder to write (model.json, model.safetensors, train.json, checkpoints/). Rerunning resumes it."),
    method: str = typer.Option("simclr", "--method", help="simclr, swav or autoencoder."),
    epochs: int = typer.Option(100, "--epochs", min=1, help="Passes over the images."),
    batch_size: int = typer.Option(256, "--batch-size", min=2, help="Images per step (2 views each for simclr/swav)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (default: the method's, scaled by batch size / 256)."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="sgd, lars or adamw (default: the method's)."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="Weight decay (default: the method's)."),
    warmup_epochs: Optional[int] = typer.Option(None, "--warmup-epochs", min=0, help="Linear warm-up epochs (default: min(10, epochs/10))."),
    width: int = typer.Option(32, "--width", min=1, help="Network width: channels of the first stage (doubling per stage)."),
    blocks: str = typer.Option("1,1,1,1", "--blocks", help="Residual blocks per stage (1,1,1,1 = ResNet-10; 2,2,2,2 = ResNet-18)."),
    embedding_dim: int = typer.Option(128, "--embedding-dim", min=1, help="Size of the embedding the model emits (the autoencoder's bottleneck)."),
    reduce: str = typer.Option("pca", "--reduce", help="How wider backbone features reach --embedding-dim: pca (fitted after training) or linear (trained)."),
    input_size: Optional[int] = typer.Option(None, "--input-size", min=8, help="Training resolution in pixels (default: 32 from scratch; with --init, the model's input policy: 128 for thumbnails such as CIFAR's, else 224)."),
    init: Optional[str] = typer.Option(None, "--init", help="Continue training this pretrained model instead of starting from random weights: efficientnet-lite0 (any name or folder --model accepts). Fine-tuning defaults: AdamW, lr 1e-4; --width/--blocks do not apply."),
    init_bn: str = typer.Option("frozen", "--init-bn", help="With --init: frozen (keep the pretrained BatchNorm statistics) or train (update them)."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="simclr/swav temperature (default: 0.2 simclr, 0.1 swav)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed (weights, order, augmentations, holdout)."),
    device: str = DeviceOpt,
    precision: str = typer.Option("auto", "--precision", help="auto, fp32, bf16 or fp16 (CUDA only)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads (default: the cores not kept busy by other processes, at least 1)."),
    monitor: str = typer.Option("auto", "--monitor", help="kNN accuracy monitor: auto (hold out --holdout of class-folder images), none, or a folder of labelled images."),
    holdout: float = typer.Option(0.05, "--holdout", help="Fraction of labelled images held out for --monitor auto."),
    knn_every: int = typer.Option(1, "--knn-every", min=1, help="Measure kNN accuracy every N epochs (and after the last)."),
    weights_dtype: str = typer.Option("float32", "--weights-dtype", help="float32 or float16 weights in the saved model."),
    name: Optional[str] = typer.Option(None, "--name", help="Model name recorded in model.json."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from OUT's checkpoint if there is one (default), or start over."),
    max_images: Optional[int] = typer.Option(None, "--max-images", min=1, help="Use only the first N images (quick trials)."),
    temporal: bool = typer.Option(False, "--temporal", help="Train on the videos under SOURCE: positives are frames close in time, each batch draws frames far apart in time."),
    fps: float = typer.Option(5.0, "--fps", help="With --temporal: frames decoded per second of video."),
    max_dt: float = typer.Option(1.0, "--max-dt", help="With --temporal: a positive is a frame at most this many seconds from its anchor."),
    min_gap: float = typer.Option(10.0, "--min-gap", help="With --temporal: frames of one video in a batch are at least this many seconds apart."),
) -> None:
    """Train an embedding model on unlabeled images (SimCLR, SwAV or an autoencoder) and write a model folder for --model."""
    from .. import api

    model_dir = api.train(
        source, out, method=method, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
        weight_decay=weight_decay, warmup_epochs=warmup_epochs, width=width, blocks=_parse_blocks(blocks),
        embedding_dim=embedding_dim, reduce=reduce, input_size=input_size, temperature=temperature, seed=seed,
        device=device, precision=precision, threads=threads, monitor=None if monitor == "none" else monitor,
        holdout=holdout, knn_every=knn_every, weights_dtype=weights_dtype, name=name, resume=resume,
        max_images=max_images, init=init, init_bn=init_bn, temporal={"fps": fps, "max_dt": max_dt, "min_gap": min_gap} if temporal else None,
        origin=origin(),
    )
    record = json.loads((model_dir / "train.json").read_text())
    knn = record.get("export", {}).get("knn_top1")
    what = "video frames" if temporal else "images"
    line = (f"Trained {method}{' (temporal)' if temporal else ''}{f' from {init}' if init else ''} for {epochs} epochs on {record['counts']['train_images']} {what}"
            + (f" (kNN top-1 {knn:.1%} on {record['monitor']['queries']} held-out images)" if knn is not None else "")
            + f" -> {model_dir}\n  use it: labelscout select IMAGES -n N --model {model_dir}")
    echo_result(line)
