"""Benchmark: how the report's embedding map behaves in a browser at 50,000 and 100,000 points.

Opens report pages in Debian's headless Chromium (software rendering, --disable-gpu) and
measures: the time from navigation until the map has drawn; one full redraw of the map
(median of 20 at different zoom levels); one hover query (spatial-grid lookup, median of 500
random cursor positions); and the time from hovering a point until its thumbnail is drawn
(the first hover decodes one atlas sheet).

Pages measured:
* the 50,000-image CIFAR report that ``bench_report.py`` wrote (WORK/run/report.html), if present;
* a synthetic pool of --points clustered 32-d vectors in 10 labelled groups, 5% picked at
  random, built here into WORK/synthetic-N; its samples are symbolic links to the CIFAR-10
  JPEGs under --images (cycled), so the page carries a thumbnail for every point.

    flock /tmp/labelscout-bench.lock python benchmarks/bench_report_browser.py
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def synthetic_run(work: Path, n: int, images: Path | None) -> Path:
    import labelscout
    from labelscout.embed.store import EmbeddingSet
    from labelscout.report.build import write_report

    run = work / f"synthetic-{n}"
    if (run / "report.html").is_file():
        return run
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 32)) * 2.5
    lab = rng.integers(0, 10, n)
    X = (centres[lab] + rng.normal(size=(n, 32))).astype(np.float32)
    ids = [f"class{c}/{i:06d}.jpg" for i, c in enumerate(lab)]
    root = None
    if images is not None:
        files = sorted(images.rglob("*.jpg"))
        root = work / f"synthetic-{n}-images"
        for i, sid in enumerate(ids):
            link = root / sid
            if not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(files[i % len(files)])
    labelscout.select(EmbeddingSet(X, ids), n // 20, out=run, strategy="random", report=False, progress=False)
    t0 = time.perf_counter()
    write_report(run, root=root, thumbs=root is not None, progress=False)
    print(f"synthetic {n}: report built in {time.perf_counter() - t0:.1f} s", flush=True)
    return run


def measure(context, html: Path) -> dict:
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    t0 = time.perf_counter()
    page.goto(html.resolve().as_uri(), timeout=300_000)
    page.wait_for_function("window.labelscoutMap && window.labelscoutMap.ready && window.labelscoutMap.frames > 0", timeout=300_000)
    ready_s = time.perf_counter() - t0
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#ls-map").bounding_box()
    draws = []
    for k in range(20):
        page.mouse.move(box["x"] + box["width"] * (0.3 + 0.02 * k), box["y"] + box["height"] * 0.5)
        page.mouse.wheel(0, -120 if k < 10 else 120)
        draws.append(page.evaluate("window.labelscoutMap.redraw()"))
    page.click("#ls-reset")
    # the clock of a page is coarse (0.1 ms): time 2,000 lookups together
    hover_ms = page.evaluate("""(([x, y, w, h]) => { let s = 12345, found = 0; const t0 = performance.now();
        for (let k = 0; k < 2000; k++) { s = (s * 1103515245 + 12345) % 2147483648; const px = x + (s % 1000) / 1000 * w;
          s = (s * 1103515245 + 12345) % 2147483648; const py = y + (s % 1000) / 1000 * h;
          if (window.labelscoutMap.nearestAt(px, py) >= 0) found++; }
        return (performance.now() - t0) / 2000; })""", [box["x"], box["y"], box["width"], box["height"]])
    n = page.evaluate("JSON.parse(document.getElementById('ls-data').textContent).n")
    has_atlas = page.evaluate("JSON.parse(document.getElementById('ls-data').textContent).atlas !== null")
    thumb_s = None
    if has_atlas:
        i = page.evaluate("(() => { for (let i = 0;; i++) if (window.labelscoutMap.statusOf(i) === 1) return i; })()")
        pos = page.evaluate(f"window.labelscoutMap.position({i})")
        t0 = time.perf_counter()
        page.mouse.move(pos["x"], pos["y"])
        page.wait_for_function("window.labelscoutMap.tipThumbDrawn", timeout=60_000)
        thumb_s = time.perf_counter() - t0
    page.close()
    return {"page": str(html), "points": n, "mb": round(html.stat().st_size / 1e6, 1), "ready_s": round(ready_s, 2),
            "redraw_ms_median": round(statistics.median(draws), 1), "redraw_ms_max": round(max(draws), 1),
            "hover_query_ms_mean": round(hover_ms, 4), "first_thumbnail_s": None if thumb_s is None else round(thumb_s, 2),
            "page_errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=REPO / ".data" / "bench_report")
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--images", type=Path, default=Path("/work/data"), help="CIFAR-10 JPEGs to link as the synthetic pool's files")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from playwright.sync_api import sync_playwright

    pages = [p for p in [args.work / "run" / "report.html"] if p.is_file()]
    pages.append(synthetic_run(args.work, args.points, args.images if args.images.is_dir() else None) / "report.html")
    profile = tempfile.mkdtemp()
    rows = []
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=args.chromium, headless=True, args=ARGS,
                                                   viewport={"width": 1360, "height": 900})
        for html in pages:
            rows.append(measure(ctx, html))
            print(json.dumps(rows[-1]), flush=True)
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)
    (args.work / "results_browser.json").write_text(json.dumps(rows, indent=2) + "\n")
    print()
    print("| points | report.html (MB) | load until drawn (s) | full redraw (ms, median / max) | hover lookup (ms, mean) | first thumbnail on hover (s) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['points']:,} | {r['mb']} | {r['ready_s']} | {r['redraw_ms_median']} / {r['redraw_ms_max']} | "
              f"{r['hover_query_ms_mean']} | {r['first_thumbnail_s'] if r['first_thumbnail_s'] is not None else 'no thumbnails'} |")


if __name__ == "__main__":
    main()
