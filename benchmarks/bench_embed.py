"""Embedding throughput on the CPU, cold cache, side by side: PyTorch eager (NCHW), PyTorch channels-last, ONNX Runtime.

    python benchmarks/bench_embed.py --cifar /work/exchange/cifar10/test --n-cifar 2000 \
        --video ../shared/data/videos/dashcam_highway.mp4 --n-photos 200 --out benchmarks/results/embed_throughput.json

Each runtime embeds the same files through ``Embedder.embed`` (hashing, decoding in worker
processes with JPEG draft mode, batching, the model) with the cache disabled, so the number
is what a first run costs. Photos: frames of the dashcam video written as 640 x 480 JPEGs
(quality 90), real content at a typical camera size. The machine's load average is recorded
because other processes share the cores.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import cpu_flags  # noqa: E402
import torch

from labelscout.embed.embedder import Embedder
from labelscout.models.registry import load_model
from labelscout.runs.atomic import atomic_write_json


def _photos(video: Path, n: int, dest: Path) -> Path:
    import av

    dest.mkdir(parents=True, exist_ok=True)
    with av.open(str(video)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i >= n:
                break
            frame.to_image().resize((640, 480)).save(dest / f"{i:05d}.jpg", quality=90)
    return dest


def _cifar(root: Path, n: int, dest: Path) -> Path:
    files = sorted(root.rglob("*.jpg"))[:: max(1, len(sorted(root.rglob("*.jpg"))) // n)][:n]
    for f in files:
        (dest / f.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest / f.parent.name / f.name)
    return dest



def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cifar", default="/work/exchange/cifar10/test")
    ap.add_argument("--n-cifar", type=int, default=2000)
    ap.add_argument("--video", default="../shared/data/videos/dashcam_highway.mp4")
    ap.add_argument("--n-photos", type=int, default=200)
    ap.add_argument("--runtimes", default="torch-nchw,torch,onnx", help="torch-nchw: PyTorch eager NCHW; torch: channels-last")
    ap.add_argument("--workers", type=int, default=None,
                    help="decode processes (default: the embedder's own choice; 0: a decode thread in the main process)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    flags = cpu_flags()
    result = {"command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
              "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
              "cpu_flags_simd": [f for f in flags if f.startswith(("avx", "sse", "fma"))], "torch": torch.__version__,
              "load_average_before": os.getloadavg(), "runs": []}
    model = load_model()
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"cifar_32px_jpeg": _cifar(Path(args.cifar), args.n_cifar, Path(tmp) / "cifar"),
                "photo_640x480_jpeg": _photos(Path(args.video), args.n_photos, Path(tmp) / "photos")}
        for set_name, folder in sets.items():
            ref = None
            for runtime in args.runtimes.split(","):
                e = Embedder(model, device="cpu", runtime=runtime.removesuffix("-nchw"), cache_dir=None, workers=args.workers,
                             progress=False, batch_size=64)
                if runtime == "torch-nchw":  # PyTorch eager as it comes: undo the embedder's channels-last layout
                    _ = e.torch_device
                    e.loaded.module.to(memory_format=torch.contiguous_format)
                e.embed_pictures([np.zeros((32, 32, 3), np.uint8), np.zeros((480, 640, 3), np.uint8)])  # warm up: export, sessions
                t0 = time.perf_counter()
                res = e.embed(folder)
                dt = time.perf_counter() - t0
                vec = np.asarray(res.embeddings.vectors)
                diff = None if ref is None else float(np.abs(vec - ref).max())
                ref = vec if ref is None else ref
                run = {"set": set_name, "runtime": runtime if runtime != "torch" else "torch-channels-last", "model": model.model_id, "images": len(res.embeddings), "seconds": round(dt, 2),
                       "images_per_s": round(len(res.embeddings) / dt, 1), "max_abs_diff_vs_first": diff,
                       "load_average": os.getloadavg()}
                print(run, flush=True)
                result["runs"].append(run)
                if args.out:
                    atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
