"""Strategies at scale: wall time and peak memory of adjacency, typicality, typiclust,
probcover, maxherding and divide-and-conquer on N x D float32 embeddings (default 1M x 64), one subprocess each.

Memory: the child builds the embedding matrix, resets the kernel's peak-RSS mark
(/proc/self/clear_refs), runs the strategy and reads VmHWM; "extra" is that peak minus the
RSS just before, reported as a multiple of the matrix size (target <= 1.5x).

    python benchmarks/bench_strategies.py --n 1000000 --threads 2 --out benchmarks/results/strategies-cpu2.json

Data: a mixture of 1,000 Gaussian blobs of unequal size (Zipf-like weights) with 5 % of
the rows near-copies of others, so clustering, density and de-duplication have structure.
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

ROOT = Path(__file__).resolve().parents[1]

#: name -> (strategy, budget as a fraction of N or a count, params)
CASES = {
    "typicality": ("typicality", 10_000, {"k": 20}),
    "typiclust": ("typiclust", 1_000, {"k": 20}),
    "probcover": ("probcover", 10_000, {}),
    "probcover-1000": ("probcover", 1_000, {}),
    "maxherding": ("maxherding", 10_000, {}),
    "maxherding-1000": ("maxherding", 1_000, {}),
    "divide-and-conquer": ("divide-and-conquer", 10_000, {"n_clusters": 100, "inner": "coreset"}),
    "adjacency-keep90": ("adjacency", 0.9, {"k": 10}),
    "adjacency-keep50": ("adjacency", 0.5, {"k": 10}),
    "coreset": ("coreset", 10_000, {}),
    "similarity": ("similarity", 10_000, {"query_ids": list(range(0, 1_000_000, 10_000))}),
    "balance": ("balance", 10_000, {"inner": "coreset"}),
    "combine": ("combine", 1_000, {"strategies": {"coreset": 1.0, "typicality": 0.5}}),
}
#: strategies that need labels get the blob each row was drawn from, modulo this many classes
N_CLASSES = 10


def make_data(n: int, d: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    n_blobs = 1000
    weights = 1.0 / np.arange(1, n_blobs + 1) ** 0.8
    assign = rng.choice(n_blobs, size=n, p=weights / weights.sum())
    centres = rng.standard_normal((n_blobs, d), dtype=np.float32) * 4
    X = rng.standard_normal((n, d), dtype=np.float32)
    X += centres[assign]
    dup = rng.choice(n, size=n // 20, replace=False)
    X[dup] = X[rng.choice(n, size=dup.size)] + 0.01 * rng.standard_normal((dup.size, d), dtype=np.float32)
    return X, assign % N_CLASSES


def _rss_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _hwm_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def child(case: str, n: int, d: int) -> dict:
    import numpy as np  # noqa: F401  (imported before the baseline so library code pages count in it)

    from labelscout.strategies import get_strategy
    import faiss, sklearn.cluster  # noqa: F401,E401

    strategy, budget, params = CASES[case]
    X, labels = make_data(n, d)
    budget = int(round(budget * n)) if isinstance(budget, float) else budget
    if "query_ids" in params:  # ids are row numbers here (no ids are given to fit)
        params = dict(params, query_ids=[i for i in params["query_ids"] if i < n])
    sel = get_strategy(strategy, n=budget, metric="l2", **params)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak-RSS mark: data generation temporaries do not count
    before = _rss_kib()
    t0 = time.perf_counter()
    sel.fit(X, labels=labels.tolist() if sel.requires_labels else None)
    wall = time.perf_counter() - t0
    peak = _hwm_kib()
    extra = {k: int(getattr(sel, k)) for k in ("n_repairs_", "n_repair_batches_") if hasattr(sel, k)}
    return {"case": case, "strategy": strategy, "budget": budget, "params": params, "wall_s": round(wall, 2),
            "rss_before_mib": round(before / 1024, 1), "peak_rss_mib": round(peak / 1024, 1),
            "extra_mib": round((peak - before) / 1024, 1), "matrix_mib": round(X.nbytes / 2**20, 1),
            "extra_over_matrix": round((peak - before) * 1024 / X.nbytes, 2),
            "peak_over_matrix": round(peak * 1024 / X.nbytes, 2), "n_selected": int(sel.n_selected_), **extra}


def markdown(doc: dict) -> str:
    rows = ["| case | budget | wall s | extra RSS MiB | extra / matrix | repairs (batches) | load1 before/after |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for r in doc["results"]:
        if "error" in r:
            rows.append(f"| {r['case']} | | {r['error']} | | | | {r['load1_before']}/{r['load1_after']} |")
            continue
        rep = f"{r['n_repairs_']} ({r['n_repair_batches_']})" if "n_repairs_" in r else ""
        rows.append(f"| {r['case']} | {r['budget']:,} | {r['wall_s']} | {r['extra_mib']} | {r['extra_over_matrix']}x | {rep} | "
                    f"{r['load1_before']}/{r['load1_after']} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--timeout", type=float, default=420, help="seconds per case; a case over it is recorded as timed out")
    ap.add_argument("--markdown", type=Path, default=None, help="print a results JSON as a markdown table and exit")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    from labelscout.runs.machine import machine_info

    machine = machine_info()  # once, before the cases load the machine
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    if args.child:
        print(json.dumps(child(args.child, args.n, args.d)))
        return
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads), PYTHONPATH=str(ROOT / "src"))
    results = []
    for case in args.cases:
        load = os.getloadavg()[0]
        try:
            proc = subprocess.run([sys.executable, __file__, "--child", case, "--n", str(args.n), "--d", str(args.d)],
                                  env=env, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            proc = None
        if proc is None:
            row = {"case": case, "error": f"timed out after {args.timeout:.0f} s"}
        elif proc.returncode != 0:
            row = {"case": case, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
        else:
            row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["load1_before"] = round(load, 2)
        row["load1_after"] = round(os.getloadavg()[0], 2)
        results.append(row)
        print(json.dumps(row), flush=True)
        if args.out:  # after every case, so a long run that is stopped keeps what it measured
            args.out.parent.mkdir(parents=True, exist_ok=True)
            meta = {"n": args.n, "d": args.d, "threads": args.threads, "cpus": os.cpu_count(),
                    "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "cpu_model": machine.get("cpu_model"), "simd_flags": machine.get("simd_flags")}
            args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
