"""Job service benchmarks on loopback: a bounded load test and sharded embedding.

1. Load: a real ``labelscout serve`` (uvicorn) with ``--broker`` Redis and ``--database``
   PostgreSQL, ``--workers-procs`` real ``labelscout worker`` processes; ``--clients``
   concurrent clients each upload their own slice of real CIFAR-10 JPEGs, start a select
   job (and retry the submission with the same Idempotency-Key), and poll it to the end.
   Every job must be accounted for: each client's job id listed exactly once, every one
   succeeded, retries returned the same id. Reports p50 / p95 latency per call and jobs/min.
2. Shards: one embed job over ``--shard-images`` images with 1 worker, then 2 workers
   (fresh data dir, so a fresh cache, each time); both must equal ``labelscout embed``
   bit for bit; reports the wall time of each and the speed-up.

    python benchmarks/bench_service.py --cifar /work/exchange/cifar10 --out benchmarks/results/service-cpu2.json
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
API = "/api/v1"


def _env(extra: dict | None = None) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), "LABELSCOUT_PROGRESS": "0", **(extra or {})}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A server process and N worker processes on one data dir, Redis db and PG schema."""

    def __init__(self, data_dir: Path, broker: str, pg: str, workers: int, shard_size: int):
        import sqlalchemy as sa

        self.schema = f"ls_bench_{uuid.uuid4().hex[:8]}"
        self.pg = pg
        eng = sa.create_engine(pg.replace("postgresql://", "postgresql+psycopg://"))
        with eng.begin() as c:
            c.execute(sa.text(f"CREATE SCHEMA {self.schema}"))
        eng.dispose()
        import redis

        redis.Redis.from_url(broker).flushdb()
        self.db = f"{pg}?options=-csearch_path%3D{self.schema}"
        self.data_dir, self.port = data_dir, _free_port()
        common = ["--data-dir", str(data_dir), "--broker", broker, "--database", self.db]
        made = subprocess.run([sys.executable, "-m", "labelscout", "serve", *common, "--create-token"], env=_env(),
                              capture_output=True, text=True, check=True)
        self.token = made.stdout.strip().splitlines()[-1]
        self.logs = open(data_dir / "processes.log", "ab")
        self.procs = [subprocess.Popen([sys.executable, "-m", "labelscout", "worker", *common, "-n", f"w{i}@%h"], env=_env(),
                                       stdout=self.logs, stderr=subprocess.STDOUT, start_new_session=True)
                      for i in range(workers)]
        self.procs.append(subprocess.Popen([sys.executable, "-m", "labelscout", "serve", *common, "--port", str(self.port),
                                            "--shard-size", str(shard_size)], env=_env(), stdout=self.logs,
                                           stderr=subprocess.STDOUT, start_new_session=True))
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"Bearer {self.token}"}
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}{API}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.3)
        from celery import Celery

        app = Celery(broker=broker)
        while len(app.control.ping(timeout=1.0)) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not start")

    def close(self) -> None:
        import sqlalchemy as sa

        for p in self.procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        eng = sa.create_engine(self.pg.replace("postgresql://", "postgresql+psycopg://"))
        with eng.begin() as c:
            c.execute(sa.text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
        eng.dispose()


def _cifar_files(cifar: Path, n: int) -> list[Path]:
    files = sorted((cifar / "test").rglob("*.jpg"))
    return files[:: max(1, len(files) // n)][:n]


def _zip(files: list[Path], root: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in files:
            z.write(f, f.relative_to(root).as_posix())
    return buf.getvalue()


def load_test(args, tmp: Path) -> dict:
    cluster = Cluster(tmp / "load", args.broker, args.postgres, args.workers, shard_size=256)
    files = _cifar_files(args.cifar, args.clients * args.images_per_client)
    latencies: dict[str, list[float]] = {"upload": [], "submit": [], "retry": [], "poll": []}
    results, errors, lock = [], [], threading.Lock()

    def timed(kind, fn):
        t = time.perf_counter()
        r = fn()
        with lock:
            latencies[kind].append(time.perf_counter() - t)
        return r

    def client(i: int) -> None:
        try:
            with httpx.Client(base_url=cluster.url, headers=cluster.headers, timeout=120) as c:
                mine = files[i * args.images_per_client:(i + 1) * args.images_per_client]
                ds = timed("upload", lambda: c.post(f"{API}/datasets", files=[("file", ("c.zip", _zip(mine, args.cifar / "test")))]))
                ds.raise_for_status()
                key = f"client-{i}-{uuid.uuid4().hex}"
                body = {"kind": "select", "dataset": ds.json()["id"], "params": {"n": 5, "report": False, "batch_size": 32}}
                job = timed("submit", lambda: c.post(f"{API}/jobs", json=body, headers={"Idempotency-Key": key}))
                job.raise_for_status()
                again = timed("retry", lambda: c.post(f"{API}/jobs", json=body, headers={"Idempotency-Key": key}))
                while True:
                    view = timed("poll", lambda: c.get(f"{API}/jobs/{job.json()['id']}")).json()
                    if view["status"] in ("succeeded", "failed", "cancelled"):
                        break
                    time.sleep(0.5)
                with lock:
                    results.append({"client": i, "job": job.json()["id"], "retry_same": again.json()["id"] == job.json()["id"],
                                    "status": view["status"], "error": view["error"]})
        except Exception as exc:  # recorded: a lost client is a result too
            with lock:
                errors.append(f"client {i}: {type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    [t.start() for t in threads]
    [t.join(args.timeout) for t in threads]
    wall = time.perf_counter() - t0
    listed = httpx.get(f"{cluster.url}{API}/jobs", headers=cluster.headers, params={"limit": 1000}).json()
    cluster.close()
    ids = [r["job"] for r in results]
    listed_ids = [j["id"] for j in listed["jobs"]]
    pct = lambda xs, q: round(float(np.percentile(xs, q)) * 1000, 1) if xs else None  # noqa: E731
    return {
        "clients": args.clients, "workers": args.workers, "images_per_client": args.images_per_client,
        "jobs_submitted": len(ids), "jobs_listed": len(listed_ids), "jobs_unique": len(set(listed_ids)),
        "every_job_accounted_for": sorted(ids) == sorted(listed_ids) and len(set(ids)) == args.clients,
        "retries_returned_same_job": all(r["retry_same"] for r in results),
        "succeeded": sum(r["status"] == "succeeded" for r in results), "failed": [r for r in results if r["status"] != "succeeded"],
        "client_errors": errors, "wall_s": round(wall, 1), "jobs_per_min": round(len(ids) / wall * 60, 1),
        "latency_ms": {k: {"n": len(v), "p50": pct(v, 50), "p95": pct(v, 95)} for k, v in latencies.items()},
    }


def shard_test(args, tmp: Path) -> dict:
    files = _cifar_files(args.cifar, args.shard_images)
    src = tmp / "shard-images"
    for f in files:
        dest = src / f.relative_to(args.cifar / "test")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(f.read_bytes())
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "labelscout", "-q", "embed", str(src), "--out", str(tmp / "single"), "--no-cache",
                    "--batch-size", "64"], env=_env(), check=True)
    single_s = time.perf_counter() - t
    single = np.load(tmp / "single" / "embeddings" / "embeddings.npy")
    out = {"images": len(files), "shard_size": args.shard_size, "single_process_cli_s": round(single_s, 1)}
    for workers in (1, 2):
        cluster = Cluster(tmp / f"shards-{workers}", args.broker, args.postgres, workers, shard_size=args.shard_size)
        with httpx.Client(base_url=cluster.url, headers=cluster.headers, timeout=600) as c:
            ds = c.post(f"{API}/datasets", files=[("file", ("s.zip", _zip(files, args.cifar / "test")))])
            t = time.perf_counter()
            job = c.post(f"{API}/jobs", json={"kind": "embed", "dataset": ds.json()["id"], "params": {"batch_size": 64}}).json()
            while (view := c.get(f"{API}/jobs/{job['id']}").json())["status"] not in ("succeeded", "failed", "cancelled"):
                time.sleep(0.2)
            wall = time.perf_counter() - t
        vecs = np.load(cluster.data_dir / "jobs" / job["id"] / "out" / "embeddings" / "embeddings.npy")
        cluster.close()
        out[f"workers_{workers}"] = {"status": view["status"], "wall_s": round(wall, 1), "shards": view["progress"]["embed"]["total"],
                                     "bit_identical_to_cli": bool(np.array_equal(vecs, single))}
    out["speedup_2_over_1"] = round(out["workers_1"]["wall_s"] / out["workers_2"]["wall_s"], 2)
    return out


def _runtime() -> str:
    """The runtime the default model runs on here (ONNX Runtime or torch)."""
    sys.path.insert(0, str(REPO / "src"))
    from labelscout.embed.embedder import Embedder

    return Embedder(device="cpu", cache_dir=None, progress=False).runtime_name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cifar", type=Path, required=True, help="CIFAR-10 JPEG folder with test/<class>/*.jpg")
    ap.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--images-per-client", type=int, default=16)
    ap.add_argument("--shard-images", type=int, default=2048)
    ap.add_argument("--shard-size", type=int, default=256)
    ap.add_argument("--timeout", type=float, default=600, help="seconds each client may take")
    ap.add_argument("--skip", choices=["load", "shards"], action="append", default=[])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    flags = next((ln.split(":", 1)[1].split() for ln in open("/proc/cpuinfo") if ln.startswith("flags")), [])
    result = {"command": " ".join(sys.argv), "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
              "avx512f": "avx512f" in flags, "avx2": "avx2" in flags,
              "cpu_flags": sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "f16c", "sse4"))),
              "cpu_model": next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), ""),
              "default_model_runtime": _runtime(), "loadavg_start": os.getloadavg()}}
    with tempfile.TemporaryDirectory() as tmp:
        if "load" not in args.skip:
            result["load"] = load_test(args, Path(tmp))
            print(json.dumps(result["load"], indent=1), flush=True)
        if "shards" not in args.skip:
            result["shards"] = shard_test(args, Path(tmp))
            print(json.dumps(result["shards"], indent=1), flush=True)
    result["machine"]["loadavg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
