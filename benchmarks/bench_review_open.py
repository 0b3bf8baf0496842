"""Benchmark: opening the review of the 50,000 CIFAR-10 training images in a browser.

Prepares the review (``open_review``: the misfit scores are computed once and cached in the
run folder; the number reported is the reopening, as every later start pays), serves it, and
opens the page in Debian's headless Chromium (software rendering) three times:

* cold: the server's thumbnail cache deleted first (every visible thumbnail is made on request);
* warm: twice more with the server's cache as the first visit left it.

Each visit is a fresh browser context (nothing in the browser's own cache).

Each reports the time from navigation until the first class is drawn (every visible tile's
thumbnail loaded: ``window.labelscoutReview.firstDrawnMs``, performance.now() since navigation
start). Then it scrolls the first class (5,000 images) from top to bottom with the mouse wheel
and records the longest frame and the frames over 50 ms, and saves a screenshot of one class.

    nice -n 10 python benchmarks/bench_review_open.py --images /path/to/cifar10 \
        --labels ../shared/data/cifar10/cifar10n_train_labels.csv --label-column aggre \
        --embeddings EMB --ids IDS --run /tmp/review-bench --out benchmarks/results/review-open.json \
        --screenshot docs/images/review-cifar10n.png --screenshot-class cat
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _browser import CHROMIUM_ARGS, find_chromium  # noqa: E402

from labelscout.review import ReviewServer, open_review  # noqa: E402
from labelscout.runs.atomic import atomic_write_json  # noqa: E402

FRAME_PROBE = """(() => { window.__frames = []; window.__long = []; let last = performance.now();
  new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__long.push(e.duration))).observe({ type: "longtask" });
  window.__thumbReq0 = performance.getEntriesByType("resource").filter((e) => e.name.includes("/thumbs?")).length;
  function tick(t) { window.__frames.push(t - last); last = t; if (window.__probe) requestAnimationFrame(tick); }
  window.__probe = true; requestAnimationFrame(tick); })()"""


def _machine() -> dict:
    flags = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {"cpu": model, "cores": os.cpu_count(), "cpu_flags": flags, "python": platform.python_version(),
            "load_average_start": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--label-column", default="aggre")
    ap.add_argument("--embeddings", required=True)
    ap.add_argument("--ids", default=None)
    ap.add_argument("--run", required=True, help="run folder of the review (kept: the misfit cache makes reruns fast)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--screenshot", default=None)
    ap.add_argument("--screenshot-class", default="cat")
    args = ap.parse_args()

    timings = {}
    for attempt in ("first", "reopen"):
        t = time.perf_counter()
        session = open_review(args.images, out=args.run, labels=args.labels, label_column=args.label_column,
                              embeddings=args.embeddings, ids=args.ids, progress=False)
        timings[f"open_review_{attempt}"] = round(time.perf_counter() - t, 2)
        if attempt == "first":
            session.close()
    thumbs = Path(args.run) / "review_cache" / "thumbs.sqlite"
    for f in thumbs.parent.glob("thumbs.sqlite*"):
        f.unlink()
    session.thumbs.__init__(thumbs.parent, session.root)  # a fresh, empty cache
    server = ReviewServer(session).start()
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("Debian's chromium is needed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    results = {"machine": _machine(), "n": len(session.ids), "classes": len(session.misfits.classes), "first_class": session.misfits.classes[0],
               "first_class_size": int((session.misfits.given == 0).sum()), "timings": timings, "opens": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            for kind in ("cold", "warm", "warm"):
                ctx = browser.new_context(viewport={"width": 1360, "height": 900})  # a fresh browser cache each time
                page = ctx.new_page()
                t = time.perf_counter()
                page.goto(server.url)
                page.wait_for_function("window.labelscoutReview && window.labelscoutReview.ready", timeout=60_000)
                wall = time.perf_counter() - t
                results["opens"].append({"cache": kind, "first_class_drawn_ms": round(page.evaluate("window.labelscoutReview.firstDrawnMs"), 1),
                                         "wall_s": round(wall, 3), "tiles": page.evaluate("window.labelscoutReview.visibleTiles()")})
                if kind == "warm" and "scroll" not in results:
                    page.mouse.move(700, 500)
                    page.evaluate(FRAME_PROBE)
                    render_ms0 = page.evaluate("window.labelscoutReview.renderMs")
                    height = page.evaluate("document.getElementById('spacer').offsetHeight")
                    t = time.perf_counter()
                    steps = 0
                    while page.evaluate("(() => { const g = document.getElementById('grid'); return g.scrollTop + g.clientHeight < g.scrollHeight - 2; })()"):
                        page.mouse.wheel(0, 900)
                        page.wait_for_timeout(16)
                        steps += 1
                    page.evaluate("window.__probe = false")
                    frames = page.evaluate("window.__frames")[1:]
                    long_tasks = page.evaluate("window.__long")
                    thumb_requests = page.evaluate("performance.getEntriesByType('resource').filter((e) => e.name.includes('/thumbs?')).length - window.__thumbReq0")
                    results["scroll"] = {"grid_height_px": height, "wheel_steps": steps, "seconds": round(time.perf_counter() - t, 2),
                                         "frames": len(frames), "max_frame_ms": round(max(frames), 1),
                                         "frames_over_50ms": sum(f > 50 for f in frames),
                                         "median_frame_ms": round(sorted(frames)[len(frames) // 2], 1),
                                         "tiles_in_dom_at_end": page.evaluate("window.labelscoutReview.visibleTiles()"),
                                         "long_tasks": len(long_tasks), "long_task_ms_total": round(sum(long_tasks), 1),
                                         "long_task_ms_max": round(max(long_tasks, default=0), 1),
                                         "thumb_requests": thumb_requests, "renders": page.evaluate("window.labelscoutReview.renders"),
                                         "render_js_ms_total": round(page.evaluate("window.labelscoutReview.renderMs") - render_ms0, 1)}
                ctx.close()
            if args.screenshot:
                ctx = browser.new_context(viewport={"width": 1360, "height": 900})
                page = ctx.new_page()
                page.goto(server.url.split("#")[0] + f"#class={args.screenshot_class}&view=misfit")
                page.wait_for_function("window.labelscoutReview && window.labelscoutReview.ready", timeout=60_000)
                page.wait_for_function(f"document.getElementById('class-name').textContent === {json.dumps(args.screenshot_class)}")
                page.wait_for_function("[...document.querySelectorAll('.tile img')].every(i => i.complete)")
                Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.screenshot)
                ctx.close()
            browser.close()
    finally:
        server.stop()
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["command"] = "python benchmarks/bench_review_open.py " + " ".join(sys.argv[1:])
    atomic_write_json(args.out, results)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
