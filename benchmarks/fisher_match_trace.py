"""Where fisher-match's turns go on the 100x-imbalanced pool of `labelscout bench active`.

One trajectory (repeat 0 of `--seed 0`: the same pools, validation slice, first 500 random
labels and class-balanced head as the bench), printing per round and per class: misclassified
validation rows, picks owned by each class's validation rows, how many of those are of that
class, picks per true class, and the pool's pseudo-labels.

Then the swap test on repeats 0-2: fisher-match's labels after ROUNDS rounds against the same
labels with its rare-class images, or its common-class ones, swapped for as many random ones
of the pool (accuracy / rare-class accuracy of the head): which half of its picks holds the
rare classes back.

    python benchmarks/fisher_match_trace.py EMB_DIR [ROUNDS]
"""
from __future__ import annotations

import sys

import numpy as np

from labelscout.bench.active import _task_model, load_active_data, make_pools
from labelscout.strategies import get_strategy

d = load_active_data(sys.argv[1], pca_dim=128, seed=0)
K = len(d.classes)
val, pools, rare = make_pools(d.y_train, K, validation_per_class=50, imbalance=100, seed=0)
pool = pools["imbalanced"]
X, y = d.train[pool], d.y_train[pool]
Xv, yv = d.train[val], d.y_train[val]
lab = np.random.default_rng(0).choice(X.shape[0], 500, replace=False)  # the bench's repeat 0
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def fisher_round(lab: np.ndarray, rnd: int):
    m = _task_model(X[lab], y[lab], K, 1.0, "balanced")
    P, Pv = m.predict_proba(X), m.predict_proba(Xv)
    sel = get_strategy("fisher-match", n=500, validation_vectors=Xv, validation_labels=[int(v) for v in yv],
                       validation_probabilities=Pv, seed=1 + 1000 * rnd).fit(X, exclude=lab, predictions=P)
    return sel, P


def score(lab: np.ndarray) -> str:
    pred = _task_model(X[lab], y[lab], K, 1.0, "balanced").predict_proba(d.test).argmax(axis=1)
    rare_acc = np.mean([np.mean(pred[d.y_test == c] == c) for c in rare])
    return f"{np.mean(pred == d.y_test):.1%} / {rare_acc:.1%}"


print("classes", d.classes, "rare", [d.classes[c] for c in rare])
for rnd in range(ROUNDS):
    sel, P = fisher_round(lab, rnd)
    picks, own = sel.selected_, sel.matched_
    rest = np.setdiff1d(np.arange(y.size), lab)
    print(f"round {rnd + 1}: rare labels so far {int(np.isin(y[lab], rare).sum())}")
    print("  validation misclassified     ", [int(sel.misclassified_[yv == c].sum()) for c in range(K)])
    print("  picks owned by class's rows  ", np.bincount(yv[own], minlength=K).tolist())
    print("  ... of which are that class  ", [int(((yv[own] == c) & (y[picks] == c)).sum()) for c in range(K)])
    print("  picks per true class         ", np.bincount(y[picks], minlength=K).tolist())
    print("  pool pseudo-labels per class ", np.bincount(P[rest].argmax(1), minlength=K).tolist())
    lab = np.concatenate([lab, picks])

is_rare = np.isin(y, rare)
print("swap test (accuracy / rare-class accuracy):")
for rep in range(3):
    lab = np.random.default_rng(rep).choice(X.shape[0], 500, replace=False)
    for rnd in range(ROUNDS):
        lab = np.concatenate([lab, fisher_round(lab, rnd)[0].selected_])
    rng = np.random.default_rng(100 + rep)
    own_rare, own_common = lab[is_rare[lab]], lab[~is_rare[lab]]
    random_rare = rng.choice(np.flatnonzero(is_rare), own_rare.size, replace=False)
    random_common = rng.choice(np.flatnonzero(~is_rare), own_common.size, replace=False)
    print(f"  repeat {rep}: {own_rare.size} rare labels; fisher-match {score(lab)}; its rare + random commons "
          f"{score(np.r_[own_rare, random_common])}; random rare + its commons {score(np.r_[random_rare, own_common])}")
