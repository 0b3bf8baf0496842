"""Benchmark: how fast the review finds the wrong labels of CIFAR-10N.

Given labels: CIFAR-10N ``aggre`` (human majority vote, about 9 % wrong); truth: ``clean``.
Embeddings: the default model's vectors of the 50,000 training JPEGs (precomputed; pass them
with --embeddings / --ids). Orders compared, all over the same embeddings:

* ours: the review's order (class by class, misfits first by the label-error detector's
  ensemble posterior, as ``labelscout review`` shows it); the curve assumes the reviewer goes
  through every class to the same depth (``labelscout.bench.review_order.per_class_order``);
* file order: the CSV's order (what a reviewer without a ranking sees);
* cleanlab: ``cleanlab.rank.get_label_quality_scores`` (self-confidence) on the same
  out-of-fold logistic probabilities, as one global list, and the same split by class.

Writes a JSON of every number and a PNG of the errors-found vs images-viewed curves.

    nice -n 10 python benchmarks/bench_review_cifar10n.py --embeddings EMB --ids IDS \
        --labels ../shared/data/cifar10/cifar10n_train_labels.csv --out benchmarks/results/review-cifar10n.json
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import cpu_flags  # noqa: E402
from labelscout.bench.label_errors import read_noisy_labels
from labelscout.bench.review_order import found_curve, per_class_order, share_wrong_in_first, viewed_to_find
from labelscout.detectors.label_errors import LabelErrorDetector, logistic_posterior
from labelscout.space.metric import unit_rows as _unit
from labelscout.review.misfits import misfits_from_posterior
from labelscout.review.session import CACHE_DIR, misfits_cache_key, unit_rows
from labelscout.runs.atomic import atomic_path, atomic_write_json
from labelscout.sources.precomputed import load_precomputed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embeddings", required=True, help="embeddings of the CIFAR-10 JPEGs (.npy, table or saved folder)")
    ap.add_argument("--ids", default=None, help="ids of the .npy rows (paths like train/cat/0001.jpg)")
    ap.add_argument("--labels", required=True, help="cifar10n_train_labels.csv")
    ap.add_argument("--given", default="aggre")
    ap.add_argument("--truth", default="clean")
    ap.add_argument("--first", type=int, default=50, help="images per class for the 'share wrong among the first' table")
    ap.add_argument("--out", required=True, help="results JSON; the plot goes beside it (.png)")
    ap.add_argument("--review-run", default=None, help="also store our scores as the misfit cache of a review run folder "
                    "(bench_review_open.py then opens it without scoring again)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    emb = load_precomputed(args.embeddings, args.ids) if Path(args.embeddings).is_file() else None
    if emb is None:
        from labelscout.embed.store import EmbeddingSet

        emb = EmbeddingSet.load(args.embeddings)
    with open(args.labels) as fh:
        header = fh.readline()
        train = {ln.split(",", 1)[0] for ln in fh}
    rows = np.array([i for i, sid in enumerate(emb.ids) if sid in train or f"train/{sid}" in train], dtype=np.int64)
    ids = [emb.ids[i] for i in rows]
    cols = read_noisy_labels(args.labels, ids, [args.given, args.truth, "index"])
    # file order = the original CIFAR order (the CSV's index column), not the ids' sorted paths:
    # the folders of this archive are the clean classes, so path order would group by truth
    file_rank = np.argsort(np.array([int(v) for v in cols["index"]]), kind="stable")
    given, truth = cols[args.given], cols[args.truth]
    is_error = np.array([g != t for g, t in zip(given, truth)])
    X = unit_rows(np.asarray(emb.vectors)[rows])  # what open_review hands the detector
    timings = {"load": round(time.perf_counter() - t0, 2)}

    # ours: the detector's ensemble = mean of its kNN and out-of-fold logistic posteriors (the
    # logistic part is computed once and shared with cleanlab, which gets exactly those probabilities)
    t = time.perf_counter()
    knn = LabelErrorDetector(method="knn").fit(X, given)
    classes = knn.classes_
    y = np.array([classes.index(g) for g in given])
    timings["knn"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    lr = logistic_posterior(_unit(X), y, len(classes), cv_folds=5, seed=0)  # as LabelErrorDetector.fit does
    timings["logistic"] = round(time.perf_counter() - t, 2)
    ours = misfits_from_posterior(0.5 * (knn.posterior_ + lr), classes, given, "embeddings",
                                  {"detector": "label-errors", "params": LabelErrorDetector().get_params()})
    if args.review_run:
        cache = Path(args.review_run) / CACHE_DIR
        cache.mkdir(parents=True, exist_ok=True)
        ours.save(cache, misfits_cache_key(X, ids, given, "ensemble", 0))

    from cleanlab.rank import get_label_quality_scores

    cl_scores = 1.0 - get_label_quality_scores(y, lr, method="self_confidence")

    n = len(ids)
    within_ours = {c: ours.members(j) for j, c in enumerate(classes)}
    within_file = {c: file_rank[y[file_rank] == j] for j, c in enumerate(classes)}
    within_cl = {c: np.flatnonzero(y == j)[np.argsort(-cl_scores[y == j], kind="stable")] for j, c in enumerate(classes)}
    orders = {
        "ours (class by class, misfits first)": per_class_order(ours.scores, y),
        "file order": file_rank,
        "cleanlab (one global ranking)": np.argsort(-cl_scores, kind="stable"),
        "cleanlab (class by class)": per_class_order(cl_scores, y),
    }
    results = {"n": n, "errors": int(is_error.sum()), "error_rate": float(is_error.mean()), "classes": classes,
               "given": args.given, "truth": args.truth, "orders": {}, "first": args.first,
               "share_wrong_in_first": {}, "errors_per_class": {c: int(is_error[y == j].sum()) for j, c in enumerate(classes)}}
    for name, within in (("ours", within_ours), ("file order", within_file), ("cleanlab", within_cl)):
        per = share_wrong_in_first(within, is_error, args.first)
        results["share_wrong_in_first"][name] = {"mean": float(np.mean(list(per.values()))), "per_class": per}
    curves = {}
    for name, order in orders.items():
        curve = found_curve(order, is_error)
        curves[name] = curve
        results["orders"][name] = {
            "viewed_to_find_half": viewed_to_find(order, is_error, 0.5),
            "viewed_to_find_80pct": viewed_to_find(order, is_error, 0.8),
            "found_at_15pct_viewed": float(curve[int(0.15 * n) - 1] / curve[-1]),
            "found_at_5pct_viewed": float(curve[int(0.05 * n) - 1] / curve[-1]),
            "curve_every_1pct": [int(curve[max(0, int(p / 100 * n) - 1)]) for p in range(1, 101)],
        }
    timings["total"] = round(time.perf_counter() - t0, 2)
    results.update(timings=timings, embeddings={"source": str(args.embeddings), "model_id": emb.model_id,
                                                "fingerprint": emb.fingerprint, "dim": emb.dim},
                   machine={"python": platform.python_version(), "cpu_flags": " ".join(cpu_flags())},
                   command="python benchmarks/bench_review_cifar10n.py " + " ".join(
                       f"--{k} {v}" for k, v in vars(args).items() if v is not None))
    out = Path(args.out)
    atomic_write_json(out, results)
    _plot(curves, results, out.with_suffix(".png"))
    for name, r in results["orders"].items():
        print(f"{name:40s} half found after {100 * r['viewed_to_find_half']:5.1f}% viewed; "
              f"{100 * r['found_at_15pct_viewed']:5.1f}% found at 15% viewed")
    for name, r in results["share_wrong_in_first"].items():
        print(f"share wrong among first {args.first} per class, {name}: {r['mean']:.3f}")
    print(json.dumps(timings))


def _plot(curves, results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, total = results["n"], results["errors"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    x = np.arange(1, n + 1) / n * 100
    for name, curve in curves.items():
        ax.plot(x, curve / total * 100, label=name, lw=1.6)
    ax.axvline(15, color="#9ca3af", ls="--", lw=1)
    ax.axhline(50, color="#9ca3af", ls="--", lw=1)
    ax.set_xlabel("images viewed (% of the 50,000)")
    ax.set_ylabel(f"wrong labels found (% of {total:,})")
    ax.set_title(f"CIFAR-10N {results['given']}: errors found vs images viewed")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
