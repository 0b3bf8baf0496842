"""Video benchmark: selecting frames from long 1080p video, against the decode floor and a naive loop.

What is measured, each in a fresh process (so peak memory is that run's own):

* ``floor``: the decode floor: one PyAV pass (``thread_type="AUTO"``, all cores) that
  decodes every frame and converts only the frames on the fps grid to model size with
  libswscale. Nothing can select frames faster on this CPU without decoding less.
* ``naive``: the loop a first script writes: decode every frame, ``to_image()`` at full
  resolution, PIL resize (measured on the first 20 s only; reported as frames/s).
* ``pipeline``: ``Embedder.embed`` on the video (labelscout: parallel segments, embedding
  overlapped with decoding), cache off, for several decoder thread counts.
* ``keyframes``: the same with ``keyframes_only=True``.
* ``select``: ``labelscout.select(video, n=N, out=...)`` end to end, writing the N selected
  frames at full resolution (jpg), cache off; then a rerun with the cache on (decodes nothing).
* ``memory``: peak RSS of the pipeline on a longer video and on several videos.

The model is a CIFAR ResNet-18 (the architecture of the built-in model) with seeded random
weights, used for timing only and never saved beside the package. Results go to
``.data/bench-video/results-<machine>.json`` and are printed as Markdown.

Run here (2 cores):  flock /tmp/labelscout-bench.lock python benchmarks/bench_video.py
On the GPU machine:  python benchmarks/bench_video.py --minutes 71 --device cuda --skip-naive
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _video_data import DATA, bench_video  # noqa: E402


def timing_model(width: int) -> str:
    folder = DATA / f"timing-model-cifar-resnet18-w{width}"
    if (folder / "model.json").is_file():
        return str(folder)
    import torch

    from labelscout.models.architectures import CifarResNet
    from labelscout.models.model_dir import ModelSpec, save_model_dir

    torch.manual_seed(0)
    cfg = {"width": width, "blocks": [2, 2, 2, 2], "out_dim": 8 * width}
    model = CifarResNet(**cfg)
    spec = ModelSpec(f"timing-cifar-resnet18-w{width}", "cifar_resnet", cfg, 32, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], 8 * width)
    return str(save_model_dir(folder, model, spec))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- one measurement (runs in a child process) ----------------------------------------------


def run_floor(cfg: dict) -> dict:
    import av

    from labelscout.sources.video_decode import DecodeSettings, to_model_input

    import av.video.reformatter as R

    settings = DecodeSettings(size=32, fps=cfg["fps"])
    t0 = time.perf_counter()
    n = kept = 0
    with av.open(cfg["video"]) as c:
        s = c.streams.video[0]
        s.codec_context.thread_type = "AUTO"
        s.codec_context.thread_count = os.cpu_count() or 1
        tb, last, ref = s.time_base, None, R.VideoReformatter()
        for f in c.decode(s):
            n += 1
            b = int(f.pts * tb * cfg["fps"])
            if b != last:
                to_model_input(f, settings, ref)
                kept += 1
                last = b
    dt = time.perf_counter() - t0
    return {"source_frames": n, "kept": kept, "wall_s": dt}


def run_naive(cfg: dict) -> dict:
    import av
    from PIL import Image

    t0 = time.perf_counter()
    n = 0
    with av.open(cfg["video"]) as c:
        s = c.streams.video[0]
        for f in c.decode(s):
            f.to_image().resize((57, 32), Image.BILINEAR)
            n += 1
            if f.time >= 20.0:
                break
    return {"source_frames": n, "wall_s": time.perf_counter() - t0, "video_s": 20.0}


def run_decode(cfg: dict) -> dict:
    """The decoder threads alone (no model): memory of decoding, without the model's batches."""
    from labelscout.sources.video_decode import DecodedVideo, DecodeSettings, SegmentDecoded, decode_videos

    t0 = time.perf_counter()
    n = src = 0
    dur = 0.0
    for ev in decode_videos([("v", cfg["video"])], DecodeSettings(size=32, fps=cfg["fps"]), workers=cfg.get("workers")):
        if isinstance(ev, SegmentDecoded):
            ev.result.frames = None
        elif isinstance(ev, DecodedVideo):
            n, src, dur = len(ev), ev.n_source_frames, ev.info.duration_s or 0.0
    return {"wall_s": time.perf_counter() - t0, "samples": n, "source_frames": src, "video_s": dur}


