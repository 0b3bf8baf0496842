"""Weighted-kNN accuracy of a model folder on CIFAR-10: train JPEGs as the bank, test JPEGs as queries.

    python benchmarks/knn_builtin.py [MODEL_DIR] [--data /work/data] [--out results.json]

MODEL_DIR defaults to the built-in model. Images are decoded with the same resize + centre
crop the embedder applies, the model runs in float32 on the CPU (as ``labelscout select``
runs it there), and the result (k=200, T=0.1, cosine, plus k=20 for reference) is printed
and, with ``--out``, written as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from labelscout.ssl.knn_probe import knn_accuracy
from labelscout.models.model_dir import load_model_dir
from labelscout.models.registry import BUILTIN_DIR, CIFAR_MODEL
from labelscout.runs.atomic import atomic_write_json
from labelscout.ssl.data import load_image_folder
from labelscout.ssl.trainer import _device_name
from labelscout.ssl.views import normalize, to_float


@torch.inference_mode()
def embed(model: torch.nn.Module, images: torch.Tensor, mean, std, batch: int = 1000) -> torch.Tensor:
    """uint8 (N, 3, S, S) -> float32 (N, D)."""
    out = []
    for s in range(0, images.shape[0], batch):
        out.append(model(normalize(to_float(images[s : s + batch]), mean, std)).float())
    return torch.cat(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", default=str(BUILTIN_DIR / CIFAR_MODEL), help="model folder")
    ap.add_argument("--data", default=os.environ.get("LABELSCOUT_CIFAR_DIR", "/work/data"), help="folder with train/ and test/")
    ap.add_argument("--out", default=None, help="write the result as JSON here")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--pca", default="", help="also report kNN after a PCA (fit on train) to these comma-separated dims")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(args.data)
    if not (data / "train").is_dir() or not (data / "test").is_dir():
        print(f"error: {data} needs train/ and test/ class folders (CIFAR-10 JPEGs)", file=sys.stderr)
        return 2
    model, spec, digest = load_model_dir(args.model)
    t0 = time.perf_counter()
    train = load_image_folder(data / "train", spec.input_size, progress=False)
    test = load_image_folder(data / "test", spec.input_size, classes=train.classes, progress=False)
    t_decode = time.perf_counter() - t0
    t0 = time.perf_counter()
    bank = embed(model, train.images, spec.mean, spec.std)
    queries = embed(model, test.images, spec.mean, spec.std)
    t_embed = time.perf_counter() - t0
    result = {
        "model": spec.name,
        "model_dir": str(args.model),
        "weights_sha256": digest,
        "embedding_dim": int(bank.shape[1]),
        "train_images": len(train),
        "test_images": len(test),
        "skipped": len(train.skipped) + len(test.skipped),
        "knn_top1_k200": knn_accuracy(bank.numpy(), train.labels, queries.numpy(), test.labels, k=200, temperature=0.1),
        "knn_top1_k20": knn_accuracy(bank.numpy(), train.labels, queries.numpy(), test.labels, k=20, temperature=0.1),
        "protocol": "weighted kNN, cosine, T=0.1; bank = CIFAR-10 train JPEGs, queries = test JPEGs; float32 CPU inference",
        "decode_s": round(t_decode, 2),
        "embed_s": round(t_embed, 2),
        "embed_images_per_s": round((len(train) + len(test)) / t_embed, 1),
        "torch_threads": torch.get_num_threads(),
        "cpu": _device_name(torch.device("cpu")),
        "torch": torch.__version__,
    }
    if args.pca:
        # what a smaller embedding would cost: centred PCA fitted on the train embeddings
        mu = bank.double().mean(dim=0)
        _, _, v = torch.linalg.svd(bank.double() - mu, full_matrices=False)  # rows of v: principal axes
        for d in [int(x) for x in args.pca.split(",")]:
            w = v[:d].T  # (D, d)
            b, q = ((bank.double() - mu) @ w).float(), ((queries.double() - mu) @ w).float()
            result[f"knn_top1_k200_pca{d}"] = knn_accuracy(b.numpy(), train.labels, q.numpy(), test.labels, k=200, temperature=0.1)
    print(json.dumps(result, indent=2))
    if args.out:
        atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
