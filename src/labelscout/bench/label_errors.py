"""Scoring label-error detection against known truth (CIFAR-10N).

CIFAR-10N gives human re-annotations of the CIFAR-10 training set: a noisy column (e.g.
``worse``, 40 % wrong; ``aggre``, 9 % wrong) serves as the *given* labels and ``clean``
as the truth, so every sample whose given label differs from the truth is a real label
error. A detector ranks samples by suspicion and flags some; this module reports:

* precision@k: the share of true errors among the k most suspicious samples, for a grid
  of k (the curve a reviewer walking down the list sees);
* precision and recall of the flagged set;
* AUROC and average precision of the ranking.

Methods compared on the same embeddings in the same run: :class:`LabelErrorDetector`
with each posterior (``knn``, ``logistic``, ``ensemble``) and, when installed, the peer
cleanlab (``cleanlab.filter.find_label_issues`` with its default ``prune_by_noise_rate``
and ``cleanlab.rank.get_label_quality_scores``) fed the same out-of-sample logistic
probabilities that our ``logistic`` method uses: the standard cleanlab workflow.
"""
from __future__ import annotations

import csv
import logging
import math
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..embed.store import EmbeddingSet
from ..errors import ConfigError, InputError
from ..runs.atomic import atomic_path, atomic_write_text
from ..runs.outputs import prepare_run_folder
from ..runs.record import RunRecord

__all__ = ["ranking_metrics", "precision_at_k", "read_noisy_labels", "run_label_error_benchmark", "METHODS"]

log = logging.getLogger(__name__)

METHODS = ("knn", "logistic", "ensemble", "cleanlab")
DEFAULT_KS = (100, 250, 500, 1000, 2500, 5000, 10000, 20000)


def precision_at_k(scores: np.ndarray, is_error: np.ndarray, ks: Sequence[int]) -> dict[int, float]:
    """Share of true errors among the ``k`` highest scores (ties broken by position)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.cumsum(np.asarray(is_error, dtype=bool)[order])
    return {int(k): float(hits[min(k, len(order)) - 1] / min(k, len(order))) for k in ks if k >= 1}


def ranking_metrics(scores: np.ndarray, is_error: np.ndarray, flags: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[str, Any]:
    """AUROC, average precision, precision@k, and precision / recall of the flags."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores = np.asarray(scores, dtype=np.float64)
    is_error = np.asarray(is_error, dtype=bool)
    flags = np.asarray(flags, dtype=bool)
    n_err, n_flag = int(is_error.sum()), int(flags.sum())
    both = int((flags & is_error).sum())
    defined = 0 < n_err < len(is_error)
    return {
        "n": int(len(scores)), "errors": n_err, "flagged": n_flag,
        "precision_flagged": both / n_flag if n_flag else math.nan,
        "recall_flagged": both / n_err if n_err else math.nan,
        "auroc": float(roc_auc_score(is_error, scores)) if defined else math.nan,
        "average_precision": float(average_precision_score(is_error, scores)) if defined else math.nan,
        "precision_at_k": precision_at_k(scores, is_error, [k for k in ks if k <= len(scores)] + ([n_err] if n_err else [])),
    }


def read_noisy_labels(csv_path: str | Path, ids: Sequence[str], columns: Sequence[str], *, id_column: str = "path",
                      strip_prefix: str = "train/") -> dict[str, list[str]]:
    """Label columns of a CIFAR-10N style CSV, in the order of ``ids``.

    Ids match the CSV's ``id_column`` directly or after dropping ``strip_prefix`` (the
    embeddings of ``data/train`` have ids ``cat/0001.jpg``, the CSV ``train/cat/0001.jpg``)."""
    path = Path(csv_path)
    if not path.is_file():
        raise InputError(f"Labels file {path} does not exist.")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing_cols = [c for c in [id_column, *columns] if c not in (reader.fieldnames or [])]
        if missing_cols:
            raise InputError(f"{path} lacks column(s) {missing_cols}; it has {reader.fieldnames}.")
        table = {}
        for row in reader:
            key = row[id_column]
            table[key] = row
            if strip_prefix and key.startswith(strip_prefix):
                table[key[len(strip_prefix):]] = row
    absent = [i for i in ids if i not in table]
    if absent:
        raise InputError(f"{len(absent)} of {len(ids)} embedded samples are not in {path}, e.g. {absent[:3]}.",
                         hint="Embed the same images the CSV describes (its path column, relative to the dataset root).")
    return {c: [table[i][c] for i in ids] for c in columns}


