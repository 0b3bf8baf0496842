"""kNN top-1 of saved embeddings (``labelscout embed`` output) of the CIFAR-10 JPEG folder: train rows as the bank, test rows as queries.

    labelscout embed /work/exchange/cifar10 --out runs/cifar-default
    python benchmarks/knn_embeddings.py runs/cifar-default/embeddings --out benchmarks/results/knn_default_full.json

Ids are ``train/<class>/NNNN.jpg`` / ``test/<class>/NNNN.jpg``; the class is the folder.
``--per-class TRAIN,TEST`` restricts to the first files of each class (``1000,200`` is the
quick protocol). Weighted kNN, cosine, T = 0.1, k = 20 and 200.
"""
from __future__ import annotations

import argparse
import platform
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import cpu_flags  # noqa: E402

from labelscout.ssl.knn_probe import knn_accuracy
from labelscout.embed.store import EmbeddingSet
from labelscout.runs.atomic import atomic_write_json


def rows_of(ids: list[str], split: str, per_class: int | None) -> tuple[np.ndarray, np.ndarray]:
    by_class: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for r, i in enumerate(ids):
        parts = i.split("/")
        if parts[0] == split:
            by_class[parts[1]].append((parts[2], r))
    rows, labels = [], []
    for c, name in enumerate(sorted(by_class)):
        files = sorted(by_class[name])[:per_class] if per_class else sorted(by_class[name])
        rows += [r for _, r in files]
        labels += [c] * len(files)
    return np.asarray(rows), np.asarray(labels)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("embeddings")
    ap.add_argument("--per-class", default="", help="TRAIN,TEST images per class (default: all)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    emb = EmbeddingSet.load(args.embeddings)
    per = [int(x) for x in args.per_class.split(",")] if args.per_class else [None, None]
    b_rows, b_y = rows_of(emb.ids, "train", per[0])
    q_rows, q_y = rows_of(emb.ids, "test", per[1])
    X = np.asarray(emb.vectors, dtype=np.float32)
    flags = cpu_flags()
    result = {
        "command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
        "embeddings": args.embeddings, "model_id": emb.model_id, "fingerprint": emb.fingerprint, "dim": emb.dim,
        "protocol": f"bank = {len(b_rows)} CIFAR-10 train JPEGs, queries = {len(q_rows)} test JPEGs; weighted kNN, cosine, T=0.1",
        "cpu": platform.processor() or platform.machine(), "cpu_flags_simd": [f for f in flags if f.startswith(("avx", "sse", "fma"))],
    }
    for k in (20, 200):
        result[f"knn_top1_k{k}"] = round(knn_accuracy(X[b_rows], b_y, X[q_rows], q_y, k=k, temperature=0.1), 4)
    print(result)
    if args.out:
        atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
