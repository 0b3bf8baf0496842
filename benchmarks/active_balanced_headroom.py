"""How much any selection can add on the balanced pool of `labelscout bench active`.

Issue 15 asks the best prediction-based strategy to beat random by +2 pp on the balanced
CIFAR-10 pool from round 2 on (1,500 and 2,000 labels). This script measures the room a
selection has under the bench's task model (the logistic head on the same PCA-128 vectors,
C = 1, no class weights), with the same data, pools and validation slice as
`labelscout bench active --seed 0`:

1. **Random's learning curve** up to the whole pool: where +2 pp over random at 1,500 and
   2,000 labels lies, as the number of random labels that reach it (linear interpolation
   between measured budgets).
2. **Label-aware oracles** at 1,500 and 2,000 labels (the bench's 500 random initial labels,
   then picks that know every label of the pool): the all-data model's least-margin samples;
   random samples among those the all-data model classifies correctly; and the best of
   ``--draws`` random completions chosen by their accuracy on a labeled held-out slice of
   ``--held-out`` pool images (an oracle with 10,000 extra labels choosing the subset; the
   held-out images are never picked). No strategy without labels can beat these oracles'
   information; they bound what the composition of a random-sized subset is worth here.

Paired by repeat: every method of a repeat starts from the same 500 initial labels and is
compared with the mean of ``--draws`` random completions of them.

    python benchmarks/active_balanced_headroom.py EMB_DIR OUT.json [--repeats 3] [--draws 100]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from labelscout.bench.active import _task_model, load_active_data, make_pools
from labelscout.bench.stats import paired_difference
from labelscout.runs.atomic import atomic_write_json
from labelscout.runs.machine import machine_info


def _accuracy(model, X, y) -> float:
    return float(np.mean(model.predict_proba(X).argmax(axis=1) == y))


def _least_margin(P: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    top2 = -np.partition(-P[candidates], 1, axis=1)[:, :2]
    return candidates[np.argsort(top2[:, 0] - top2[:, 1], kind="stable")[:n]]


def _crossing(curve: list[dict], target: float) -> float | None:
    """Random labels at which the learning curve reaches ``target`` (None: never)."""
    for a, b in zip(curve, curve[1:]):
        if a["accuracy"] < target <= b["accuracy"]:
            return a["labels"] + (target - a["accuracy"]) / (b["accuracy"] - a["accuracy"]) * (b["labels"] - a["labels"])
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("embeddings")
    ap.add_argument("out")
    ap.add_argument("--curve", default="500,1000,1500,2000,3000,5000,7500,10000,20000")
    ap.add_argument("--budgets", default="1500,2000")
    ap.add_argument("--initial", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--held-out", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    machine = machine_info()
    d = load_active_data(a.embeddings, pca_dim=128, seed=a.seed)
    K = len(d.classes)
    _, pools, _ = make_pools(d.y_train, K, validation_per_class=50, imbalance=100, seed=a.seed)
    pool = pools["balanced"]
    X, y = d.train[pool], d.y_train[pool]
    fit = lambda rows: _task_model(X[rows], y[rows], K, 1.0, None)  # noqa: E731  the bench's task model

    full = fit(np.arange(y.size))
    ceiling = _accuracy(full, d.test, d.y_test)
    print(f"all {y.size} pool labels: {ceiling:.2%}", flush=True)
    curve = []
    for n in (int(v) for v in a.curve.split(",")):
        accs = [_accuracy(fit(np.random.default_rng(s).choice(y.size, n, replace=False)), d.test, d.y_test)
                for s in range(a.repeats)]
        curve.append({"labels": n, "accuracy": float(np.mean(accs)), "std": float(np.std(accs, ddof=1))})
        print(f"random {n}: {np.mean(accs):.2%}", flush=True)
    curve.append({"labels": int(y.size), "accuracy": ceiling, "std": 0.0})

    P_full = full.predict_proba(X)
    fits_full = np.flatnonzero(P_full.argmax(axis=1) == y)
    held = np.random.default_rng(a.seed + 12345).permutation(y.size)[:a.held_out]
    pickable = np.setdiff1d(np.arange(y.size), held)
    budgets = [int(v) for v in a.budgets.split(",")]
    per = {b: {m: [] for m in ("random", "all-data margin", "random among all-data-correct", "best of draws by held-out")}
           for b in budgets}
    spread = {b: [] for b in budgets}  # standard deviation of test accuracy over the random completions
    for s in range(a.repeats):
        rng = np.random.default_rng(s)
        initial = rng.choice(pickable, a.initial, replace=False)
        rest = np.setdiff1d(pickable, initial)
        for b in budgets:
            m = b - a.initial
            draws = []
            for _ in range(a.draws):
                rows = np.concatenate([initial, rng.choice(rest, m, replace=False)])
                model = fit(rows)
                draws.append((_accuracy(model, X[held], y[held]), _accuracy(model, d.test, d.y_test)))
            draws = np.array(draws)
            per[b]["random"].append(float(draws[:, 1].mean()))
            spread[b].append(float(draws[:, 1].std(ddof=1)))
            per[b]["best of draws by held-out"].append(float(draws[np.argmax(draws[:, 0]), 1]))
            per[b]["all-data margin"].append(_accuracy(fit(np.concatenate([initial, _least_margin(P_full, rest, m)])),
                                                       d.test, d.y_test))
            correct = np.intersect1d(rest, fits_full)
            per[b]["random among all-data-correct"].append(
                _accuracy(fit(np.concatenate([initial, rng.choice(correct, m, replace=False)])), d.test, d.y_test))
            print(f"repeat {s}, {b} labels: " + ", ".join(f"{k} {v[-1]:.2%}" for k, v in per[b].items()), flush=True)

    rows = []
    for b in budgets:
        base = np.array(per[b]["random"])
        target = _crossing(curve, float(base.mean()) + 0.02)
        for method, accs in per[b].items():
            accs = np.array(accs)
            row = {"labels": b, "method": method, "accuracy": float(accs.mean()), "per_repeat": accs.tolist()}
            if method == "random":
                row["draws_std"] = spread[b]
            else:
                diff = paired_difference(accs, base)
                row["vs_random_pp"] = {"mean": 100 * diff.mean, "low": 100 * diff.low, "high": 100 * diff.high}
            rows.append(row)
        rows.append({"labels": b, "method": "random + 2 pp (the bar)", "accuracy": float(base.mean()) + 0.02,
                     "random_labels_that_reach_it": target})
    atomic_write_json(a.out, {
        "command": "python benchmarks/active_balanced_headroom.py " + " ".join(
            [a.embeddings, a.out, "--curve", a.curve, "--budgets", a.budgets, "--initial", str(a.initial),
             "--repeats", str(a.repeats), "--draws", str(a.draws), "--held-out", str(a.held_out), "--seed", str(a.seed)]),
        "machine": machine, "pool": int(y.size), "classes": d.classes, "task_model": "logistic head, C=1, no class weights",
        "all_pool_accuracy": ceiling, "learning_curve": curve, "rows": rows, "seconds": round(time.perf_counter() - t0, 1)})
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
