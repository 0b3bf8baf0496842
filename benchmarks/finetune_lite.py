"""Does self-supervised fine-tuning help the default model? kNN on CIFAR-10 before and after ``train --init``.

    flock /tmp/labelscout-bench.lock python benchmarks/finetune_lite.py --data /work/exchange/cifar10 \\
        --work /tmp/ls-ft --epochs 2 --batch-size 64 --out benchmarks/results/finetune-lite0-cifar10.json

1. links the quick protocol's images into WORK/quick (train: the first 1,000 JPEGs of each
   class, test: the first 200), so the ids are ``train/<class>/NNNN.jpg`` as in
   benchmarks/knn_embeddings.py;
2. ``labelscout train WORK/quick/train --init efficientnet-lite0 --method simclr`` into
   WORK/model (resumable: rerunning the same command continues after the last finished epoch);
3. ``labelscout embed WORK/quick`` with the init model and with the fine-tuned folder;
4. weighted kNN top-1 (cosine, T = 0.1, k = 20 and 200): bank = the 10,000 train images,
   queries = the 2,000 test images; labels are used only here.

The fine-tuning images are the bank images (labels unused), the same 10,000 images the
shipped reduction was fitted on, so before and after differ only by the training.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import cpu_flags  # noqa: E402
from knn_embeddings import rows_of  # noqa: E402

from labelscout.embed.store import EmbeddingSet  # noqa: E402
from labelscout.runs.atomic import atomic_write_json  # noqa: E402
from labelscout.ssl.knn_probe import knn_accuracy  # noqa: E402


def link_quick(data: Path, dest: Path, per_class: dict[str, int]) -> None:
    for split, n in per_class.items():
        for cls in sorted(os.listdir(data / split)):
            folder = dest / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for name in sorted(os.listdir(data / split / cls))[:n]:
                link = folder / name
                if not link.exists():
                    link.symlink_to(data / split / cls / name)


def run(cmd: list[str]) -> float:
    print("+", " ".join(cmd), flush=True)
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return round(time.perf_counter() - t, 1)


def knn(emb_dir: Path) -> dict:
    emb = EmbeddingSet.load(emb_dir)
    X = np.asarray(emb.vectors, dtype=np.float32)
    b_rows, b_y = rows_of(emb.ids, "train", 1000)
    q_rows, q_y = rows_of(emb.ids, "test", 200)
    out = {"model_id": emb.model_id, "dim": emb.dim, "bank": len(b_rows), "queries": len(q_rows)}
    for k in (20, 200):
        out[f"knn_top1_k{k}"] = round(knn_accuracy(X[b_rows], b_y, X[q_rows], q_y, k=k, temperature=0.1), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/exchange/cifar10")
    ap.add_argument("--work", default="/tmp/ls-ft")
    ap.add_argument("--init", default="efficientnet-lite0")
    ap.add_argument("--method", default="simclr")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--extra", default="", help="more `labelscout train` options, e.g. '--lr 3e-5 --init-bn train'")
    ap.add_argument("--out", default="benchmarks/results/finetune-lite0-cifar10.json")
    args = ap.parse_args(argv)
    work, py = Path(args.work), sys.executable
    link_quick(Path(args.data), work / "quick", {"train": 1000, "test": 200})
    train_cmd = [py, "-m", "labelscout", "train", str(work / "quick" / "train"), "--out", str(work / "model"),
                 "--init", args.init, "--method", args.method, "--epochs", str(args.epochs),
                 "--batch-size", str(args.batch_size), "--monitor", "none", "--threads", "2", *args.extra.split()]
    timings = {"train_wall_s_last_call": run(train_cmd)}
    record = json.loads((work / "model" / "train.json").read_text())
    results = {}
    for label, model in (("before", args.init), ("after", str(work / "model"))):
        emb_out = work / f"emb-{label}"
        timings[f"embed_{label}_s"] = run([py, "-m", "labelscout", "--quiet", "embed", str(work / "quick"), "--model", model,
                                           "--out", str(emb_out)])
        results[label] = knn(emb_out / "embeddings")
        print(label, results[label], flush=True)
    flags = cpu_flags()
    delta = {f"k{k}": round(results["after"][f"knn_top1_k{k}"] - results["before"][f"knn_top1_k{k}"], 4) for k in (20, 200)}
    out = {
        "command": "flock /tmp/labelscout-bench.lock python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
        "train_command": " ".join(["labelscout", *train_cmd[3:]]),
        "protocol": "quick: bank = first 1000 CIFAR-10 train JPEGs per class (10,000), queries = first 200 test JPEGs per class "
                    "(2,000); weighted kNN, cosine, T=0.1; fine-tuned on the 10,000 bank images without labels",
        "before": results["before"], "after": results["after"], "after_minus_before": delta,
        "helped": all(v > 0 for v in delta.values()),
        "training": {"config": record["config"], "precision": record["precision"], "threads": record["threads"],
                     "history": record["history"], "timings_s": record["timings_s"], "export": record.get("export"),
                     "resumed_from_epoch": record.get("resumed_from_epoch"), "init": record.get("init"),
                     "train_cpu_s": round(sum(h.get("train_cpu_s", 0) for h in record["history"]), 1)},
        "timings_s": timings,
        "cpu": record.get("device_name") or platform.processor(), "cpu_cores": os.cpu_count(),
        "cpu_flags": flags,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(Path(args.out), out)
    print(json.dumps({k: out[k] for k in ("before", "after", "after_minus_before", "helped")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
