"""Write a probe benchmark folder's results as one JSON file for benchmarks/results/:
the summary rows (accuracy, paired difference to random, per-class accuracy), the
selection choices auto made, the run record (config, versions, timings) and the command.

    python benchmarks/probe_results_json.py BENCH_DIR OUT.json --command "..." --cpu-flags FILE
"""
from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path

from labelscout.bench.harness import load_cells
from labelscout.bench.report import summarize, summary_markdown
from labelscout.runs.atomic import atomic_write_json


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("out")
    ap.add_argument("--command", required=True)
    ap.add_argument("--cpu-flags")
    ap.add_argument("--markdown", help="also write the summary tables (markdown) here")
    a = ap.parse_args()
    bench = Path(a.bench)
    run = json.loads((bench / "run.json").read_text())
    cells = load_cells(bench)
    rows = summarize(cells, method_order=run["config"]["methods"])
    # one repeat has no spread: NaN becomes null (JSON has no NaN)
    clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    if a.markdown:
        Path(a.markdown).write_text(summary_markdown(rows))
    choices = Counter((c["method"], c["budget"], c["selection"]["choice"]["strategy"]) for c in cells if "choice" in c["selection"])
    atomic_write_json(Path(a.out), {
        "command": a.command, "cpu_flags": Path(a.cpu_flags).read_text().strip() if a.cpu_flags else None,
        "config": run["config"], "versions": run.get("versions"), "timings_s": run.get("timings_s"),
        "embeddings": run.get("embeddings"), "summary": clean,
        "auto_choices": [{"method": m, "budget": b, "strategy": s, "cells": n} for (m, b, s), n in sorted(choices.items())],
        "cells": [{k: c[k] for k in ("method", "budget", "repeat", "accuracy", "per_class")} | {"selection_seconds": c["selection"]["seconds"]}
                  for c in cells],
    })


if __name__ == "__main__":
    main()
