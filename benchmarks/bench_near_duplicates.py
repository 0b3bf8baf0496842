"""Near-duplicate groups at scale: N vectors of dimension D on this machine's CPU cores.

    flock /tmp/labelscout-bench.lock python benchmarks/bench_near_duplicates.py --n 1000000 --dim 64 --threads 2

Data: a mixture of 2,000 Gaussian clusters (the shape of real embeddings: dense where
a class or scene repeats), unit-normalised, plus planted near duplicates: 1 % of the rows
are noisy copies of other rows (cosine distance ~0.005, well inside the threshold
0.05 the 1M run used; the detector's default is 0.04) and 0.2 % exact copies. End to end = what ``NearDuplicateDetector.fit`` does: unit rows,
kNN graph (faiss HNSW above 200k rows), thresholded edges, connected components,
representatives, the issues table. Reported: wall time per stage, peak RSS (above the
RSS after importing torch and faiss) against the embedding matrix, recall of the planted pairs (both ends in one group), the number of
groups, and the kNN graph's recall@k against exact search for 1,000 random rows.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def make_data(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_dup, n_exact = n // 100, n // 500
    n_base = n - n_dup - n_exact
    centres = rng.normal(size=(2000, d)).astype(np.float32)
    X = np.empty((n, d), dtype=np.float32)
    lab = rng.integers(0, 2000, n_base)
    for s in range(0, n_base, 200_000):  # blocks keep the float64 temporaries small
        e = min(n_base, s + 200_000)
        X[s:e] = centres[lab[s:e]] + 0.35 * rng.standard_normal((e - s, d), dtype=np.float32)
    X[:n_base] /= np.linalg.norm(X[:n_base], axis=1, keepdims=True)
    src = rng.integers(0, n_base, n_dup + n_exact)
    noisy = X[src[:n_dup]] + 0.1 / np.sqrt(d) * rng.standard_normal((n_dup, d), dtype=np.float32)
    X[n_base:n_base + n_dup] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    X[n_base + n_dup:] = X[src[n_dup:]]
    pairs = np.stack([src, np.arange(n_base, n)], axis=1)
    perm = rng.permutation(n)  # planted rows are spread out, not at the end
    inv = np.empty(n, dtype=np.int64)
    inv[perm] = np.arange(n)
    return X[perm], inv[pairs]


def knn_recall(X: np.ndarray, idx: np.ndarray, k: int, n_queries: int = 1000, seed: int = 1) -> float:
    """Mean fraction of the exact k neighbours (self excluded) that the graph lists, on random rows."""
    rng = np.random.default_rng(seed)
    q = rng.choice(X.shape[0], n_queries, replace=False)
    hits = 0
    for s in range(0, n_queries, 100):
        rows = q[s:s + 100]
        best_d = np.full((rows.size, k + 1), np.inf, dtype=np.float32)
        best_i = np.full((rows.size, k + 1), -1, dtype=np.int64)
        for b in range(0, X.shape[0], 262_144):  # blocks: never an (n_queries, N) matrix
            blk = X[b:b + 262_144]
            D = 2.0 - 2.0 * (X[rows] @ blk.T)  # unit rows: |a - b|^2
            D[rows[:, None] - b == np.arange(blk.shape[0])[None, :]] = np.inf  # self
            cat_d = np.hstack([best_d, D])
            cat_i = np.hstack([best_i, np.broadcast_to(np.arange(b, b + blk.shape[0]), D.shape)])
            o = np.argpartition(cat_d, k, axis=1)[:, :k + 1]  # the k + 1 smallest, unordered
            best_d, best_i = np.take_along_axis(cat_d, o, 1), np.take_along_axis(cat_i, o, 1)
        best_i = np.take_along_axis(best_i, np.argsort(best_d, axis=1, kind="stable")[:, :k], 1)
        for r, exact in zip(rows, best_i):
            hits += len(set(exact.tolist()) & set(idx[r].tolist()))
    return hits / (n_queries * k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threshold", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "near-duplicates-cpu2.json")
    args = ap.parse_args()

    import faiss

    faiss.omp_set_num_threads(args.threads)
    from labelscout.detectors import NearDuplicateDetector
    from labelscout.space import knn as knn_mod

    rss_imports = _rss_mb()  # torch and faiss are loaded by now: the baseline to subtract
    t = time.perf_counter()
    X, pairs = make_data(args.n, args.dim)
    t_data = time.perf_counter() - t
    rss_data = _rss_mb()
    ids = [f"{i:07d}" for i in range(args.n)]

    # time the kNN graph inside the detector by wrapping the shared function (no behaviour change)
    stage = {}
    real = knn_mod.knn_graph

    def timed(*a, **kw):
        t0 = time.perf_counter()
        g = real(*a, **kw)
        stage["knn_graph_s"] = time.perf_counter() - t0
        stage["graph"] = g
        return g

    knn_mod.knn_graph = timed
    det = NearDuplicateDetector(threshold=args.threshold, k=args.k)
    t0 = time.perf_counter()
    det.fit(X, ids=ids)
    total = time.perf_counter() - t0
    knn_mod.knn_graph = real
    g = stage.pop("graph")

    gof = det.group_of_
    found = (gof[pairs[:, 0]] >= 0) & (gof[pairs[:, 0]] == gof[pairs[:, 1]])
    sizes = np.array([len(x) for x in det.groups_])
    t0 = time.perf_counter()
    rec = knn_recall(X, g.indices, args.k)
    result = {
        "n": args.n, "dim": args.dim, "k": args.k, "threshold": args.threshold, "threads": args.threads,
        "knn_method": det.knn_method_,
        "total_s": round(total, 2), "knn_graph_s": round(stage["knn_graph_s"], 2),
        "rest_s": round(total - stage["knn_graph_s"], 2),
        "knn_recall_at_k": round(rec, 4), "recall_check_s": round(time.perf_counter() - t0, 1),
        "planted_pairs": int(len(pairs)), "planted_pairs_grouped": int(found.sum()),
        "planted_recall": round(float(found.mean()), 4),
        "groups": int(len(det.groups_)), "grouped_samples": int(sizes.sum()), "largest_group": int(sizes.max(initial=0)),
        "flagged": int(det.issues_.flag.sum()),
        "embedding_matrix_mb": round(X.nbytes / 2**20, 1), "peak_rss_mb": round(_rss_mb(), 1),
        "rss_after_imports_mb": round(rss_imports, 1), "rss_after_data_mb": round(rss_data, 1),
        "peak_rss_above_imports_mb": round(_rss_mb() - rss_imports, 1), "data_s": round(t_data, 1),
        "load_avg_1min_before": None,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores_visible": os.cpu_count(),
                    "faiss": faiss.__version__},
    }
    result["load_avg_1min_before"] = LOAD_BEFORE
    result["load_avg_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


LOAD_BEFORE = round(os.getloadavg()[0], 2)

if __name__ == "__main__":
    main()
