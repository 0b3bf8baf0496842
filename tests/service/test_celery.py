"""The service on real Celery worker processes, a real Redis broker and a real PostgreSQL
job store: the same results as one process, and a worker killed with kill -9 mid-shard."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import numpy as np
import pytest

from _service import (PG_URL, REDIS_URL, copy_images, drop_postgres_schema, images_zip, postgres_schema_url, reachable,
                      same_as_single_run, start_worker, wait_job)

API = "/api/v1"
BROKER = REDIS_URL.rsplit("/", 1)[0] + "/13"  # a database of its own, emptied before the run

_why = reachable(REDIS_URL, 6379) or reachable(PG_URL, 5432)
pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.skipif(_why is not None, reason=_why or "")]

WORKER_ENV = {"LABELSCOUT_HEARTBEAT_S": "0.5", "LABELSCOUT_PROGRESS": "0"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    import redis
    from fastapi.testclient import TestClient

    from labelscout.service import ServiceSettings, create_app
    from labelscout.service.store import JobStore

    redis.Redis.from_url(BROKER).flushdb()  # messages left by an earlier, interrupted run
    db_url, schema = postgres_schema_url()
    data_dir = tmp_path_factory.mktemp("cluster")
    logs = tmp_path_factory.mktemp("logs")
    settings = ServiceSettings(data_dir=data_dir, broker_url=BROKER, database_url=db_url, shard_size=8,
                               heartbeat_s=0.5, stale_after_s=4, max_attempts=3)
    token = JobStore(db_url).create_token("tests")
    workers: dict[str, subprocess.Popen] = {}

    def add_worker(name: str) -> subprocess.Popen:
        workers[name] = start_worker(name, data_dir, BROKER, db_url, WORKER_ENV, log=logs / f"{name}.log")
        return workers[name]

    add_worker("w1")
    add_worker("w2")
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            _wait_for_workers(app.state.executor.app, 2)
            yield {"client": client, "headers": {"Authorization": f"Bearer {token}"}, "settings": settings,
                   "workers": workers, "add_worker": add_worker, "logs": logs, "app": app}
    finally:
        for p in workers.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in workers.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        drop_postgres_schema(schema)


def _wait_for_workers(celery_app, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(celery_app.control.ping(timeout=1.0)) >= n:
            return
    raise AssertionError(f"fewer than {n} Celery workers answered within {timeout} s")


@pytest.fixture(scope="module")
def cluster_dataset(cluster):
    r = cluster["client"].post(f"{API}/datasets", headers=cluster["headers"],
                               files=[("file", ("images.zip", images_zip(32), "application/zip"))])
    assert r.status_code == 201, r.text
    return r.json()


SELECT = {"n": 6, "batch_size": 8, "report": False}


@pytest.fixture(scope="module")
def undisturbed(cluster, cluster_dataset):
    """A select job on the two workers, nothing killed."""
    c, h = cluster["client"], cluster["headers"]
    job = c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": cluster_dataset["id"], "params": SELECT}).json()
    done = wait_job(c, h, job["id"], timeout=180)
    assert done["status"] == "succeeded", done
    return done


def test_celery_select_equals_the_library_run(cluster, undisturbed, tmp_path):
    import labelscout

    c, h = cluster["client"], cluster["headers"]
    assert c.get(f"{API}/health").json() == {**c.get(f"{API}/health").json(), "executor": "celery", "database": "postgresql"}
    assert undisturbed["progress"]["embed"]["total"] == 4
    served = c.get(f"{API}/jobs/{undisturbed['id']}/files/selection.txt", headers=h).text.split()
    ref = labelscout.select(copy_images(32, tmp_path / "imgs"), 6, batch_size=8, cache_dir=None, report=False, progress=False)
    same_as_single_run(served, ref.selection.ids)
    assert all(t["worker"] and t["attempts"] == 1 for t in undisturbed["tasks"])


def test_celery_fisher_match_with_a_validation_dataset_equals_the_library_run(cluster, cluster_dataset, tmp_path):
    """Active learning on the workers: fisher-match with the validation images as a dataset of
    their own (resolved by the worker that runs the final task) and the head trained on the
    excluded (already labeled) ids' class folders picks what the library picks in one process."""
    import labelscout

    c, h = cluster["client"], cluster["headers"]
    val = c.post(f"{API}/datasets", headers=h, files=[("file", ("val.zip", images_zip(20, skip=32), "application/zip"))])
    assert val.status_code == 201, val.text
    ids = sorted(c.get(f"{API}/datasets/{cluster_dataset['id']}", headers=h).json()["files"])
    candidates = ids[:20]  # the other 12 are labeled (excluded: the head trains on them, they are never picked)
    params = {"n": 4, "strategy": "fisher-match", "validation": val.json()["id"], "labels": "folders",
              "exclude": ids[20:], "batch_size": 8, "report": False}
    job = c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": cluster_dataset["id"], "params": params})
    assert job.status_code == 201, job.text
    done = wait_job(c, h, job.json()["id"], timeout=180)
    assert done["status"] == "succeeded", done
    served = c.get(f"{API}/jobs/{done['id']}/files/selection.txt", headers=h).text.split()
    ref = labelscout.select(copy_images(32, tmp_path / "imgs"), 4, strategy="fisher-match", labels="folders",
                            exclude=ids[20:], validation=copy_images(20, tmp_path / "val", skip=32), batch_size=8,
                            cache_dir=None, report=False, progress=False)
    same_as_single_run(served, ref.selection.ids)
    assert set(served) <= set(candidates)


