"""Benchmark: opening the review of the 50,000 CIFAR-10 training images in a browser.

Prepares the review (``open_review``: the misfit scores are computed once and cached in the
run folder; the number reported is the reopening, as every later start pays), serves it, and
opens the page in Debian's headless Chromium (software rendering) three times:

* cold: the server's thumbnail cache deleted first (every visible thumbnail is made on request);
* warm: twice more with the server's cache as the first visit left it.

Each visit is a fresh browser context (nothing in the browser's own cache).

Each reports the time from navigation until the first class is drawn (every visible tile's
thumbnail loaded: ``window.labelscoutReview.firstDrawnMs``, performance.now() since navigation
start). The two warm visits then wheel through the first class (5,314 airplanes with the
``aggre`` labels) from top to bottom, one at each speed:

* fast: 900 px wheel steps 16 ms apart (a whole screen of new tiles every step, ~6,000 px/s);
* reader: 100 px steps (one wheel notch) 100 ms apart, ~1,000 px/s (8 rows, ~90 new tiles
  a second: faster than anyone judges labels, as steady wheeling goes).

A stall is a long frame: one over 50 ms (requestAnimationFrame to requestAnimationFrame).
Each speed reports the frames, how many and what share are long, the longest, the long tasks,
the sprite-sheet requests and the share of frames with a tile on screen still without its
picture. ``--trace FILE`` also records a Chromium trace of one more fast wheel and puts the
renderer main thread's busiest work (self time) in the results. Saves a screenshot of one class.

    nice -n 10 python benchmarks/bench_review_open.py --images /path/to/cifar10 \
        --labels ../shared/data/cifar10/cifar10n_train_labels.csv --label-column aggre \
        --embeddings EMB --ids IDS --run /tmp/review-bench --out benchmarks/results/review-open.json \
        --screenshot docs/images/review-cifar10n.png --screenshot-class cat

EMB / IDS: the 50,000 training rows of a saved embeddings folder (``embeddings.npy`` plus its
ids), e.g. taken out of the 60,000 CIFAR-10 embeddings with a few lines of numpy.
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

FRAME_PROBE = """(() => { window.__frames = []; window.__blank = []; window.__long = []; let last = performance.now();
  new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__long.push(e.duration))).observe({ type: "longtask" });
  window.__sprites0 = performance.getEntriesByType("resource").filter((e) => e.name.includes("/sprite?")).length;
  const api = window.labelscoutReview;
  function tick(t) { window.__frames.push(t - last); last = t;
    window.__blank.push(api.blankInView ? api.blankInView() : -1);
    if (window.__probe) requestAnimationFrame(tick); }
  window.__probe = true; requestAnimationFrame(tick); })()"""
AT_END = "(() => { const g = document.getElementById('grid'); return g.scrollTop + g.clientHeight >= g.scrollHeight - 2; })()"
SPEEDS = {"fast": (900, 16), "reader": (100, 100)}  # wheel step in px, pause between steps in ms
LONG_FRAME_MS = 50


def wheel_through(page, step_px: int, pause_ms: int) -> dict:
    """Wheel the grid from the top to the bottom of the class; frame and work statistics."""
    page.evaluate("document.getElementById('grid').scrollTop = 0")
    page.wait_for_timeout(500)
    page.mouse.move(700, 500)
    page.evaluate(FRAME_PROBE)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    metrics0 = _cdp_metrics(cdp)
    api = "window.labelscoutReview"
    render_ms0, made0, renders0 = page.evaluate(f"[{api}.renderMs, {api}.tilesMade || 0, {api}.renders]")
    t = time.perf_counter()
    steps = 0
    while not page.evaluate(AT_END):
        page.mouse.wheel(0, step_px)
        page.wait_for_timeout(pause_ms)
        steps += 1
    seconds = time.perf_counter() - t
    page.wait_for_timeout(300)
    page.evaluate("window.__probe = false")
    metrics = {k: round(v - metrics0.get(k, 0), 3) for k, v in _cdp_metrics(cdp).items() if k in CDP_METRICS}
    cdp.detach()
    frames = page.evaluate("window.__frames")[1:]
    blank = page.evaluate("window.__blank")[1:]
    long_tasks = page.evaluate("window.__long")
    height = page.evaluate("document.getElementById('spacer').offsetHeight")
    long = [f for f in frames if f > LONG_FRAME_MS]
    return {"step_px": step_px, "pause_ms": pause_ms, "grid_height_px": height, "wheel_steps": steps,
            "seconds": round(seconds, 2), "px_per_s": round(height / seconds), "frames": len(frames),
            "median_frame_ms": round(sorted(frames)[len(frames) // 2], 1),
            "long_frames": len(long), "long_frame_share": round(len(long) / max(1, len(frames)), 4),
            "max_frame_ms": round(max(frames), 1), "long_frames_ms_total": round(sum(long), 1),
            "frames_with_blank_tile_share": round(sum(b > 0 for b in blank) / max(1, len(blank)), 3) if min(blank, default=0) >= 0 else None,
            "tiles_in_dom_at_end": page.evaluate(f"{api}.visibleTiles()"),
            "tiles_made": page.evaluate(f"{api}.tilesMade || 0") - made0,
            "long_tasks": len(long_tasks), "long_task_ms_total": round(sum(long_tasks), 1),
            "long_task_ms_max": round(max(long_tasks, default=0), 1),
            "sprite_requests": page.evaluate("performance.getEntriesByType('resource').filter((e) => e.name.includes('/sprite?')).length - window.__sprites0"),
            "renders": page.evaluate(f"{api}.renders") - renders0,
            "render_js_ms_total": round(page.evaluate(f"{api}.renderMs") - render_ms0, 1),
            "cdp_performance_metrics": metrics}


# Chromium's own counters over the scroll (CDP Performance.getMetrics; durations in seconds)
CDP_METRICS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "LayoutCount",
               "RecalcStyleCount", "Nodes", "Resources")


def _cdp_metrics(cdp) -> dict:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def main_thread_self_time(trace_file: str, top: int = 15) -> dict:
    """Self time (ms) of the busiest trace events on the renderer's main thread."""
    import collections

    events = json.loads(Path(trace_file).read_text())
    events = events.get("traceEvents", events) if isinstance(events, dict) else events
    main = {(e["pid"], e["tid"]) for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"
            and e.get("args", {}).get("name") == "CrRendererMain"}
    spans = sorted((e for e in events if e.get("ph") == "X" and "dur" in e and (e["pid"], e["tid"]) in main),
                   key=lambda e: (e["pid"], e["tid"], e["ts"], -e["dur"]))
    own: collections.Counter = collections.Counter()
    stack: list = []
    for e in spans:
        while stack and (stack[-1]["pid"], stack[-1]["tid"]) == (e["pid"], e["tid"]) and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
            stack.pop()
        if stack and (stack[-1]["pid"], stack[-1]["tid"]) != (e["pid"], e["tid"]):
            stack = []
        if stack:
            own[stack[-1]["name"]] -= e["dur"]
        own[e["name"]] += e["dur"]
        stack.append(e)
    return {"busy_ms": round(sum(own.values()) / 1000, 1),
            "top_self_ms": {k: round(v / 1000, 1) for k, v in own.most_common(top)}}


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
    ap.add_argument("--method", default="ensemble", help="misfit scores: ensemble (the default of `labelscout review`), knn, logistic")
    ap.add_argument("--trace", default=None, help="record a Chromium trace of one more fast wheel here")
    args = ap.parse_args()

    timings = {}
    for attempt in ("first", "reopen"):
        t = time.perf_counter()
        session = open_review(args.images, out=args.run, labels=args.labels, label_column=args.label_column,
                              embeddings=args.embeddings, ids=args.ids, method=args.method, progress=False)
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
               "first_class_size": int((session.misfits.given == 0).sum()), "timings": timings, "opens": [],
               "long_frame_ms": LONG_FRAME_MS, "scroll": {}}
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
                speed = next((k for k in SPEEDS if k not in results["scroll"]), None) if kind == "warm" else None
                if speed:
                    results["scroll"][speed] = wheel_through(page, *SPEEDS[speed])
                ctx.close()
            if args.trace:
                ctx = browser.new_context(viewport={"width": 1360, "height": 900})
                page = ctx.new_page()
                page.goto(server.url)
                page.wait_for_function("window.labelscoutReview && window.labelscoutReview.ready", timeout=60_000)
                browser.start_tracing(page=page, path=args.trace, categories=[
                    "devtools.timeline", "disabled-by-default-devtools.timeline", "blink", "cc", "loading", "toplevel", "v8"])
                traced = wheel_through(page, *SPEEDS["fast"])
                browser.stop_tracing()
                results["trace_fast_wheel"] = {"note": "tracing slows the page; compare with the untraced runs only in shares",
                                               "scroll": traced, "renderer_main": main_thread_self_time(args.trace)}
                ctx.close()
            if args.screenshot:
                ctx = browser.new_context(viewport={"width": 1360, "height": 900})
                page = ctx.new_page()
                page.goto(server.url.split("#")[0] + f"#class={args.screenshot_class}&view=misfit")
                page.wait_for_function("window.labelscoutReview && window.labelscoutReview.ready", timeout=60_000)
                page.wait_for_function(f"document.getElementById('class-name').textContent === {json.dumps(args.screenshot_class)}")
                page.wait_for_function("[...document.querySelectorAll('.tile:not([hidden]) .im')].every((im) => im.dataset.done)")
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
