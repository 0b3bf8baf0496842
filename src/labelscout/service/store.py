"""The job store: tokens, datasets, jobs and their tasks in one SQL database.

SQLite in the data directory by default (one machine), PostgreSQL for a shared
deployment; both through SQLAlchemy, with the schema made by Alembic migrations.

Every state change is one conditional UPDATE (``... WHERE status = 'running'``), so two
workers that both receive a redelivered task, or a reaper racing a worker, can never
both win: the row count says who did. That is what makes at-least-once delivery safe.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .schema import datasets, jobs, metadata, tasks, tokens

__all__ = ["JobStore", "TERMINAL", "hash_token"]

TERMINAL = ("succeeded", "failed", "cancelled")
_MIGRATIONS = Path(__file__).parent / "migrations"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_id() -> str:
    return uuid.uuid4().hex


class JobStore:
    """All reads and writes of service state. ``url``: an SQLAlchemy URL
    (``sqlite:///DIR/labelscout.db``, ``postgresql://host/db``)."""

    def __init__(self, url: str, migrate: bool = True):
        self.url = _normalize_url(url)
        kwargs: dict[str, Any] = {"future": True}
        if self.url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        self.engine = sa.create_engine(self.url, **kwargs)
        if self.url.startswith("sqlite"):
            @sa.event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _record):  # WAL: readers never block the writer
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()
        if migrate:
            self.migrate()

    # -- schema --------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (a no-op when it is there)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self.engine.dispose()

    # -- tokens --------------------------------------------------------------------------
    def create_token(self, label: str = "") -> str:
        token = "ls_" + secrets.token_urlsafe(32)
        with self.engine.begin() as c:
            c.execute(tokens.insert().values(id=_new_id(), token_hash=hash_token(token), label=label, created_at=time.time()))
        return token

    def token_id(self, token: str) -> str | None:
        with self.engine.connect() as c:
            return c.execute(sa.select(tokens.c.id).where(tokens.c.token_hash == hash_token(token))).scalar()

    # -- datasets ------------------------------------------------------------------------
    def add_dataset(self, dataset_id: str, origin: str, root: str, files: int, size_bytes: int) -> None:
        with self.engine.begin() as c:
            c.execute(datasets.insert().values(id=dataset_id, origin=origin, root=root, files=files,
                                               size_bytes=size_bytes, created_at=time.time()))

    def dataset(self, dataset_id: str) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(datasets).where(datasets.c.id == dataset_id)).mappings().first()
        return dict(row) if row else None

    # -- jobs ----------------------------------------------------------------------------
    def create_job(self, kind: str, dataset_id: str | None, params: dict, task_specs: list[tuple[str, dict]], *,
                   token_id: str | None = None, idempotency_key: str | None = None) -> tuple[dict, bool]:
        """Insert a job with its tasks; returns (job, created). With an ``idempotency_key``
        already used by this token, returns that job and ``created=False``."""
        request_hash = self.request_hash(kind, dataset_id, params)
        if idempotency_key is not None:
            existing = self._job_by_key(token_id, idempotency_key)
            if existing is not None:
                return existing, False
        job_id = _new_id()
        now = time.time()
        try:
            with self.engine.begin() as c:
                c.execute(jobs.insert().values(
                    id=job_id, kind=kind, dataset_id=dataset_id, params=json.dumps(params), status="queued",
                    idempotency_key=idempotency_key, token_id=token_id, request_hash=request_hash, created_at=now))
                for name, spec in task_specs:
                    # the final task waits until every shard is done; shards are queued at once
                    status = "waiting" if name == "final" and len(task_specs) > 1 else "queued"
                    c.execute(tasks.insert().values(job_id=job_id, name=name, spec=json.dumps(spec), status=status,
                                                    attempts=0, cancel_requested=False))
        except IntegrityError:  # the same key raced in from a concurrent retry
            existing = self._job_by_key(token_id, idempotency_key) if idempotency_key is not None else None
            if existing is None:
                raise
            return existing, False
        return self.job(job_id), True

    @staticmethod
    def request_hash(kind: str, dataset_id: str | None, params: dict) -> str:
        return hashlib.sha256(json.dumps([kind, dataset_id, params], sort_keys=True).encode()).hexdigest()

    def _job_by_key(self, token_id: str | None, key: str) -> dict | None:
        cond = jobs.c.token_id.is_(None) if token_id is None else jobs.c.token_id == token_id
        with self.engine.connect() as c:
            row = c.execute(sa.select(jobs.c.id).where(cond, jobs.c.idempotency_key == key)).scalar()
        return self.job(row) if row else None

    def job(self, job_id: str) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
            if row is None:
                return None
            trows = c.execute(sa.select(tasks).where(tasks.c.job_id == job_id).order_by(tasks.c.name)).mappings().all()
        job = dict(row)
        job["params"] = json.loads(job["params"])
        job["tasks"] = [{**dict(t), "spec": json.loads(t["spec"]), "progress": json.loads(t["progress"] or "{}")}
                        for t in trows]
        return job

    def list_jobs(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
        q = sa.select(jobs.c.id).order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit).offset(offset)
        if status is not None:
            q = q.where(jobs.c.status == status)
        with self.engine.connect() as c:
            ids = c.execute(q).scalars().all()
        return [j for j in (self.job(i) for i in ids) if j is not None]

    def count_jobs(self) -> dict[str, int]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)).all()
        return {s: n for s, n in rows}

    # -- task life cycle (each step a conditional update) -----------------------------
    def start_task(self, job_id: str, name: str, worker: str) -> int | None:
        """Mark a task running and count the attempt; None when it must not run (done, or
        its job finished or was cancelled meanwhile)."""
        now = time.time()
        with self.engine.begin() as c:
            job_status = c.execute(sa.select(jobs.c.status).where(jobs.c.id == job_id)).scalar()
            if job_status is None or job_status in TERMINAL:
                return None
            res = c.execute(tasks.update().where(tasks.c.job_id == job_id, tasks.c.name == name,
                                                 tasks.c.status.in_(("queued", "running")))
                            .values(status="running", attempts=tasks.c.attempts + 1, worker=worker, heartbeat_at=now,
                                    started_at=now, error=None, progress=None))
            if res.rowcount != 1:
                return None
            c.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.status == "queued")
                      .values(status="running", started_at=now))
            return c.execute(sa.select(tasks.c.attempts).where(tasks.c.job_id == job_id, tasks.c.name == name)).scalar()

    def heartbeat(self, job_id: str, name: str) -> bool:
        """Refresh a running task's heartbeat; False when it should stop (cancelled, or the
        job ended)."""
        with self.engine.begin() as c:
            c.execute(tasks.update().where(tasks.c.job_id == job_id, tasks.c.name == name, tasks.c.status == "running")
                      .values(heartbeat_at=time.time()))
            status = c.execute(sa.select(jobs.c.status).where(jobs.c.id == job_id)).scalar()
        return status not in TERMINAL

    def set_progress(self, job_id: str, name: str, progress: dict) -> None:
        """Record a running task's in-stage progress ({stage: {"done", "total"}})."""
        with self.engine.begin() as c:
            c.execute(tasks.update().where(tasks.c.job_id == job_id, tasks.c.name == name, tasks.c.status == "running")
                      .values(progress=json.dumps(progress)))

    def finish_task(self, job_id: str, name: str, seconds: float) -> bool:
        """Mark a task done; True only for the one call that did it."""
        with self.engine.begin() as c:
            res = c.execute(tasks.update().where(tasks.c.job_id == job_id, tasks.c.name == name,
                                                 tasks.c.status.in_(("queued", "running")))
                            .values(status="done", finished_at=time.time(), seconds=round(seconds, 3)))
            return res.rowcount == 1

    def release_final(self, job_id: str) -> bool:
        """Queue the final task once every shard is done; True only for the one caller
        that moved it from waiting to queued (so it is submitted exactly once)."""
        with self.engine.begin() as c:
            pending = c.execute(sa.select(sa.func.count()).select_from(tasks).where(
                tasks.c.job_id == job_id, tasks.c.name != "final", tasks.c.status != "done")).scalar()
            if pending:
                return False
            res = c.execute(tasks.update().where(tasks.c.job_id == job_id, tasks.c.name == "final",
                                                 tasks.c.status == "waiting").values(status="queued"))
            return res.rowcount == 1

    def requeue_task(self, job_id: str, name: str, error: str, stale_before: float | None = None) -> bool:
        """A running task whose worker was lost goes back to the queue (conditional on it
        still being running, and with ``stale_before`` on its heartbeat still being old)."""
        cond = [tasks.c.job_id == job_id, tasks.c.name == name, tasks.c.status == "running"]
        if stale_before is not None:
            cond.append(tasks.c.heartbeat_at < stale_before)
        with self.engine.begin() as c:
            return c.execute(tasks.update().where(*cond).values(status="queued", error=error)).rowcount == 1

    def succeed_job(self, job_id: str) -> bool:
        return self._end_job(job_id, "succeeded")

    def fail_job(self, job_id: str, error: str, hint: str | None = None, task: str | None = None) -> bool:
        ok = self._end_job(job_id, "failed", error=error, hint=hint)
        if task is not None:
            with self.engine.begin() as c:
                c.execute(tasks.update().where(tasks.c.job_id == job_id, tasks.c.name == task)
                          .values(status="failed", error=error, finished_at=time.time()))
        return ok

    def cancel_job(self, job_id: str) -> bool:
        ok = self._end_job(job_id, "cancelled", error="cancelled by request")
        if ok:
            with self.engine.begin() as c:
                c.execute(tasks.update().where(tasks.c.job_id == job_id, tasks.c.status.in_(("queued", "running", "waiting")))
                          .values(status="cancelled", cancel_requested=True))
        return ok

    def _end_job(self, job_id: str, status: str, error: str | None = None, hint: str | None = None) -> bool:
        with self.engine.begin() as c:
            res = c.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.status.in_(("queued", "running")))
                            .values(status=status, error=error, hint=hint, finished_at=time.time()))
            return res.rowcount == 1

    # -- recovery ------------------------------------------------------------------------
    def stale_tasks(self, older_than_s: float) -> list[dict]:
        """Running tasks of live jobs whose heartbeat is older than ``older_than_s``."""
        cutoff = time.time() - older_than_s
        q = (sa.select(tasks).join(jobs, jobs.c.id == tasks.c.job_id)
             .where(tasks.c.status == "running", tasks.c.heartbeat_at < cutoff, jobs.c.status.in_(("queued", "running"))))
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(q).mappings().all()]

    def unfinished_tasks(self) -> list[tuple[str, str]]:
        """(job, task) pairs queued or running in live jobs: what a restarted embedded
        server must run again (its previous processes died with it)."""
        q = (sa.select(tasks.c.job_id, tasks.c.name).join(jobs, jobs.c.id == tasks.c.job_id)
             .where(tasks.c.status.in_(("queued", "running")), jobs.c.status.in_(("queued", "running")))
             .order_by(jobs.c.created_at, tasks.c.name))
        with self.engine.connect() as c:
            return [(j, n) for j, n in c.execute(q).all()]

    def task(self, job_id: str, name: str) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(tasks).where(tasks.c.job_id == job_id, tasks.c.name == name)).mappings().first()
        return {**dict(row), "spec": json.loads(row["spec"])} if row else None


def _normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver the service extra installs)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_url(data_dir: str | Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'labelscout.db'}"

