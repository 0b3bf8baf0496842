"""Helpers for the service tests: tiny real datasets, reachability of Redis / PostgreSQL,
a client that waits for jobs, worker processes."""
from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "cifar10-sample"  # real CIFAR-10 JPEGs shipped in the repository
REDIS_URL = os.environ.get("LABELSCOUT_TEST_REDIS", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get("LABELSCOUT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def sample_images(n: int, skip: int = 0) -> list[Path]:
    """``n`` real JPEGs (after the first ``skip``), taken round-robin from the sample's class
    folders (stable order)."""
    classes = sorted(p for p in SAMPLE.iterdir() if p.is_dir())
    per_class = [sorted(c.glob("*.jpg")) for c in classes]
    out, i = [], 0
    while len(out) < n + skip and i < max(map(len, per_class)):
        for files in per_class:
            if i < len(files) and len(out) < n + skip:
                out.append(files[i])
        i += 1
    return out[skip:]


def images_zip(n: int, extra: dict[str, bytes] | None = None, skip: int = 0) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sample_images(n, skip):
            z.write(p, p.relative_to(SAMPLE).as_posix())
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def copy_images(n: int, dest: Path, skip: int = 0) -> Path:
    for p in sample_images(n, skip):
        target = dest / p.relative_to(SAMPLE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(p.read_bytes())
    return dest


def reachable(url: str, default_port: int) -> str | None:
    """None when ``url``'s server accepts TCP connections, else why not."""
    from urllib.parse import urlparse

    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or default_port), timeout=1):
            return None
    except OSError as exc:
        return f"{url} is unreachable ({exc}); start the server to run this test"


def postgres_schema_url() -> tuple[str, str]:
    """A URL whose search_path is a fresh schema, so each test run has its own tables."""
    import sqlalchemy as sa

    schema = f"ls_test_{uuid.uuid4().hex[:10]}"
    eng = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA {schema}"))
    eng.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}", schema


def drop_postgres_schema(schema: str) -> None:
    import sqlalchemy as sa

    eng = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as c:
        c.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    eng.dispose()


def wait_job(client, headers: dict, job_id: str, timeout: float = 120, until=("succeeded", "failed", "cancelled")) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in until:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s: {job}")
        time.sleep(0.2)


def start_worker(name: str, data_dir: Path, broker: str, database: str, env_extra: dict | None = None,
                 log: Path | None = None) -> subprocess.Popen:
    """A real ``labelscout worker`` process (its own process group, so kill -9 takes all of it)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env_extra or {})}
    out = open(log, "wb") if log else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "labelscout", "worker", "--broker", broker, "--data-dir", str(data_dir),
         "--database", database, "--queues", "cpu", "--name", f"{name}@%h"],
        env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_process(data_dir, port, log, *args: str) -> subprocess.Popen:
    """A real ``labelscout serve`` process (its own process group), once it answers health checks."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "LABELSCOUT_HEARTBEAT_S": "0.5"}
    p = subprocess.Popen([sys.executable, "-m", "labelscout", "serve", "--data-dir", str(data_dir), "--port", str(port),
                          "--workers", "1", "--shard-size", "8", *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return p
        except httpx.TransportError:
            time.sleep(0.2)
    p.kill()
    raise AssertionError(f"the server did not come up: {open(log.name).read()[-2000:]}")


def same_as_single_run(served, single) -> None:
    """Sharded results must equal the single-process run exactly: vectors bit for bit, the
    selection id for id (any batching gives the same vectors; tests/embed/test_batch_invariance.py)."""
    import numpy as np

    if hasattr(served, "shape") or hasattr(single, "shape"):
        served, single = np.asarray(served), np.asarray(single)
        assert served.shape == single.shape, (served.shape, single.shape)
        diff = np.abs(served.astype(np.float64) - single).max(axis=1)
        assert np.array_equal(served, single), f"rows that differ: {np.flatnonzero(diff).tolist()}, max |diff| {diff.max()}"
    else:
        assert list(served) == list(single), f"served {list(served)} != single run {list(single)}"
