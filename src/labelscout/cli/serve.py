"""``labelscout serve``: the job service (web API and page)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ._app import app
from ._common import echo_result


@app.command("serve")
def serve_command(
    data_dir: Path = typer.Option(..., "--data-dir", help="Folder for uploads, job run folders, the embedding cache and (by default) the SQLite job store."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    broker: Optional[str] = typer.Option(None, "--broker", envvar="LABELSCOUT_BROKER", help="Celery broker (redis://HOST:6379/0): jobs go to `labelscout worker` processes. Default: a process pool in this server."),
    database: Optional[str] = typer.Option(None, "--database", envvar="LABELSCOUT_DATABASE", help="Job store URL (postgresql://USER@HOST/DB). Default: SQLite in --data-dir."),
    allowed_root: List[Path] = typer.Option([], "--allowed-root", help="Server folder that datasets may be registered from (repeatable). Default: none."),
    workers: int = typer.Option(2, "--workers", min=1, help="Without --broker: tasks run at once in this server."),
    shard_size: int = typer.Option(2048, "--shard-size", min=1, help="Images per embedding shard task (rounded to whole batches)."),
    max_upload_bytes: int = typer.Option(20 * 1024**3, "--max-upload-bytes", min=1, help="Largest upload (and unpacked archive) per dataset."),
    max_upload_files: int = typer.Option(1_000_000, "--max-upload-files", min=1, help="Most files per dataset upload."),
    create_token: bool = typer.Option(False, "--create-token", help="Create an API token, print it on the last line and exit."),
    token_label: str = typer.Option("", "--token-label", help="With --create-token: a note stored beside the token's hash."),
) -> None:
    """Run the web API and page; with --broker, jobs run on Celery workers."""
    from ..service.settings import ServiceSettings

    settings = ServiceSettings.from_env(data_dir=data_dir, broker_url=broker, database_url=database,
                                        allowed_roots=list(allowed_root) or None, local_workers=workers,
                                        shard_size=shard_size, max_upload_bytes=max_upload_bytes,
                                        max_upload_files=max_upload_files)
    if create_token:
        from ..service.store import JobStore

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        token = JobStore(settings.db_url).create_token(token_label)
        typer.echo("Created an API token; it is shown once (only its hash is stored). Send it as 'Authorization: Bearer TOKEN'.", err=True)
        echo_result(token)
        return
    import uvicorn

    from ..service.app import create_app

    echo_result(f"labelscout service on http://{host}:{port}/ (API at /api/v1, schema at /api/v1/openapi.json)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
