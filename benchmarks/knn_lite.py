"""kNN top-1 of EfficientNet-Lite features on the CIFAR-10 JPEGs, for choosing the input policy and the reduction.

    python benchmarks/knn_lite.py --data /work/exchange/cifar10 --protocol quick \
        --variants efficientnet-lite0 --sizes 64,96,128,160,224 --features /tmp/lite-features \
        --out benchmarks/results/knn_lite_quick.json

Protocols (weighted kNN, cosine, T = 0.1, k = 20 and 200):
* ``quick``: bank = the first 1,000 train JPEGs of each class, queries = the first 200 test
  JPEGs of each class (12,000 images; minutes on two cores);
* ``full``: bank = all 50,000 train JPEGs, queries = all 10,000 test JPEGs.

For each variant and input size the 32-px images are upscaled with Pillow (``--filter``) the
way the embedder does, and the pooled 1280-d features of each image and of its mirror image
are stored under ``--features`` (reused by later runs). Then every embedding candidate is
scored on them:
* ``raw``: the 1280-d pooled features;
* ``flip``: the mean of the features of the image and its mirror image;
* ``fc{d}``: centred on the ImageNet feature mean implied by the head's batch-norm statistics,
  projected on the top ``d`` right singular vectors of the ImageNet classifier, scaled by their
  singular values (a data-free reduction: it keeps the directions the classifier uses);
* ``pca{d}`` / ``pcaw{d}``: PCA fitted on the bank (whitened for ``pcaw``);
* ``sqrtw{d}`` / ``flip_sqrtw{d}``: square root, L2, PCA whitening fitted on the bank (the
  shipped reduction, :mod:`labelscout.models.reductions`);
* ``rp{d}``: a seeded Gaussian random projection (data-free, for comparison).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import cpu_flags  # noqa: E402
import torch
from PIL import Image

from labelscout.ssl.knn_probe import knn_accuracy
from labelscout.models.efficientnet_lite import EfficientNetLite, load_reference_state
from labelscout.models.reductions import fit_sqrt_whitening
from labelscout.runs.atomic import atomic_write_json

FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def split_files(data: Path, split: str, per_class: int | None) -> tuple[list[Path], np.ndarray, list[str]]:
    classes = sorted(p.name for p in (data / split).iterdir() if p.is_dir())
    files, labels = [], []
    for c, name in enumerate(classes):
        names = sorted((data / split / name).iterdir())
        names = names[:per_class] if per_class else names
        files += names
        labels += [c] * len(names)
    return files, np.asarray(labels), classes


def decode(files: list[Path], size: int, resample: int) -> torch.Tensor:
    """uint8 (N, 3, size, size), resized as the embedder resizes a square image."""
    out = torch.empty((len(files), 3, size, size), dtype=torch.uint8)
    for i, f in enumerate(files):
        with Image.open(f) as im:
            im = im.convert("RGB")
            if im.size != (size, size):
                im = im.resize((size, size), resample)
            out[i] = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1)
    return out


@torch.inference_mode()
def features(model: EfficientNetLite, images: torch.Tensor, batch: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(pooled features, pooled features of the mirror images), each float32 (N, 1280)."""
    mean = torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1)
    plain, flipped = [], []
    for s in range(0, len(images), batch):
        x = (images[s : s + batch].float() / 255 - mean) / 0.5
        x = x.contiguous(memory_format=torch.channels_last)
        plain.append(model.features(x).numpy())
        flipped.append(model.features(torch.flip(x, dims=[3])).numpy())
    return np.concatenate(plain), np.concatenate(flipped)


class _Pooled(torch.nn.Module):
    def __init__(self, model: EfficientNetLite):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.features(x)