def test_worker_killed_mid_shard_the_job_succeeds_elsewhere_with_the_same_selection(cluster, tmp_path):
    import labelscout

    c, h, workers = cluster["client"], cluster["headers"], cluster["workers"]
    # images no earlier job embedded (the content cache would make every shard instant), and
    # one image per batch so that a shard lasts long enough to be hit
    r = c.post(f"{API}/datasets", headers=h, files=[("file", ("more.zip", images_zip(24, skip=32), "application/zip"))])
    job = c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": r.json()["id"],
                                                 "params": {**SELECT, "batch_size": 1}}).json()
    victim_task, victim = None, None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        view = c.get(f"{API}/jobs/{job['id']}", headers=h).json()
        for t in view["tasks"]:
            if t["name"].startswith("shard") and t["status"] == "running" and t["worker"]:
                victim = next((p for p in workers.values() if p.pid == int(t["worker"].split(":")[1])), None)
                victim_task = t["name"]
                break
        time.sleep(0.05)
    assert victim is not None, f"no shard was seen running: {view}"
    os.killpg(victim.pid, signal.SIGKILL)  # the worker and its task process, mid-shard
    victim.wait(10)
    killed_at = c.get(f"{API}/jobs/{job['id']}", headers=h).json()
    assert next(t for t in killed_at["tasks"] if t["name"] == victim_task)["status"] == "running", killed_at
    done = wait_job(c, h, job["id"], timeout=180)
    assert done["status"] == "succeeded", done
    redone = next(t for t in done["tasks"] if t["name"] == victim_task)
    assert redone["attempts"] == 2 and redone["worker"].split(":")[1] != str(victim.pid), redone
    served = c.get(f"{API}/jobs/{job['id']}/files/selection.txt", headers=h).text.split()
    undisturbed = labelscout.select(copy_images(24, tmp_path / "imgs", skip=32), 6, batch_size=1, cache_dir=None,
                                    report=False, progress=False)
    cluster["add_worker"](next(k for k, p in workers.items() if p is victim) + "b")
    _wait_for_workers(cluster["app"].state.executor.app, 2)
    same_as_single_run(served, undisturbed.selection.ids)


def test_sharded_embedding_equals_labelscout_embed(cluster, cluster_dataset, tmp_path, capsys):
    from _cli import run_cli

    c, h = cluster["client"], cluster["headers"]
    job = c.post(f"{API}/jobs", headers=h, json={"kind": "embed", "dataset": cluster_dataset["id"],
                                                 "params": {"batch_size": 8}}).json()
    done = wait_job(c, h, job["id"], timeout=180)
    assert done["status"] == "succeeded" and done["progress"]["embed"]["total"] == 4, done
    code, _, err = run_cli(["embed", copy_images(32, tmp_path / "imgs"), "--out", tmp_path / "run", "--no-cache",
                            "--batch-size", "8"], capsys)
    assert code == 0, err
    served = np.load(cluster["settings"].job_dir(job["id"]) / "out" / "embeddings" / "embeddings.npy")
    single = np.load(tmp_path / "run" / "embeddings" / "embeddings.npy")
    assert served.dtype == single.dtype
    same_as_single_run(served, single)  # bit-identical


def test_cancel_stops_a_running_task_on_a_worker(cluster, cluster_dataset):
    c, h = cluster["client"], cluster["headers"]
    r = c.post(f"{API}/datasets", headers=h, files=[("file", ("c.zip", images_zip(16, skip=64), "application/zip"))])
    job = c.post(f"{API}/jobs", headers=h, json={"kind": "inspect", "dataset": r.json()["id"], "params": {"batch_size": 1}}).json()
    running = wait_job(c, h, job["id"], until=("running", "succeeded", "failed"))
    assert running["status"] == "running", running
    assert c.delete(f"{API}/jobs/{job['id']}", headers=h).json()["status"] == "cancelled"
    # the workers stopped its task processes and are free: a new job (vectors cached) runs at once
    t0 = time.monotonic()
    quick = c.post(f"{API}/jobs", headers=h, json={"kind": "embed", "dataset": cluster_dataset["id"], "params": {"batch_size": 8}}).json()
    assert wait_job(c, h, quick["id"], timeout=120)["status"] == "succeeded"
    after = c.get(f"{API}/jobs/{job['id']}", headers=h).json()
    assert after["status"] == "cancelled" and not any(t["status"] == "done" and t["name"] == "final" for t in after["tasks"])
    assert "issues.csv" not in c.get(f"{API}/jobs/{job['id']}/files", headers=h).json()["files"]
    assert time.monotonic() - t0 < 120
