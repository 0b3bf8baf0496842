"""Benchmark: building the HTML report for the 50,000 CIFAR-10 training JPEGs.

Steps (each reused when its output already exists under --work):
1. the model: the default (EfficientNet-Lite2, 128-d) unless ``--model`` names another
   (any ``--model`` spec, or ``seeded``: a seeded *untrained* CifarResNet, width 16, 128-d,
   written to WORK/model, the stand-in earlier runs used before a pretrained default
   existed); the report's cost depends on the pool size and dimension, its map's look on
   the embedding;
2. ``labelscout embed DATA --out WORK/emb [--model M]`` (served by the content cache when
   the same images were embedded before with the same model);
3. ``labelscout select WORK/emb/embeddings -n N --out WORK/run --no-report`` (coreset, cosine);
4. the report, timed cold (``report_cache`` removed: kNN graph, UMAP, thumbnails all
   computed) and warm (a rerun that reuses the cache), with its size in MB and MB per
   10,000 samples. For scale, the size the page would have with one base64 JPEG per point
   (the naive way to give every point a hover thumbnail) is measured on the same thumbnails.

Run it under the shared benchmark lock:
    flock /tmp/labelscout-bench.lock python benchmarks/bench_report.py --data /work/data/train
Results: printed as a Markdown table and saved to WORK/results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _labelscout(*args: str) -> None:
    cmd = [sys.executable, "-c", "from labelscout.cli import main; main()", *args]
    print("$ labelscout " + " ".join(args), flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})


def _seeded_model(path: Path) -> Path:
    import torch

    from labelscout.models.architectures import CifarResNet
    from labelscout.models.model_dir import ModelSpec, save_model_dir

    torch.manual_seed(0)
    kwargs = {"width": 16, "blocks": [1, 1, 1, 1], "out_dim": None}
    model = CifarResNet(**kwargs)
    spec = ModelSpec("bench-untrained-cifar-resnet10-w16", "cifar_resnet", kwargs, 32, [0.49, 0.48, 0.45],
                     [0.25, 0.24, 0.26], model.embedding_dim, training={"note": "seeded, untrained: benchmark only"})
    return save_model_dir(path, model, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/data/train"), help="image folder (CIFAR-10 train)")
    ap.add_argument("--work", type=Path, default=REPO / ".data" / "bench_report", help="ignored folder for outputs")
    ap.add_argument("--model", default=None, help="model spec (default: the default model; 'seeded': untrained CifarResNet)")
    ap.add_argument("-n", type=int, default=5000, help="selection size")
    ap.add_argument("--repeats", type=int, default=2, help="warm rebuilds to time")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    model = args.model
    if model == "seeded":
        model = work / "model"
        if not (model / "model.json").is_file():
            _seeded_model(model)
    emb = work / "emb"
    if not (emb / "embeddings" / "embeddings.json").is_file():
        _labelscout("embed", str(args.data), "--out", str(emb), *(["--model", str(model)] if model is not None else []))
    run = work / "run"
    if not (run / "selection.csv").is_file():
        _labelscout("select", str(emb / "embeddings"), "-n", str(args.n), "--out", str(run), "--no-report")

    from labelscout.embed.store import EmbeddingSet
    from labelscout.report.build import write_report
    from labelscout.report.data import REPORT_CACHE, compute_report_data
    from labelscout.report.render import render_report
    from labelscout.report.thumbs import ThumbnailStore, thumbnails

    shutil.rmtree(run / REPORT_CACHE, ignore_errors=True)
    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    data = compute_report_data(run, progress=False)
    html = render_report(data)
    cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
    cold_parts = {k: round(v, 2) for k, v in data.timings.items()}
    out = write_report(run, progress=False)
    warm, warm_cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        write_report(run, progress=False)
        warm.append(time.perf_counter() - t0)
        warm_cpu.append(time.process_time() - c0)
    n = len(data.ids)
    size = out.stat().st_size
    atlas = data.atlas.nbytes if data.atlas is not None else 0

    # the naive alternative: one base64 data URI per point, 64 px thumbnails
    store = ThumbnailStore(run / REPORT_CACHE)
    keys = [str(h) for h in EmbeddingSet.load(emb / "embeddings").content_hashes]
    root = Path(json.loads((emb / "run.json").read_text())["collection"]["root"])
    per_point = sum(len(b) * 4 / 3 + 25 for b in thumbnails(root, data.ids, keys, 64, store) if b is not None)

    results = {
        "samples": n, "selected": int((data.map.status == 1).sum()), "dim": int(data.summary["dim"]),
        "model": data.summary["model_id"], "map": data.map.method,
        "cold_s": round(cold, 2), "cold_cpu_s": round(cold_cpu, 2), "cold_parts_s": cold_parts,
        "warm_s": [round(w, 2) for w in warm], "warm_cpu_s": [round(w, 2) for w in warm_cpu],
        "html_mb": round(size / 1e6, 2), "mb_per_10k": round(size / 1e6 / n * 10_000, 2),
        "atlas_mb": round(atlas / 1e6, 2), "atlas_tile_px": data.atlas.tile if data.atlas else None,
        "naive_per_point_thumbs_mb": round(per_point / 1e6, 2), "html_chars": len(html),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_avg_1m_before": load_before, "load_avg_1m_after": os.getloadavg()[0]},
    }
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print()
    print("| samples | dim | map | cold build: wall / CPU (s) | warm rebuild: wall / CPU (s) | report.html (MB) | MB per 10k | atlas (MB) | naive per-point thumbnails (MB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {n:,} | {results['dim']} | {results['map']} | {results['cold_s']} / {results['cold_cpu_s']} | "
          f"{min(warm):.2f} / {min(warm_cpu):.2f} | {results['html_mb']} | "
          f"{results['mb_per_10k']} | {results['atlas_mb']} | {results['naive_per_point_thumbs_mb']} |")
    print("cold parts (s):", cold_parts)


if __name__ == "__main__":
    main()
