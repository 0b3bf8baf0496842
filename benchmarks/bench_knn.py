"""kNN graph at scale: time labelscout.space.knn.knn_graph (hnsw, ivf; exact for reference)
on a clustered Gaussian mixture and measure recall@k against exact search.

Each configuration runs in its own subprocess so its peak RSS (ru_maxrss) is its own.
The data: ``--clusters`` Gaussian clusters (sizes Zipf-like), each a random 8-dimensional
affine patch in D dims plus small isotropic noise (embeddings have a low intrinsic
dimension per concept), then unit-normalised (the cosine space selection runs in).

    flock /tmp/labelscout-bench.lock env PYTHONPATH=src python benchmarks/bench_knn.py \\
        --n 1000000 --dim 64 --threads 2 --out benchmarks/results/knn-cpu2.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def make_data(n: int, d: int, clusters: int, seed: int = 0, local_dim: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sizes = 1.0 / np.arange(1, clusters + 1) ** 0.7
    label = rng.choice(clusters, size=n, p=sizes / sizes.sum())
    centres = rng.normal(size=(clusters, d)).astype(np.float32)
    X = np.empty((n, d), np.float32)
    block = 100_000
    for c in range(clusters):  # one affine patch per cluster
        rows = np.flatnonzero(label == c)
        if rows.size == 0:
            continue
        A = (rng.normal(size=(local_dim, d)) * (0.3 / np.sqrt(local_dim))).astype(np.float32)
        for s in range(0, rows.size, block):
            r = rows[s:s + block]
            X[r] = centres[c] + rng.normal(size=(r.size, local_dim)).astype(np.float32) @ A
    X += rng.normal(size=X.shape).astype(np.float32) * 0.02
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


def run_one(args) -> dict:
    """One configuration, in this (fresh) process."""
    import faiss

    faiss.omp_set_num_threads(args.threads)
    from labelscout.space.knn import knn_graph, measure_recall

    t0 = time.perf_counter()
    X = make_data(args.n, args.dim, args.clusters, seed=args.seed)
    gen_s = time.perf_counter() - t0
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kw = json.loads(args.params)
    t0 = time.perf_counter()
    g = knn_graph(X, args.k, method=args.method, **kw)
    build_s = time.perf_counter() - t0
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    recall = measure_recall(X, g, sample=args.queries, seed=1)
    recall_s = time.perf_counter() - t0
    return {"method": args.method, "n": args.n, "dim": args.dim, "k": args.k, "params": g.params, "requested": kw,
            "graph_seconds": round(build_s, 2), "recall_at_k": round(recall, 4), "recall_queries": args.queries,
            "recall_check_seconds": round(recall_s, 2), "data_seconds": round(gen_s, 2),
            "data_mb": round(X.nbytes / 2**20, 1), "peak_rss_mb": round(rss_peak, 1),
            "rss_after_data_mb": round(rss_data, 1), "threads": args.threads, "load_avg_1m_before": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact-n", type=int, default=100_000, help="pool size of the exact reference run")
    ap.add_argument("--configs", default=None, help="JSON list of [method, params] to run (default: the built-in sweep)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--method", default="hnsw", help=argparse.SUPPRESS)
    ap.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args)))
        return
    configs = json.loads(args.configs) if args.configs else [
        ["exact", {}, args.exact_n],
        ["hnsw", {"hnsw_m": 16, "ef_construction": 40, "ef_search": 32}, args.n],
        ["hnsw", {"hnsw_m": 32, "ef_construction": 80, "ef_search": 64}, args.n],
        ["ivf", {"nprobe": 8}, args.n],
        ["ivf", {"nprobe": 16}, args.n],
    ]
    results = []
    for method, params, n in configs:
        cmd = [sys.executable, __file__, "--one", "--method", method, "--params", json.dumps(params), "--n", str(n),
               "--dim", str(args.dim), "--k", str(args.k), "--clusters", str(args.clusters), "--threads", str(args.threads),
               "--queries", str(args.queries), "--seed", str(args.seed)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            results.append({"method": method, "requested": params, "n": n, "error": proc.stderr.strip().splitlines()[-1:]})
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
        results.append(r)
        print(f"{method:6s} n={n:>8d} {json.dumps(r['params'])}: graph {r['graph_seconds']:.1f} s, "
              f"recall@{args.k} {r['recall_at_k']:.4f}, peak RSS {r['peak_rss_mb']:.0f} MB "
              f"(data {r['data_mb']:.0f} MB), load {r['load_avg_1m_before']}->{r['load_avg_1m_after']}", flush=True)
    doc = {"benchmark": "knn_graph", "data": f"clustered Gaussian mixture: {args.clusters} clusters (Zipf 0.7 sizes), each an 8-d "
           f"affine patch in {args.dim}-d + 0.02 isotropic noise, unit-normalised; seed {args.seed}",
           "machine": {"cpu_count": os.cpu_count(), "threads": args.threads, "platform": platform.platform(),
                       "processor": platform.processor() or platform.machine()},
           "results": results}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
