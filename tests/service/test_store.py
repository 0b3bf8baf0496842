"""The job store on SQLite and on a real PostgreSQL: migrations give the declared schema,
and each state change wins exactly once however many callers race for it."""
from __future__ import annotations

import threading
import time

import pytest

from _service import PG_URL, drop_postgres_schema, postgres_schema_url, reachable


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    from labelscout.service.store import JobStore, sqlite_url

    if request.param == "sqlite":
        s = JobStore(sqlite_url(tmp_path))
        yield s
        s.dispose()
        return
    why = reachable(PG_URL, 5432)
    if why:
        pytest.skip(why)
    url, schema = postgres_schema_url()
    s = JobStore(url)
    yield s
    s.dispose()
    drop_postgres_schema(schema)


def test_migrations_create_exactly_the_declared_schema(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from labelscout.service.schema import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], diff
        assert MigrationContext.configure(conn).get_current_revision() == "0002"
    store.migrate()  # a second upgrade is a no-op


def test_tokens_are_stored_hashed(store):
    import sqlalchemy as sa

    from labelscout.service.schema import tokens

    token = store.create_token("ci")
    assert store.token_id(token) is not None and store.token_id(token + "x") is None
    with store.engine.connect() as c:
        stored = c.execute(sa.select(tokens.c.token_hash)).scalars().all()
    assert token not in stored and len(stored[0]) == 64


@pytest.mark.parametrize("callers", [2, 8])
def test_racing_callers_win_each_step_once(store, callers):
    job, _ = store.create_job("select", "d", {"n": 1}, [("shard-0000", {}), ("shard-0001", {}), ("final", {})])
    results: dict[str, list] = {"start": [], "finish": [], "release": [], "cancel": []}
    barrier = threading.Barrier(callers)

    def race(step, fn):
        barrier.wait()
        results[step].append(fn())

    for step, fn in [("start", lambda: store.start_task(job["id"], "shard-0000", "w")),
                     ("finish", lambda: store.finish_task(job["id"], "shard-0000", 1.0))]:
        threads = [threading.Thread(target=race, args=(step, fn)) for _ in range(callers)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    assert results["finish"].count(True) == 1
    assert store.release_final(job["id"]) is False  # shard-0001 is not done
    store.start_task(job["id"], "shard-0001", "w")
    store.finish_task(job["id"], "shard-0001", 1.0)
    threads = [threading.Thread(target=race, args=("release", lambda: store.release_final(job["id"]))) for _ in range(callers)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results["release"].count(True) == 1  # the final task is submitted exactly once
    threads = [threading.Thread(target=race, args=("cancel", lambda: store.cancel_job(job["id"]))) for _ in range(callers)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results["cancel"].count(True) == 1
    assert store.start_task(job["id"], "final", "w") is None  # a cancelled job starts nothing


def test_idempotency_key_race_creates_one_job(store):
    got, barrier = [], threading.Barrier(6)

    def submit():
        barrier.wait()
        got.append(store.create_job("embed", "d", {}, [("final", {})], token_id="t", idempotency_key="same"))

    threads = [threading.Thread(target=submit) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len({j["id"] for j, _ in got}) == 1 and [c for _, c in got].count(True) == 1
    assert sum(store.count_jobs().values()) == 1


def test_reaper_requeues_a_lost_task_then_fails_the_job_after_its_attempts(store, tmp_path):
    from labelscout.service.settings import ServiceSettings
    from labelscout.service.tasks import reap

    settings = ServiceSettings(data_dir=tmp_path, stale_after_s=0.2, max_attempts=2)
    job, _ = store.create_job("embed", "d", {}, [("final", {})])
    submitted = []
    for attempt in (1, 2):
        assert store.start_task(job["id"], "final", f"host:{attempt}:t") == attempt
        time.sleep(0.3)  # its worker died: no heartbeat
        assert reap(settings, store, lambda j, n: submitted.append((j, n))) == [(job["id"], "final")]
    assert submitted == [(job["id"], "final")]  # requeued once, then out of attempts
    failed = store.job(job["id"])
    assert failed["status"] == "failed" and "lost 2 times" in failed["error"] and "host:2:t" in failed["error"]
    assert failed["hint"]