def onnx_features(model: EfficientNetLite, images: torch.Tensor, batch: int = 100, threads: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The same as :func:`features`, run through ONNX Runtime (several times faster on the CPU)."""
    import onnxruntime as ort

    from labelscout.embed.runtime import export_onnx

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    sess = ort.InferenceSession(export_onnx(_Pooled(model), images.shape[-1]), opts, providers=["CPUExecutionProvider"])
    plain, flipped = [], []
    for s in range(0, len(images), batch):
        x = ((images[s : s + batch].float() / 255 - 0.5) / 0.5).numpy()
        plain.append(sess.run(None, {"x": x})[0])
        flipped.append(sess.run(None, {"x": np.ascontiguousarray(x[..., ::-1])})[0] if RUNTIME["flip"] else plain[-1])
    return np.concatenate(plain), np.concatenate(flipped)


RUNTIME = {"name": "torch", "flip": True}


def cached_features(model, variant, size, flt, split, files, store: Path) -> tuple[np.ndarray, np.ndarray, float]:
    path = store / f"{variant}_{size}_{flt}_{split}_{len(files)}{'' if RUNTIME['flip'] else '_noflip'}.npz"
    if path.is_file():
        with np.load(path) as z:
            return z["plain"], z["flipped"], float(z["seconds"])
    t0 = time.perf_counter()
    imgs = decode(files, size, FILTERS[flt])
    plain, flipped = (onnx_features(model, imgs) if RUNTIME["name"] == "onnx" else features(model, imgs))
    seconds = time.perf_counter() - t0
    store.mkdir(parents=True, exist_ok=True)
    np.savez(path, plain=plain, flipped=flipped, seconds=seconds)
    return plain, flipped, seconds


def _pca(bank: np.ndarray, d: int, whiten: bool):
    mu = bank.mean(0)
    _, s, vt = np.linalg.svd((bank - mu).astype(np.float64), full_matrices=False)
    w = vt[:d].T / (s[:d] / np.sqrt(len(bank)) if whiten else 1.0)
    return lambda x: ((x - mu) @ w).astype(np.float32)


def classifier_projection(model: EfficientNetLite, dim: int):
    """Centre on the ImageNet feature mean the head's batch norm implies, project on the top ``dim``
    right singular vectors of the classifier scaled by their singular values (no data needed)."""
    import math

    bn = model.head[1]
    mu, sigma = bn.bias.detach().double(), bn.weight.detach().double().abs()
    t = torch.linspace(0, 6, 601, dtype=torch.float64)
    surv = 0.5 * torch.erfc((t.view(1, -1) - mu.view(-1, 1)) / sigma.view(-1, 1) / math.sqrt(2))
    mean = torch.trapezoid(surv, t, dim=1).numpy()  # E[ReLU6(N(beta, gamma^2))] per channel
    _, s, vt = np.linalg.svd(model.classifier.weight.detach().double().numpy(), full_matrices=False)
    matrix = vt[:dim].T * s[:dim]
    return lambda x: ((x - mean) @ matrix).astype(np.float32)


def _sqrtw(bank: np.ndarray, d: int, power: float = 1.0):
    mean, matrix = fit_sqrt_whitening(bank, d, power)

    def apply(x):
        x = np.sqrt(np.clip(x, 0, None))
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        return ((x - mean) @ matrix).astype(np.float32)
    return apply


def candidates(model: EfficientNetLite, bank_plain: np.ndarray, bank_f: np.ndarray, dims: list[int]) -> dict[str, object]:
    """Name -> factory of a function from (plain, flipped) features to embeddings (fitted only when asked for)."""
    def on_flip(make):
        return lambda: (lambda pr: lambda p, f: pr((p + f) / 2))(make())

    def on_plain(make):
        return lambda: (lambda pr: lambda p, f: pr(p))(make())

    out: dict[str, object] = {"raw": lambda: (lambda p, f: p), "flip": lambda: (lambda p, f: (p + f) / 2)}
    for d in dims:
        out[f"fc{d}"] = on_plain(lambda d=d: classifier_projection(model, d))
        out[f"flip_fc{d}"] = on_flip(lambda d=d: classifier_projection(model, d))
        out[f"flip_pca{d}"] = on_flip(lambda d=d: _pca(bank_f, d, False))
        out[f"flip_pcaw{d}"] = on_flip(lambda d=d: _pca(bank_f, d, True))
        rp = lambda d=d: (lambda r: lambda x: x @ r)(
            np.random.default_rng(0).standard_normal((bank_f.shape[1], d)).astype(np.float32) / np.sqrt(d))
        out[f"flip_rp{d}"] = on_flip(rp)
        out[f"sqrtw{d}"] = on_plain(lambda d=d: _sqrtw(bank_plain, d))
        out[f"flip_sqrtw{d}"] = on_flip(lambda d=d: _sqrtw(bank_f, d))
        for p in (0.5, 0.75):  # partial whitening: sqrtw{d}p05 divides each axis by std ** 0.5
            tag = f"p{str(p).replace('0.', '0')}"
            out[f"sqrtw{d}{tag}"] = on_plain(lambda d=d, p=p: _sqrtw(bank_plain, d, p))
            out[f"flip_sqrtw{d}{tag}"] = on_flip(lambda d=d, p=p: _sqrtw(bank_f, d, p))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("LABELSCOUT_CIFAR_DIR", "/work/exchange/cifar10"))
    ap.add_argument("--protocol", choices=["quick", "full"], default="quick")
    ap.add_argument("--variants", default="efficientnet-lite0")
    ap.add_argument("--sizes", default="128")
    ap.add_argument("--filter", choices=sorted(FILTERS), default="bicubic")
    ap.add_argument("--dims", default="64,128")
    ap.add_argument("--only", default="", help="comma-separated candidate names to score (default: all)")
    ap.add_argument("--features", default="/tmp/lite-features", help="folder caching the extracted features")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runtime", choices=["torch", "onnx"], default="torch",
                    help="what extracts the features (ONNX Runtime equals PyTorch to float32 rounding and is faster)")
    ap.add_argument("--no-flip", action="store_true", help="with --runtime onnx: skip the mirror images (flip_* equal the plain ones)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    RUNTIME["name"], RUNTIME["flip"] = args.runtime, not args.no_flip
    data, store = Path(args.data), Path(args.features)
    per_train, per_test = (1000, 200) if args.protocol == "quick" else (None, None)
    train_files, train_y, _ = split_files(data, "train", per_train)
    test_files, test_y, _ = split_files(data, "test", per_test)
    dims = [int(d) for d in args.dims.split(",")]
    only = set(filter(None, args.only.split(",")))
    flags = cpu_flags()
    result: dict[str, object] = {
        "command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
        "protocol": f"{args.protocol}: bank = {len(train_files)} CIFAR-10 train JPEGs, queries = {len(test_files)} test JPEGs; "
                    "weighted kNN, cosine, T=0.1",
        "resize_filter": args.filter,
        "cpu": platform.processor() or platform.machine(),
        "cpu_flags_simd": [f for f in flags if f.startswith(("avx", "sse", "fma", "amx"))],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "runs": [],
    }
    for variant in args.variants.split(","):
        model = EfficientNetLite(variant).eval()
        state, _ = load_reference_state(variant)
        model.load_state_dict(state)
        model = model.to(memory_format=torch.channels_last)
        for size in [int(s) for s in args.sizes.split(",")]:
            bp, bf, t_bank = cached_features(model, variant, size, args.filter, "train", train_files, store)
            qp, qf, t_query = cached_features(model, variant, size, args.filter, "test", test_files, store)
            run = {"variant": variant, "input_size": size, "extract_s": round(t_bank + t_query, 1),
                   "extract_images_per_s_with_flip": round((len(bp) + len(qp)) / (t_bank + t_query), 1), "knn": {}}
            for name, make in candidates(model, bp, (bp + bf) / 2, dims).items():
                if only and name not in only:
                    continue
                fn = make()
                b, q = fn(bp, bf), fn(qp, qf)
                run["knn"][name] = {f"k{k}": round(knn_accuracy(b, train_y, q, test_y, k=k, temperature=0.1), 4) for k in (20, 200)}
                print(variant, size, name, b.shape[1], run["knn"][name], flush=True)
            result["runs"].append(run)
            if args.out:
                atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
