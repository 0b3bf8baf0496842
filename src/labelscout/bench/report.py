"""Reports of the probe benchmark: summary rows, CSV, a markdown table and a plot.

The summary has one row per (method, budget): mean test accuracy with its spread and
confidence interval, the paired difference to the baseline (random) with its interval,
p-values and win/loss counts, and the mean accuracy per class. Methods that lose to the
baseline are shown like any other row, and the markdown marks them. The text builders
are pure functions; :func:`write_report` writes them out.
"""
from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..runs.atomic import atomic_path, atomic_write_text
from .stats import mean_ci, paired_difference

__all__ = ["summarize", "cells_csv", "summary_csv", "summary_markdown", "plot_summary", "write_report"]


def summarize(cells: Sequence[dict[str, Any]], *, baseline: str = "random", confidence: float = 0.95,
              method_order: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per (method, budget). Differences pair repeats that both method and
    baseline finished (same repeat index, hence the same probe seed)."""
    by: dict[tuple[str, int], dict[int, dict]] = defaultdict(dict)
    for c in cells:
        by[(c["method"], int(c["budget"]))][int(c["repeat"])] = c
    order = list(method_order or [])
    order += sorted({m for m, _ in by} - set(order))
    rows = []
    for method in order:
        for budget in sorted({b for m, b in by if m == method}):
            reps = by[(method, budget)]
            acc = [reps[r]["accuracy"] for r in sorted(reps)]
            ci = mean_ci(acc, confidence)
            classes = list(next(iter(reps.values()))["per_class"])
            row: dict[str, Any] = {
                "method": method, "budget": budget, "repeats": ci.n, "mean": ci.mean, "std": ci.std,
                "ci_low": ci.low, "ci_high": ci.high,
                "probe_seconds": float(np.mean([reps[r]["probe"]["seconds"] for r in reps])),
                "selection_seconds": float(np.mean([reps[r]["selection"]["seconds"] for r in reps])),
            }
            base = by.get((baseline, budget), {})
            common = sorted(set(reps) & set(base))
            if method != baseline and common:
                d = paired_difference([reps[r]["accuracy"] for r in common], [base[r]["accuracy"] for r in common], confidence)
                row.update({"pairs": d.n, "diff": d.mean, "diff_std": d.std, "diff_low": d.low, "diff_high": d.high,
                            "p_ttest": d.p_ttest, "p_wilcoxon": d.p_wilcoxon, "wins": d.wins, "losses": d.losses})
            for cls in classes:
                row[f"class:{cls}"] = float(np.mean([reps[r]["per_class"][cls] for r in reps]))
            rows.append(row)
    return rows


def _csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_fmt_csv(r.get(c)) for c in columns])
    return buf.getvalue()


def _fmt_csv(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return str(v)


def cells_csv(cells: Sequence[dict[str, Any]]) -> str:
    """Every cell in long format: one row per (method, budget, repeat)."""
    classes = list(cells[0]["per_class"]) if cells else []
    rows = []
    for c in cells:
        row = {"method": c["method"], "budget": c["budget"], "repeat": c["repeat"], "seed": c["seed"], "accuracy": c["accuracy"],
               "probe_seconds": c["probe"]["seconds"], "probe_steps": c["probe"]["steps"], "probe_epochs": c["probe"]["epochs"],
               "selection_seconds": c["selection"]["seconds"], "selection_sha256": c["selection"]["sha256"]}
        row.update({f"class:{k}": v for k, v in c["per_class"].items()})
        row.update({f"count:{k}": v for k, v in c["selection"]["class_counts"].items()})
        rows.append(row)
    cols = ["method", "budget", "repeat", "seed", "accuracy", "probe_seconds", "probe_steps", "probe_epochs",
            "selection_seconds", "selection_sha256", *(f"class:{k}" for k in classes), *(f"count:{k}" for k in classes)]
    return _csv(rows, cols)


def summary_csv(rows: Sequence[dict[str, Any]]) -> str:
    base = ["method", "budget", "repeats", "mean", "std", "ci_low", "ci_high", "pairs", "diff", "diff_std", "diff_low",
            "diff_high", "p_ttest", "p_wilcoxon", "wins", "losses", "probe_seconds", "selection_seconds"]
    extra = [k for k in rows[0] if k.startswith("class:")] if rows else []
    return _csv(rows, base + extra)


def _pct(v: float | None, digits: int = 2, sign: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{100 * v:+.{digits}f}" if sign else f"{100 * v:.{digits}f}"


def summary_markdown(rows: Sequence[dict[str, Any]], *, baseline: str = "random", confidence: float = 0.95,
                     title: str | None = None) -> str:
    """Markdown tables: accuracy and difference to the baseline, then accuracy per class."""
    conf = f"{round(100 * confidence)}%"
    lines = [f"### {title}", ""] if title else []
    lines += [
        f"Test accuracy (%) of the probe, mean ± std over repeats, {conf} CI of the mean; difference to `{baseline}` "
        f"(percentage points) paired by repeat with its {conf} CI and paired t-test p-value; W/L = repeats won/lost "
        f"against `{baseline}`. **worse** marks a method whose whole CI of the difference lies below 0.",
        "",
        f"| method | budget | n | accuracy | {conf} CI | Δ vs {baseline} (pp) | {conf} CI of Δ | p | W/L |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        acc = f"{_pct(r['mean'])} ± {_pct(r['std'])}" if not math.isnan(r["std"]) else _pct(r["mean"])
        ci = f"[{_pct(r['ci_low'])}, {_pct(r['ci_high'])}]" if not math.isnan(r["ci_low"]) else "-"
        if "diff" in r:
            mark = ""
            if not math.isnan(r["diff_high"]) and r["diff_high"] < 0:
                mark = " **worse**"
            elif not math.isnan(r["diff_low"]) and r["diff_low"] > 0:
                mark = " **better**"
            diff = f"{_pct(r['diff'], sign=True)}{mark}"
            dci = f"[{_pct(r['diff_low'], sign=True)}, {_pct(r['diff_high'], sign=True)}]" if not math.isnan(r["diff_low"]) else "-"
            p = "-" if math.isnan(r["p_ttest"]) else f"{r['p_ttest']:.3g}"
            wl = f"{r['wins']}/{r['losses']}"
        else:
            diff = dci = p = wl = "-"
        lines.append(f"| `{r['method']}` | {r['budget']} | {r['repeats']} | {acc} | {ci} | {diff} | {dci} | {p} | {wl} |")
    classes = [k for k in (rows[0] if rows else {}) if k.startswith("class:")]
    if classes:
        lines += ["", "Mean test accuracy (%) per class:", "",
                  "| method | budget | " + " | ".join(k.split(":", 1)[1] for k in classes) + " |",
                  "|---|---:|" + "---:|" * len(classes)]
        for r in rows:
            lines.append(f"| `{r['method']}` | {r['budget']} | " + " | ".join(_pct(r[k], 1) for k in classes) + " |")
    return "\n".join(lines) + "\n"


def plot_summary(rows: Sequence[dict[str, Any]], path: str | Path, *, baseline: str = "random", title: str = "") -> Path:
    """Two panels: accuracy vs budget (error bars: CI of the mean) and the paired
    difference to the baseline (error bars: its CI), budgets on a log axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, m in enumerate(methods):
        mr = sorted((r for r in rows if r["method"] == m), key=lambda r: r["budget"])
        x = np.array([r["budget"] for r in mr], dtype=float) * (1 + 0.012 * (i - len(methods) / 2))  # de-overlap bars
        y = np.array([r["mean"] for r in mr]) * 100
        err = np.array([[r["mean"] - r["ci_low"], r["ci_high"] - r["mean"]] if not math.isnan(r["ci_low"]) else [0, 0] for r in mr]).T * 100
        axes[0].errorbar(x, y, yerr=err, marker="o", ms=4, capsize=3, label=m)
        dr = [r for r in mr if "diff" in r]
        if dr:
            xd = np.array([r["budget"] for r in dr], dtype=float) * (1 + 0.012 * (i - len(methods) / 2))
            yd = np.array([r["diff"] for r in dr]) * 100
            ed = np.array([[r["diff"] - r["diff_low"], r["diff_high"] - r["diff"]] if not math.isnan(r["diff_low"]) else [0, 0] for r in dr]).T * 100
            axes[1].errorbar(xd, yd, yerr=ed, marker="o", ms=4, capsize=3, label=m, color=axes[0].lines[-1].get_color())
    axes[1].axhline(0, color="black", lw=1)
    budgets = sorted({r["budget"] for r in rows})
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(budgets, [f"{b:,}" for b in budgets])  # the budgets themselves, not powers of ten
        ax.minorticks_off()
        ax.set_xlabel("labeling budget (images)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("probe test accuracy (%)")
    axes[1].set_ylabel(f"difference to {baseline} (pp)")
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def write_report(out: str | Path, cells: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]], *,
                 baseline: str = "random", confidence: float = 0.95, title: str | None = None) -> dict[str, Path]:
    """results.csv, summary.csv, summary.md and accuracy.png in ``out``."""
    out = Path(out)
    files = {
        "results": atomic_write_text(out / "results.csv", cells_csv(cells)),
        "summary_csv": atomic_write_text(out / "summary.csv", summary_csv(rows)),
        "summary_md": atomic_write_text(out / "summary.md", summary_markdown(rows, baseline=baseline, confidence=confidence, title=title)),
    }
    if rows:
        files["plot"] = plot_summary(rows, out / "accuracy.png", baseline=baseline, title=title or "")
    return files
