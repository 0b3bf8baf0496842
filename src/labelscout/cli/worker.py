"""``labelscout worker``: a Celery worker that runs the service's tasks."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app


@app.command("worker")
def worker_command(
    broker: str = typer.Option(..., "--broker", envvar="LABELSCOUT_BROKER", help="Celery broker the server uses (redis://HOST:6379/0)."),
    data_dir: Path = typer.Option(..., "--data-dir", help="The server's data folder, mounted at the same path on this machine (shared storage)."),
    database: Optional[str] = typer.Option(None, "--database", envvar="LABELSCOUT_DATABASE", help="The server's job store URL (default: SQLite in --data-dir, for one machine only)."),
    queues: str = typer.Option("cpu", "--queues", "-Q", help="Queues to take tasks from: cpu, gpu or cpu,gpu."),
    concurrency: int = typer.Option(1, "--concurrency", "-c", min=1, help="Tasks this worker runs at once (each in its own process)."),
    name: Optional[str] = typer.Option(None, "--name", "-n", help="Worker name (default: celery's, worker@HOST)."),
) -> None:
    """Take tasks from the broker and run them (embedding shards, selections, reports)."""
    from ..service.celery_app import QUEUES, consumed_queues, make_celery
    from ..service.settings import ServiceSettings

    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    bad = [q for q in wanted if q not in QUEUES]
    if bad or not wanted:
        raise typer.BadParameter(f"queues must be among {', '.join(QUEUES)}; got {queues!r}", param_hint="--queues")
    settings = ServiceSettings.from_env(data_dir=data_dir, broker_url=broker, database_url=database)
    from ..service.tasks import warm_up

    celery = make_celery(settings)
    warm_up()
    argv = ["worker", "--pool", "threads", "--concurrency", str(concurrency), "--queues", ",".join(consumed_queues(wanted)),
            "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    if name:
        argv += ["--hostname", name]
    celery.worker_main(argv)
