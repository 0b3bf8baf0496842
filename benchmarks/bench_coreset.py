"""Coreset (greedy farthest-point) kernels: numba vs the numpy baseline, torch and fpsample.

All methods run in one process on the same matrix. The numpy baseline, torch-cpu and
fpsample's exact ``fps_sampling`` cost the same full pass per pick, so their time is linear
in k: when ``--baseline-k`` is below ``--k`` they run that many picks and the time for k is
extrapolated linearly (reported as such). The numba kernel always runs the full k (its
cost per pick falls as k grows, so a prefix would overstate it).

Same output: the first method's picks (numba by default) are compared with each other method's on their common prefix
(ids equal up to the first near tie; float32 arithmetic may part there) and the covering
radius of the common prefix is compared.

    python benchmarks/bench_coreset.py --n 1000000 --d 64 --k 10000 --baseline-k 500
    python benchmarks/bench_coreset.py --device cuda --n 10000000 --k 100000 --methods torch,torch-fp16

Data: "mixture" (1000 Gaussian components of uneven weight, each spread on its own random
8-dimensional subspace plus small isotropic noise, like real embeddings with a low
intrinsic dimension) and "uniform" (isotropic N(0, I) in D dimensions, the worst case for
pruning: in 64 dimensions all distances are alike).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from pathlib import Path

import numpy as np


def make_data(kind: str, n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.standard_normal((n, d), dtype=np.float32)
    if kind == "mixture":
        C, r = 1000, min(8, d)
        w = 1.0 / np.arange(1, C + 1) ** 0.8  # uneven cluster sizes
        comp = rng.choice(C, size=n, p=w / w.sum())
        means = rng.normal(size=(C, d)).astype(np.float32) * 2.0
        X = np.empty((n, d), np.float32)
        for c in range(C):
            idx = np.flatnonzero(comp == c)
            if not idx.size:
                continue
            basis = np.linalg.qr(rng.normal(size=(d, r)))[0].T.astype(np.float32)  # (r, d)
            scale = np.float32(rng.lognormal(0.0, 0.5))
            z = rng.standard_normal((idx.size, r), dtype=np.float32) * scale
            X[idx] = means[c] + z @ basis + 0.05 * rng.standard_normal((idx.size, d), dtype=np.float32)
        return X
    raise ValueError(kind)


class PeakRSS:
    """Peak resident memory of this process while the block runs (polls /proc every 5 ms)."""

    def __enter__(self):
        self.start = self._rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._poll, daemon=True)
        self._t.start()
        return self

    def _poll(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._rss())


def run_method(name: str, X: np.ndarray, k: int, first: int, device: str):
    from labelscout.kernels import farthest_point_sampling

    if name == "fpsample":
        import fpsample

        picks = fpsample.fps_sampling(X, k, start_idx=first).astype(np.int64)
        return picks, None
    backend, storage = name, "float32"
    if name.startswith("torch"):
        backend, storage = "torch", ("float16" if name.endswith("fp16") else "float32")
    kw = dict(backend=backend, return_radius=True)
    if backend == "torch":
        kw.update(device=device, storage=storage)
    if backend == "torch" and device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    picks, dists, radius = farthest_point_sampling(X, k, first=first, **kw)
    return picks, radius


def covering_radius(X: np.ndarray, centres: np.ndarray) -> float:
    from labelscout.kernels import min_sq_dist_to_centres

    return float(np.sqrt(min_sq_dist_to_centres(X, X[centres]).max()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--k", type=int, default=10_000)
    ap.add_argument("--baseline-k", type=int, default=None, help="picks for the linear-cost methods (default: k)")
    ap.add_argument("--data", default="mixture,uniform")
    ap.add_argument("--methods", default="numba,numpy,torch,fpsample")
    ap.add_argument("--device", default="cpu", help="torch device (cuda for the GPU runs)")
    ap.add_argument("--out", default="benchmarks/results/coreset-cpu2.json")
    args = ap.parse_args()
    kb = min(args.k, args.baseline_k or args.k)
    methods = args.methods.split(",")

    import numba
    import torch

    from labelscout.kernels import farthest_point_sampling

    # compile (numba caches to disk) and warm up outside the timings
    farthest_point_sampling(np.random.default_rng(0).normal(size=(300, args.d)).astype(np.float32), 20, backend="numba")
    results = {
        "command": "python benchmarks/bench_coreset.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "numba_threads": numba.get_num_threads(), "torch_threads": torch.get_num_threads(),
                    "numba_threading_layer": numba.threading_layer(),
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "load_avg_1min_before": os.getloadavg()[0],
        "n": args.n, "d": args.d, "k": args.k, "baseline_k": kb, "datasets": {},
    }
    for kind in args.data.split(","):
        X = make_data(kind, args.n, args.d)
        first = 0
        rows = {}
        ref = None
        for name in methods:
            k = args.k if name in ("numba",) or (name.startswith("torch") and args.device.startswith("cuda")) else kb
            if name == "fpsample":
                try:
                    import fpsample  # noqa: F401
                except ImportError:
                    rows[name] = {"error": "fpsample is not installed"}
                    continue
            load = os.getloadavg()[0]
            with PeakRSS() as mem:
                t0, c0 = time.perf_counter(), time.process_time()
                picks, radius = run_method(name, X, k, first, args.device)
                if name.startswith("torch") and args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            # cpu_s: CPU time of all this process's threads, the fairer figure on a shared machine
            row = {"k_run": int(k), "wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "extrapolated": k < args.k,
                   "wall_s_for_k": round(wall * args.k / k, 2), "cpu_s_for_k": round(cpu * args.k / k, 2),
                   "load_avg_1min": load,
                   "peak_rss_gib": round(mem.peak / 2**30, 3),
                   "extra_rss_gib": round((mem.peak - mem.start) / 2**30, 3),
                   "x_gib": round(X.nbytes / 2**30, 3)}
            if ref is None:  # the first method (numba by default) is the one the others are compared with
                ref = picks
                row["radius"] = radius
            else:
                common = min(len(picks), len(ref))
                diff = np.flatnonzero(picks[:common] != ref[:common])
                row["ids_equal_prefix"] = int(diff[0]) if diff.size else int(common)
                row["compared_picks"] = int(common)
                if common <= 2000:  # the covering radius of the common prefix (one blockwise pass per 4096 centres)
                    r_ref = covering_radius(X, ref[:common])
                    r_m = covering_radius(X, picks[:common])
                    row["radius_common_prefix"] = r_m
                    row["radius_common_prefix_numba"] = r_ref
            rows[name] = row
            print(kind, name, json.dumps(row), flush=True)
        if "numba" in rows:
            for name, row in rows.items():
                if name != "numba" and "wall_s_for_k" in row:
                    row["speedup_numba_vs_this"] = round(row["wall_s_for_k"] / rows["numba"]["wall_s"], 2)
                    row["cpu_speedup_numba_vs_this"] = round(row["cpu_s_for_k"] / rows["numba"]["cpu_s"], 2)
        results["datasets"][kind] = rows
        del X
    results["load_avg_1min_after"] = os.getloadavg()[0]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
