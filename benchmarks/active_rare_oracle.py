"""How many rare-class labels the 100x-imbalanced pool of `labelscout bench active` needs.

An oracle that knows the classes labels ``R`` random rare-class images of the pool and
``LABELS - R`` random common-class ones, and the task model of the bench (the logistic head,
class weights as given) is scored on the test split, over seeded repeats. Its rare-class
accuracy at the bench's 2,000 labels says how many (random, i.e. diverse) rare labels a
strategy must find to reach a rare-class accuracy, e.g. issue 15's 1.5x uncertainty's.
Same data, PCA, pools and validation slice as `labelscout bench active --seed 0`.

    python benchmarks/active_rare_oracle.py EMB_DIR OUT.json [--class-weight balanced]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time

import numpy as np

from labelscout.bench.active import _task_model, load_active_data, make_pools
from labelscout.runs.atomic import atomic_write_json


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("embeddings")
    ap.add_argument("out")
    ap.add_argument("--class-weight", default="balanced", choices=["balanced", "none"])
    ap.add_argument("--labels", type=int, default=2000)
    ap.add_argument("--rare", default="20,40,60,80,100,120,250")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    d = load_active_data(a.embeddings, pca_dim=128, seed=a.seed)
    K = len(d.classes)
    _, pools, rare = make_pools(d.y_train, K, validation_per_class=50, imbalance=100, seed=a.seed)
    pool = pools["imbalanced"]
    X, y = d.train[pool], d.y_train[pool]
    is_rare = np.isin(y, rare)
    cw = None if a.class_weight == "none" else a.class_weight
    rows = []
    for r in (int(v) for v in a.rare.split(",")):
        r = min(r, int(is_rare.sum()))
        acc, rare_acc, per_class = [], [], []
        for s in range(a.repeats):
            rng = np.random.default_rng(s)
            lab = np.concatenate([rng.choice(np.flatnonzero(is_rare), r, replace=False),
                                  rng.choice(np.flatnonzero(~is_rare), a.labels - r, replace=False)])
            pred = _task_model(X[lab], y[lab], K, 1.0, cw).predict_proba(d.test).argmax(axis=1)
            pc = [float(np.mean(pred[d.y_test == c] == c)) for c in range(K)]
            acc.append(float(np.mean(pred == d.y_test)))
            rare_acc.append(float(np.mean([pc[c] for c in rare])))
            per_class.append(pc)
        rows.append({"rare_labels": r, "accuracy": float(np.mean(acc)), "rare_accuracy": float(np.mean(rare_acc)),
                     "rare_accuracy_std": float(np.std(rare_acc, ddof=1)), "per_class": np.mean(per_class, 0).tolist()})
        print(f"{r:4d} rare of {a.labels}: accuracy {np.mean(acc):.2%}, rare-class accuracy {np.mean(rare_acc):.2%}")
    atomic_write_json(a.out, {
        "command": "python benchmarks/active_rare_oracle.py " + " ".join(
            [a.embeddings, a.out, "--class-weight", a.class_weight, "--labels", str(a.labels), "--rare", a.rare,
             "--repeats", str(a.repeats), "--seed", str(a.seed)]),
        "cpu_flags": subprocess.run("lscpu | grep Flags", shell=True, capture_output=True, text=True).stdout.strip(),
        "pool": int(pool.size), "rare_in_pool": int(is_rare.sum()), "rare_classes": [d.classes[c] for c in rare],
        "classes": d.classes, "class_weight": a.class_weight, "labels": a.labels, "repeats": a.repeats,
        "rows": rows, "seconds": round(time.perf_counter() - t0, 1)})


if __name__ == "__main__":
    main()