def run_pipeline(cfg: dict) -> dict:
    from labelscout.embed.embedder import Embedder
    from labelscout.sources.video import VideoOptions

    emb = Embedder(cfg["model"], device=cfg["device"], cache_dir=None, progress=False, workers=cfg.get("workers"),
                   video=VideoOptions(fps=cfg["fps"], keyframes_only=cfg.get("keyframes_only", False)))
    emb.loaded  # noqa: B018 - load the model outside the timed part
    t0 = time.perf_counter()
    res = emb.embed(cfg["video"])
    dt = time.perf_counter() - t0
    s = res.stats
    return {"wall_s": dt, "samples": s["samples"], "source_frames": s["video_source_frames_decoded"],
            "video_s": s["video_seconds_decoded"], "embed_s": s["video_embed_s"], "skipped": len(res.skipped)}


def run_select(cfg: dict) -> dict:
    from labelscout import select

    out = Path(tempfile.mkdtemp(prefix="bench-select-"))
    cache = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    try:
        t0 = time.perf_counter()
        r = select(cfg["video"], cfg["n"], out=out, model=cfg["model"], device=cfg["device"], fps=cfg["fps"],
                   cache_dir=cache, progress=False)
        first = time.perf_counter() - t0
        rec = r.record.to_json()
        t0 = time.perf_counter()
        # the same command again: embeddings from the cache, frames already written are kept
        r2 = select(cfg["video"], cfg["n"], out=out, model=cfg["model"], device=cfg["device"], fps=cfg["fps"],
                    cache_dir=cache, progress=False)
        rerun = time.perf_counter() - t0
        rec2 = r2.record.to_json()
        return {"wall_s": first, "timings": rec["timings_s"], "frames_written": rec["counts"].get("frames_written"),
                "pool": rec["counts"]["pool"], "video_s": rec["embedding"]["video_seconds_decoded"],
                "rerun_s": rerun, "rerun_videos_decoded": rec2["embedding"]["videos_decoded"],
                "rerun_timings": rec2["timings_s"]}
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)


def run_many(cfg: dict) -> dict:
    """Pipeline over a folder holding ``copies`` links to the video."""
    folder = Path(tempfile.mkdtemp(prefix="bench-many-"))
    try:
        for i in range(cfg["copies"]):
            os.symlink(cfg["video"], folder / f"v{i:03d}.mp4")
        return run_pipeline({**cfg, "video": str(folder)})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


KINDS = {"decode": run_decode, "floor": run_floor, "naive": run_naive, "pipeline": run_pipeline, "select": run_select, "many": run_many}


def child(cfg: dict) -> None:
    cpu0 = _cpu_s()
    out = KINDS[cfg["kind"]](cfg)
    out["cpu_s"] = round(_cpu_s() - cpu0, 2)
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    print("RESULT " + json.dumps(out))


