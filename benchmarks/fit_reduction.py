"""Fit the shipped reduction of the default model: sqrt -> L2 -> PCA whitening of the pooled features.

    python benchmarks/fit_reduction.py --data /work/exchange/cifar10 --variant efficientnet-lite2 \
        --per-class 1000 --dim 128 --power 0.75 --features /work/exchange/lite-features

Fitted on the first ``--per-class`` CIFAR-10 *train* JPEGs of each class (no labels are
used), at the default input policy (thumbnails upscaled to ``SMALL_INPUT`` px, bicubic, no
mirror averaging), with partial whitening ``--power`` (docs/models.md), and written to
src/labelscout/models/weights/reductions/VARIANT.{safetensors,json}
with the command and data it came from. The test JPEGs, which the kNN benchmarks query,
are never seen.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from knn_lite import cached_features, split_files
from labelscout.models.efficientnet_lite import EfficientNetLite, load_reference_state
from labelscout.models.package_models import RESAMPLE, SMALL_INPUT
from labelscout.models.reductions import fit_sqrt_whitening, save_reduction


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/exchange/cifar10")
    ap.add_argument("--variant", default="efficientnet-lite0")
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--power", type=float, default=1.0, help="whitening power: 1 full, 0.5 divides each axis by sqrt(std)")
    ap.add_argument("--features", default="/tmp/lite-features")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    files, _, _ = split_files(Path(args.data), "train", args.per_class)
    model = EfficientNetLite(args.variant).eval()
    model.load_state_dict(load_reference_state(args.variant)[0])
    model = model.to(memory_format=torch.channels_last)
    plain, _, _ = cached_features(model, args.variant, SMALL_INPUT, RESAMPLE, "train", files, Path(args.features))
    mean, matrix = fit_sqrt_whitening(plain, args.dim, args.power)
    path = save_reduction(args.variant, mean, matrix, {
        "reduction": "sqrt -> L2 -> PCA whitening" + (f" (partial: axes divided by std ** {args.power})" if args.power != 1 else ""),
        "dim": args.dim, "variant": args.variant, "whitening_power": args.power,
        "fitted_on": f"CIFAR-10 train JPEGs, first {args.per_class} of each class ({len(files)} images, labels unused)",
        "input": f"{SMALL_INPUT} px, {RESAMPLE}, no mirror averaging",
        "command": "python benchmarks/fit_reduction.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    })
    print(path, matrix.shape, float(np.abs(matrix).max()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
