"""The job store's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

The schema is created and upgraded only by the Alembic migrations in ``migrations/``;
these declarations are what the code reads and writes, and a test checks that the
migrated database matches them.
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

#: API tokens: only a SHA-256 of each token is stored (tokens are 256-bit random, so a
#: plain hash cannot be brute-forced and needs no salt).
tokens = Table(
    "tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(200), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
)

#: Datasets: an uploaded folder under the data dir, or a registered server-side folder.
datasets = Table(
    "datasets", metadata,
    Column("id", String(32), primary_key=True),
    Column("origin", String(16), nullable=False),  # "upload" | "path"
    Column("root", Text, nullable=False),
    Column("files", Integer, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

#: Jobs: one library call (kind + validated params) on one dataset.
jobs = Table(
    "jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("dataset_id", String(32), nullable=True),
    Column("params", Text, nullable=False),  # JSON: the validated config
    Column("status", String(16), nullable=False, index=True),  # queued running succeeded failed cancelled
    Column("error", Text, nullable=True),
    Column("hint", Text, nullable=True),
    Column("idempotency_key", String(200), nullable=True),
    Column("token_id", String(32), nullable=True),
    Column("request_hash", String(64), nullable=True),  # of kind+dataset+params, to spot a reused key
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    UniqueConstraint("token_id", "idempotency_key", name="uq_jobs_idempotency"),
)

#: Tasks: the units workers execute. A job is ``shard-NNNN`` embedding tasks (any number of
#: workers in parallel) and one ``final`` task (the library call) once every shard is done.
tasks = Table(
    "tasks", metadata,
    Column("job_id", String(32), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("spec", Text, nullable=False),  # JSON: which files a shard embeds
    Column("status", String(16), nullable=False),  # queued running done failed cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("worker", String(200), nullable=True),
    Column("heartbeat_at", Float, nullable=True),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("seconds", Float, nullable=True),
    Column("error", Text, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("progress", Text, nullable=True),  # JSON: {stage: {"done": n, "total": n or null}} from the Reporter
)