def measure(cfg: dict) -> dict:
    load_before = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)], capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"{cfg['kind']} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    res = json.loads(line[7:])
    res["load_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(f"  {cfg.get('label', cfg['kind'])}: {json.dumps(res)}", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--minutes", type=float, default=2.0, help="length of the benchmark video (built by remuxing)")
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--n", type=int, default=1000, help="frames to select in the end-to-end run (at most half the pool)")
    ap.add_argument("--width", type=int, default=16, help="width of the CIFAR ResNet-18 timing model (64: the full-width one)")
    ap.add_argument("--compare-width", type=int, default=64, help="also time the pipeline with this width (0: skip)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", default="0,1,auto", help="decoder thread counts to compare (auto = one per core)")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--memory-minutes", type=float, default=6.0, help="longer video for the memory check (0: skip)")
    ap.add_argument("--copies", type=int, default=4, help="videos in the many-videos memory check (0: skip)")
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return

    video = str(bench_video(args.minutes))
    model = timing_model(args.width)
    import av

    with av.open(video) as c:
        s = c.streams.video[0]
        duration = float(s.duration * s.time_base)
        info = {"path": video, "duration_s": duration, "width": s.codec_context.width, "height": s.codec_context.height,
                "codec": s.codec_context.name, "fps": float(s.average_rate), "mbit_s": round(os.path.getsize(video) * 8 / duration / 1e6, 2)}
    machine = {"cpu_count": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
               "load_avg_before": os.getloadavg()}
    try:
        import torch

        machine["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:
        machine["gpu"] = None
    print(f"video: {info}\nmachine: {machine}", flush=True)
    base = {"video": video, "model": model, "device": args.device, "fps": args.fps}
    results: dict = {"video": info, "machine": machine, "args": vars(args), "runs": {}}
    R = results["runs"]
    R["floor"] = measure({**base, "kind": "floor"})
    if not args.skip_naive:
        R["naive"] = measure({**base, "kind": "naive"})
    for w in args.workers.split(","):
        workers = None if w == "auto" else int(w)
        R[f"pipeline_workers_{w}"] = measure({**base, "kind": "pipeline", "workers": workers, "label": f"pipeline workers={w}"})
    if args.compare_width:
        R["pipeline_width_cmp"] = measure({**base, "model": timing_model(args.compare_width), "kind": "pipeline",
                                           "label": f"pipeline width={args.compare_width}"})
    R["keyframes_only"] = measure({**base, "kind": "pipeline", "keyframes_only": True, "label": "keyframes only"})
    n_select = min(args.n, int(duration * args.fps) // 2)
    results["args"]["n"] = n_select
    R["select"] = measure({**base, "kind": "select", "n": n_select})
    R["decode_only"] = measure({**base, "kind": "decode", "label": "decode only"})
    if args.memory_minutes:
        long_video = str(bench_video(args.memory_minutes))
        R["memory_long"] = measure({**base, "kind": "pipeline", "video": long_video, "label": f"pipeline {args.memory_minutes:g} min"})
        R["memory_long_decode"] = measure({**base, "kind": "decode", "video": long_video, "label": f"decode only {args.memory_minutes:g} min"})
    if args.copies:
        R["memory_many"] = measure({**base, "kind": "many", "copies": args.copies, "label": f"pipeline {args.copies} videos"})
    machine["load_avg_after"] = os.getloadavg()
    tag = "gpu" if machine["gpu"] else f"cpu{os.cpu_count()}"
    out = DATA / f"results-{tag}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}\n")
    print(markdown(results))


def markdown(results: dict) -> str:
    info, R = results["video"], results["runs"]
    dur = info["duration_s"]
    fps = info["fps"]
    rows = ["| run | wall s | source frames/s | x real time | CPU s | peak RSS MB | load (1-min avg, before/after) | notes |",
            "|---|---|---|---|---|---|---|---|"]

    def row(name, r, video_s=None, note=""):
        vs = video_s if video_s is not None else r.get("video_s") or dur
        frames = r.get("source_frames") or vs * fps
        load = "/".join(f"{x:.1f}" for x in r.get("load_1min", []))
        rows.append(f"| {name} | {r['wall_s']:.1f} | {frames / r['wall_s']:.0f} | {vs / r['wall_s']:.2f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} | {load} | {note} |")

    row("decode floor (one PyAV pass, all cores, convert kept frames only)", R["floor"], dur, f"{R['floor']['kept']} frames kept")
    if "naive" in R:
        row("naive loop (to_image + PIL resize every frame; first 20 s)", R["naive"], R["naive"]["video_s"])
    for k, r in R.items():
        if k.startswith("pipeline_workers_"):
            row(f"labelscout embed, decoder threads={k.rsplit('_', 1)[1]}", r, note=f"{r['samples']} samples, embed {r['embed_s']:.1f} s, model width {results['args']['width']}")
    if "pipeline_width_cmp" in R:
        r = R["pipeline_width_cmp"]
        row(f"labelscout embed, decoder threads=auto, model width {results['args']['compare_width']}", r, note=f"embed {r['embed_s']:.1f} s")
    row("labelscout embed, keyframes only", R["keyframes_only"], note=f"{R['keyframes_only']['samples']} samples")
    s = R["select"]
    row(f"labelscout select -n {results['args']['n']} (+ write frames)", s,
        note=f"write_frames {s['timings'].get('write_frames', 0):.1f} s; rerun {s['rerun_s']:.1f} s, {s['rerun_videos_decoded']} videos decoded")
    row("labelscout decoder threads alone (no model)", R["decode_only"], note="memory baseline")
    if "memory_long" in R:
        row(f"labelscout embed, {results['args']['memory_minutes']:g}-min video (memory)", R["memory_long"])
        row(f"labelscout decoder threads alone, {results['args']['memory_minutes']:g}-min video (memory)", R["memory_long_decode"])
    if "memory_many" in R:
        row(f"labelscout embed, {results['args']['copies']} videos (memory)", R["memory_many"])
    return "\n".join(rows)


if __name__ == "__main__":
    main()
