"""Do better rare-class detectors lift fisher-match's rare-class accuracy? (issue 15)

The swap test of `fisher_match_trace.py` found that fisher-match's common-class picks,
not its rare ones, hold the rare classes back. This script asks whether picking rare
images more directly helps, on the same 100x-imbalanced pool, validation slice, first 500
random labels and class-balanced head as `labelscout bench active --seed 0`, 3 rounds of
+500, paired repeats. Selection rules (prototypes, not product strategies):

- ``fisher-match``: the product strategy, for reference (reproduces the bench's row).
- ``knn-ratio``: label-free density ratio, the share of validation images among a pool
  image's ``k`` nearest neighbours in pool + validation (the validation slice is balanced,
  the pool is not, so rare regions hold a larger share); top scores.
- ``validation-head``: a class-balanced head trained on the labeled pool images *and the
  validation slice with its labels*; pool images scored by ``sum_c P(c | x) err_c`` where
  ``err_c`` is the task model's validation error on class ``c``; top scores.
- ``validation-head-mix``: its top ``MIX`` scores plus random picks for the rest of the round.

Then, for the picks of ``validation-head`` (repeats 0-2), the swap test (its rare labels with
random commons, and random rare labels with its commons) and a dose-response on repeat 0:
its rare labels and the first 500 labels kept, and a fraction of its common picks kept with
the rest replaced by random commons.

    python benchmarks/active_rare_detectors.py EMB_DIR OUT.json [--repeats 5]
"""
from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np

from labelscout.bench.active import _task_model, load_active_data, make_pools
from labelscout.runs.atomic import atomic_write_json
from labelscout.strategies import get_strategy