def _cleanlab_peer(post: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    flags = find_label_issues(y, post, filter_by="prune_by_noise_rate")
    quality = get_label_quality_scores(y, post, method="self_confidence")
    return 1.0 - quality, flags


def run_label_error_benchmark(
    embeddings: str | Path | EmbeddingSet,
    labels_csv: str | Path,
    *,
    out: str | Path,
    given: Sequence[str] = ("worse", "aggre"),
    truth: str = "clean",
    methods: Sequence[str] = METHODS,
    k: int = 20,
    temperature: float = 0.05,
    cv_folds: int = 5,
    seed: int = 0,
    ks: Sequence[int] = DEFAULT_KS,
) -> list[dict[str, Any]]:
    """Score every method on every noisy column; writes label_errors.csv / .md / .png to ``out``."""
    from ..detectors.label_errors import LabelErrorDetector, confident_learning_flags, logistic_posterior

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"The 'methods' parameter must hold values from {set(METHODS)}. Got {unknown} instead.")
    emb = embeddings if isinstance(embeddings, EmbeddingSet) else EmbeddingSet.load(embeddings)
    out = prepare_run_folder(out)
    record = RunRecord(command="labelscout bench label-errors", seed=seed)
    record.config = {"embeddings": str(embeddings) if not isinstance(embeddings, EmbeddingSet) else "<EmbeddingSet>",
                     "labels_csv": str(labels_csv), "given": list(given), "truth": truth, "methods": list(methods),
                     "k": k, "temperature": temperature, "cv_folds": cv_folds, "seed": seed}
    record.extra["embedding"] = {"model_id": emb.model_id, "fingerprint": emb.fingerprint, "n": len(emb)}
    cols = read_noisy_labels(labels_csv, emb.ids, [*given, truth])
    X = np.asarray(emb.vectors, dtype=np.float32)
    rows: list[dict[str, Any]] = []
    curves: dict[tuple[str, str], dict[int, float]] = {}
    for col in given:
        is_error = np.array([g != t for g, t in zip(cols[col], cols[truth])])
        log.info("%s: %d of %d given labels are wrong (%.1f%%)", col, is_error.sum(), len(is_error), 100 * is_error.mean())
        lr_post, lr_secs, fitted = None, 0.0, {}
        for method in methods:
            t0 = time.perf_counter()
            if method == "ensemble" and {"knn", "logistic"} <= set(fitted):
                # the detector's ensemble is the mean of these two posteriors: reuse them rather than
                # cross-validate the logistic regression again (tests check it equals a direct fit)
                y = fitted["logistic"][1]
                post = 0.5 * (fitted["knn"][0] + fitted["logistic"][0])
                scores = np.clip(1.0 - post[np.arange(len(y)), y], 0.0, 1.0)
                flags = confident_learning_flags(post, y)[0]
                extra_secs = fitted["knn"][2] + fitted["logistic"][2]
            elif method == "cleanlab":
                import importlib.util

                if importlib.util.find_spec("cleanlab") is None:
                    log.warning("cleanlab is not installed; the peer is skipped (pip install cleanlab)")
                    continue
                classes = sorted(set(cols[col]))
                y = np.array([classes.index(v) for v in cols[col]])
                Xu = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
                if lr_post is None:
                    lr_post = logistic_posterior(Xu, y, len(classes), cv_folds=cv_folds, seed=seed)
                    lr_secs = time.perf_counter() - t0
                scores, flags = _cleanlab_peer(lr_post, y)
                extra_secs = lr_secs if "logistic" in fitted else 0.0  # the peer's share of the shared posterior
            else:
                det = LabelErrorDetector(method=method, k=k, temperature=temperature, cv_folds=cv_folds, seed=seed)
                det.fit(X, cols[col], ids=emb.ids)
                scores, flags = det.scores_, det.flags_
                y = np.array([det.classes_.index(g) for g in cols[col]])
                extra_secs = 0.0
                fitted[method] = (det.posterior_, y, time.perf_counter() - t0)
                if method == "logistic":
                    lr_post, lr_secs = det.posterior_, time.perf_counter() - t0  # the peer gets exactly these probabilities
            secs = time.perf_counter() - t0 + extra_secs
            m = ranking_metrics(scores, is_error, flags, ks)
            curves[(col, method)] = m.pop("precision_at_k")
            rows.append({"given": col, "method": method, **m, "seconds": round(secs, 2),
                         **{f"p@{kk}": v for kk, v in curves[(col, method)].items()}})
            log.info("%s / %s: AUROC %.3f, flagged %d (precision %.3f, recall %.3f) in %.1fs", col, method, m["auroc"],
                     m["flagged"], m["precision_flagged"], m["recall_flagged"], secs)
    record.counts["rows"] = len(rows)
    atomic_write_text(out / "label_errors.csv", _rows_csv(rows))
    atomic_write_text(out / "label_errors.md", label_errors_markdown(rows, ks))
    _plot_curves(curves, out / "precision_at_k.png")
    record.status = "finished"
    record.write(out)
    return rows


