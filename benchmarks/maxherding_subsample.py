"""MaxHerding against ProbCover with repeats that change the picks: each repeat draws a
random 90 % of the CIFAR-10 training images as the pool.

In `labelscout bench probe` a repeat only reseeds a strategy, and MaxHerding's picks
hardly depend on the seed (its gains are real numbers, so its seeded tie-break almost
never decides), nor do most of ProbCover's: the paired interval then measures random's
spread, not the method's. Here every repeat selects from another random 90 % subset,
so the interval also covers how a method's accuracy varies with the pool. Each method
gets the linear probe of the table (`--recipe linear`, the same standardisation),
paired by repeat with random picks from the same subset.

    python benchmarks/maxherding_subsample.py EMB_DIR OUT.json [REPEATS] [BUDGETS] [SCALES] [DRAWS]

EMB_DIR: `labelscout embed` of the CIFAR-10 folder (train/ and test/ ids). BUDGETS default
"500,1000"; SCALES (MaxHerding's bandwidth as a multiple of ProbCover's automatic delta)
default "0.6,0.7,0.8"; 0.7 is the product's automatic bandwidth. DRAWS: "script" (default:
repeat r's pool drawn by ``default_rng(1000 + r)``) or "harness" (the pools of `labelscout
bench probe --pool-fraction 0.9`, :func:`labelscout.bench.harness.repeat_pool_rows`), to
compare the two sets of draws with one pipeline.
"""
from __future__ import annotations

import sys
import time

import numpy as np
from scipy import stats

from labelscout.bench.harness import repeat_pool_rows
from labelscout.bench.linear import LinearProbe, standardize_features
from labelscout.embed.store import EmbeddingSet
from labelscout.runs.atomic import atomic_write_json
from labelscout.runs.machine import machine_info
from labelscout.strategies import MaxHerdingSelector, ProbCoverSelector
from labelscout.strategies.coreset import prepare_metric
from labelscout.strategies.probcover import _k_cap, auto_delta


def interval(d: np.ndarray) -> list[float]:
    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    return [float(d.mean() - half), float(d.mean() + half)]


def main() -> None:
    emb_dir, out = sys.argv[1:3]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    budgets = [int(b) for b in (sys.argv[4] if len(sys.argv) > 4 else "500,1000").split(",")]
    scales = [float(s) for s in (sys.argv[5] if len(sys.argv) > 5 else "0.6,0.7,0.8").split(",")]
    draws = sys.argv[6] if len(sys.argv) > 6 else "script"
    if draws not in ("script", "harness"):
        raise SystemExit(f"DRAWS must be 'script' or 'harness'; got {draws!r}")
    t_start = time.perf_counter()
    machine = machine_info()
    emb = EmbeddingSet.load(emb_dir)
    ids = list(emb.ids)
    V = np.asarray(emb.vectors, np.float32)
    tr = np.array([i.startswith("train/") for i in ids])
    classes = sorted({i.split("/")[1] for i in ids})
    y = np.searchsorted(classes, [i.split("/")[1] for i in ids])
    Xtr, ytr, yte = V[tr], y[tr], y[~tr]
    Fp, Ft = standardize_features(Xtr, V[~tr])

    def probe(rows: np.ndarray) -> float:
        return 100 * LinearProbe(len(classes)).fit(Fp[rows], ytr[rows]).score(Ft, yte).accuracy

    methods = ["random", "probcover"] + [f"maxherding:{s:g}" for s in scales]
    res: dict = {"command": "python benchmarks/maxherding_subsample.py " + " ".join(sys.argv[1:]), "machine": machine,
                 "model_id": emb.model_id, "pool_share": 0.9, "draws": draws, "repeats": repeats, "budgets": {}}
    for b in budgets:
        acc: dict[str, list[float]] = {m: [] for m in methods}
        for r in range(repeats):
            rng = np.random.default_rng(1000 + r)
            sub = np.sort(rng.choice(len(Xtr), int(0.9 * len(Xtr)), replace=False))
            if draws == "harness":  # the same pools as bench probe --pool-fraction 0.9 --seed 0
                sub = repeat_pool_rows(len(Xtr), 0.9, r)
            X = Xtr[sub]
            delta, _ = auto_delta(prepare_metric(X, "cosine"), b, k=_k_cap(X.shape[1]), seed=r)
            acc["random"].append(probe(sub[rng.choice(sub.size, b, replace=False)]))
            acc["probcover"].append(probe(sub[ProbCoverSelector(b, seed=r).fit(X).selected_]))
            for s in scales:
                acc[f"maxherding:{s:g}"].append(probe(sub[MaxHerdingSelector(b, bandwidth=s * delta, seed=r).fit(X).selected_]))
            print(b, r, {m: round(v[-1], 2) for m, v in acc.items()}, flush=True)
        cell = {}
        for m, v in acc.items():
            a = np.array(v)
            entry = {"accuracy": v, "mean": float(a.mean()), "std": float(a.std(ddof=1))}
            for ref in ("random", "probcover"):
                if m != ref:
                    d = a - np.array(acc[ref])
                    entry[f"vs_{ref}"] = {"mean": float(d.mean()), "ci95": interval(d), "won": int((d > 0).sum())}
            cell[m] = entry
            print(f"{b} {m}: {entry['mean']:.2f}", {k: round(e["mean"], 2) for k, e in entry.items() if k.startswith("vs_")}, flush=True)
        res["budgets"][str(b)] = cell
    res["seconds"] = round(time.perf_counter() - t_start, 1)
    atomic_write_json(out, res)


if __name__ == "__main__":
    main()