ROUNDS, STEP, INITIAL, MIX, K_NN = 3, 500, 500, 300, 50


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("embeddings")
    ap.add_argument("out")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    t0 = time.perf_counter()
    d = load_active_data(a.embeddings, pca_dim=128, seed=0)
    K = len(d.classes)
    val, pools, rare = make_pools(d.y_train, K, validation_per_class=50, imbalance=100, seed=0)
    pool = pools["imbalanced"]
    X, y = d.train[pool], d.y_train[pool]
    Xv, yv = d.train[val], d.y_train[val]
    is_rare = np.isin(y, rare)

    def head(Xl, yl):
        return _task_model(Xl, yl, K, 1.0, "balanced")

    def score(lab):
        pred = head(X[lab], y[lab]).predict_proba(d.test).argmax(axis=1)
        pc = [float(np.mean(pred[d.y_test == c] == c)) for c in range(K)]
        return float(np.mean(pred == d.y_test)), float(np.mean([pc[c] for c in rare]))

    # knn-ratio: each pool row's K_NN nearest neighbours among pool + validation (itself excluded)
    unit = lambda A: A / np.linalg.norm(A, axis=1, keepdims=True)  # noqa: E731
    Xu, A = unit(X), unit(np.vstack([X, Xv]))
    is_val = np.r_[np.zeros(len(X), bool), np.ones(len(Xv), bool)]
    val_share = np.empty(len(X))
    for s in range(0, len(X), 2048):
        S = Xu[s:s + 2048] @ A.T
        S[np.arange(S.shape[0]), np.arange(s, s + S.shape[0])] = -np.inf
        nb = np.argpartition(-S, K_NN, axis=1)[:, :K_NN]
        v = is_val[nb].sum(axis=1)
        val_share[s:s + 2048] = v / (K_NN - v + 1.0)

    def picks(method, lab, rnd, rng):
        model = head(X[lab], y[lab])
        P, Pv = model.predict_proba(X), model.predict_proba(Xv)
        if method == "fisher-match":
            sel = get_strategy("fisher-match", n=STEP, validation_vectors=Xv, validation_labels=[int(v) for v in yv],
                               validation_probabilities=Pv, seed=1 + 1000 * rnd).fit(X, exclude=lab, predictions=P)
            return sel.selected_
        free = np.ones(len(X), bool)
        free[lab] = False
        if method == "knn-ratio":
            s = val_share
        else:
            err = np.array([np.mean(Pv[yv == c].argmax(1) != c) for c in range(K)])
            s = head(np.vstack([X[lab], Xv]), np.r_[y[lab], yv]).predict_proba(X) @ err
        top = np.argsort(-np.where(free, s, -np.inf), kind="stable")[:MIX if method.endswith("-mix") else STEP]
        if top.size == STEP:
            return top
        free[top] = False
        return np.r_[top, rng.choice(np.flatnonzero(free), STEP - top.size, replace=False)]

    def trajectory(method, rep):
        rng = np.random.default_rng(rep)
        lab = rng.choice(X.shape[0], INITIAL, replace=False)
        for rnd in range(ROUNDS):
            lab = np.r_[lab, picks(method, lab, rnd, rng)]
        return lab

    methods = {}
    for method in ("fisher-match", "knn-ratio", "validation-head", "validation-head-mix"):
        reps = []
        for rep in range(a.repeats):
            lab = trajectory(method, rep)
            acc, rare_acc = score(lab)
            reps.append({"accuracy": acc, "rare_accuracy": rare_acc, "rare_labels": int(is_rare[lab].sum())})
        methods[method] = {"repeats": reps, **{k: float(np.mean([r[k] for r in reps]))
                                               for k in ("accuracy", "rare_accuracy", "rare_labels")}}
        m = methods[method]
        print(f"{method}: accuracy {m['accuracy']:.2%}, rare-class accuracy {m['rare_accuracy']:.2%}, "
              f"rare labels {m['rare_labels']:.0f}", flush=True)

    swap = []
    for rep in range(3):
        lab = trajectory("validation-head", rep)
        rng = np.random.default_rng(100 + rep)
        own_rare, own_common = lab[is_rare[lab]], lab[~is_rare[lab]]
        rr = rng.choice(np.flatnonzero(is_rare), own_rare.size, replace=False)
        rc = rng.choice(np.flatnonzero(~is_rare), own_common.size, replace=False)
        row = {"repeat": rep, "rare_labels": int(own_rare.size), "own": score(lab),
               "own_rare_random_commons": score(np.r_[own_rare, rc]), "random_rare_own_commons": score(np.r_[rr, own_common])}
        swap.append(row)
        print("swap", row, flush=True)

    lab = trajectory("validation-head", 0)
    init, picked = lab[:INITIAL], lab[INITIAL:]
    own_rare, own_common = picked[is_rare[picked]], picked[~is_rare[picked]]
    others = np.setdiff1d(np.flatnonzero(~is_rare), np.r_[init, own_common])
    rng = np.random.default_rng(7)
    dose = []
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        keep = rng.choice(own_common, int(frac * own_common.size), replace=False)
        fill = rng.choice(others, own_common.size - keep.size, replace=False)
        acc, rare_acc = score(np.r_[init, own_rare, keep, fill])
        dose.append({"hard_common_fraction": frac, "hard_commons": int(keep.size), "accuracy": acc, "rare_accuracy": rare_acc})
        print("dose", dose[-1], flush=True)

    atomic_write_json(a.out, {
        "command": f"python benchmarks/active_rare_detectors.py {a.embeddings} {a.out} --repeats {a.repeats}",
        "cpu_flags": subprocess.run("lscpu | grep Flags", shell=True, capture_output=True, text=True).stdout.strip(),
        "pool": int(pool.size), "rare_in_pool": int(is_rare.sum()), "rare_classes": [d.classes[c] for c in rare],
        "setup": {"rounds": ROUNDS, "step": STEP, "initial": INITIAL, "mix_top": MIX, "knn_k": K_NN,
                  "validation_per_class": 50, "class_weight": "balanced"},
        "methods": methods, "swap_validation_head": swap, "dose_response_validation_head_repeat0": dose,
        "own_commons_per_class_repeat0": np.bincount(y[own_common], minlength=K).tolist(),
        "seconds": round(time.perf_counter() - t0, 1)})


if __name__ == "__main__":
    main()
