"""What any selection of the repeated-copies pool can reach with the linear probe, beside random.

The pool holds 1,000 distinct training images as 5-30 near-identical copies each, so a pick
can teach at most what its copy group holds. This measures, with the probe recipe of the
table (`--recipe linear`, features standardised with the whole pool's statistics):

- ``all_copies``: every one of the pool's images (the ceiling of any subset of it);
- ``originals``: the 1,000 originals, one per group (what the pool knows without copies);
- ``random`` and ``one_per_group`` at each budget, paired by seed: ``budget`` random pool
  images, against ``budget`` random groups with one random copy each (an oracle that knows
  the groups: no budget is spent on a second copy of a scene);
- the repetition check auto runs (``strategies._repetition``) on the pool and, given the
  embeddings of the whole CIFAR-10 folder, on its 50,000 training images, with the truth.

    python benchmarks/repeated_pool_bounds.py JOINED POOL_DIR OUT.json [CIFAR_EMB]

JOINED: `labelscout bench join-embeddings` output (train/... copies, test/...);
POOL_DIR: the `labelscout bench repeated-pool` folder (its repeated.json has the groups).
"""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import time

import numpy as np

from labelscout.bench.linear import LinearProbe, standardize_features
from labelscout.embed.store import EmbeddingSet
from labelscout.runs.atomic import atomic_write_json
from labelscout.space.metric import unit_rows
from labelscout.strategies._repetition import detect_repetition

BUDGETS = (500, 1000)
SEEDS = range(10)


def main() -> None:
    joined, pool_dir, out = sys.argv[1:4]
    cifar = sys.argv[4] if len(sys.argv) > 4 else None
    t_start = time.perf_counter()
    emb = EmbeddingSet.load(joined)
    manifest = json.loads(open(f"{pool_dir}/repeated.json").read())
    ids = list(emb.ids)
    V = np.asarray(emb.vectors, np.float32)
    is_train = np.array([i.startswith("train/") for i in ids])
    is_test = np.array([i.startswith("test/") for i in ids])
    classes = sorted({i.split("/")[1] for i in ids})
    y = np.searchsorted(classes, [i.split("/")[1] for i in ids])
    train_rows, test_rows = np.flatnonzero(is_train), np.flatnonzero(is_test)
    Fpool, Ftest = standardize_features(V[train_rows], V[test_rows])
    ytr, yte = y[train_rows], y[test_rows]
    row_of = {ids[r][len("train/"):]: k for k, r in enumerate(train_rows)}  # pool id -> row of Fpool
    groups = [np.array([row_of[m] for m in members]) for _, members in sorted(manifest["groups"].items())]

    def probe(rows: np.ndarray) -> float:
        return float(LinearProbe(len(classes)).fit(Fpool[rows], ytr[rows]).score(Ftest, yte).accuracy)

    res: dict = {"command": "python benchmarks/repeated_pool_bounds.py " + " ".join(sys.argv[1:]),
                 "cpu_flags": subprocess.run("lscpu | grep Flags", shell=True, capture_output=True, text=True).stdout.strip(),
                 "machine": platform.platform(), "model_id": emb.model_id, "dim": int(V.shape[1]),
                 "n_pool": int(train_rows.size), "n_groups": len(groups), "n_test": int(test_rows.size)}
    res["all_copies"] = probe(np.arange(train_rows.size))
    res["originals"] = probe(np.array([g[0] for g in groups]))  # copy 0 is the original file
    per_budget = {}
    for b in BUDGETS:
        rand, oracle = [], []
        for s in SEEDS:
            rng = np.random.default_rng(s)
            rand.append(probe(rng.choice(train_rows.size, b, replace=False)))
            picked = rng.choice(len(groups), b, replace=False)
            oracle.append(probe(np.array([rng.choice(groups[g]) for g in picked])))
        diff = np.array(oracle) - np.array(rand)
        per_budget[str(b)] = {"random": float(np.mean(rand)), "one_per_group": float(np.mean(oracle)),
                              "diff_mean": float(diff.mean()), "diff_std": float(diff.std(ddof=1)),
                              "random_runs": rand, "one_per_group_runs": oracle}
    res["budgets"] = per_budget
    t0 = time.perf_counter()
    rep = detect_repetition(unit_rows(V[train_rows]))
    res["repetition_pool"] = rep.as_dict() | {"true_ratio": len(groups) / train_rows.size, "seconds": round(time.perf_counter() - t0, 2)}
    if cifar:
        c = EmbeddingSet.load(cifar)
        rows = [k for k, i in enumerate(c.ids) if i.startswith("train/")]
        t0 = time.perf_counter()
        rep = detect_repetition(unit_rows(np.asarray(c.vectors[rows], np.float32)))
        res["repetition_cifar_train"] = rep.as_dict() | {"seconds": round(time.perf_counter() - t0, 2)}
    res["seconds"] = round(time.perf_counter() - t_start, 1)
    atomic_write_json(out, res)
    print(json.dumps({k: v for k, v in res.items() if k not in ("cpu_flags", "budgets")}, indent=1))
    for b, r in per_budget.items():
        print(b, {k: round(v, 4) for k, v in r.items() if not k.endswith("_runs")})


if __name__ == "__main__":
    main()
