"""The job service: a FastAPI app over a job store, with tasks run in a process pool in
the server (the embedded default) or by Celery workers on a Redis broker.

Modules: ``params`` (job params -> validated library config, the one mapping),
``store`` / ``schema`` / ``migrations`` (job state, SQLite or PostgreSQL, Alembic),
``uploads`` (streamed uploads, safe archives, registered folders), ``tasks`` (a job's
shard and final tasks, their supervisor, the reaper), ``executors`` (local pool or
Celery), ``celery_app`` (the worker side), ``app`` (the HTTP routes and the page).
"""
from .settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]


def create_app(settings: ServiceSettings):
    """The FastAPI app (imported lazily: the CLI must not need FastAPI to start)."""
    from .app import create_app as _create

    return _create(settings)