def _rows_csv(rows: Sequence[dict[str, Any]]) -> str:
    import io

    cols = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if r.get(c) is None else (f"{r[c]:.6g}" if isinstance(r.get(c), float) else r.get(c, "")) for c in cols])
    return buf.getvalue()


def label_errors_markdown(rows: Sequence[dict[str, Any]], ks: Sequence[int] = DEFAULT_KS) -> str:
    """One table: ranking quality, flag precision / recall and precision@k per method.

    Seconds include every posterior a method needs: ensemble counts its kNN and logistic
    parts, cleanlab the cross-validated logistic probabilities it is given."""
    shown = [kk for kk in ks if any(f"p@{kk}" in r for r in rows)][:5]
    head = "| given | method | wrong labels | AUROC | AP | flagged | precision (flagged) | recall (flagged) | " + \
        " | ".join(f"P@{kk}" for kk in shown) + " | P@#wrong | seconds |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(shown) + "---:|---:|"]
    for r in rows:
        pk = " | ".join(f"{r.get(f'p@{kk}', math.nan):.3f}" for kk in shown)
        lines.append(f"| {r['given']} | {r['method']} | {r['errors']} ({100 * r['errors'] / r['n']:.1f}%) | {r['auroc']:.3f} | "
                     f"{r['average_precision']:.3f} | {r['flagged']} | {r['precision_flagged']:.3f} | {r['recall_flagged']:.3f} | "
                     f"{pk} | {r.get('p@' + str(r['errors']), math.nan):.3f} | {r['seconds']} |")
    return "\n".join(lines) + "\n"


def _plot_curves(curves: dict[tuple[str, str], dict[int, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = list(dict.fromkeys(c for c, _ in curves))
    fig, axes = plt.subplots(1, max(1, len(cols)), figsize=(6 * max(1, len(cols)), 4.2), squeeze=False)
    for ax, col in zip(axes[0], cols):
        for (c, method), curve in curves.items():
            if c == col:
                ks = sorted(curve)
                ax.plot(ks, [curve[kk] for kk in ks], marker="o", ms=3, label=method)
        ax.set_xscale("log")
        ax.set_xlabel("k (most suspicious samples reviewed)")
        ax.set_ylabel("precision@k")
        ax.set_title(f"given labels: {col}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
