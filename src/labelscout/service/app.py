"""The FastAPI app: a versioned REST API over the job store, the executor and the page.

Routes parse, call the store / the executor / the library and format; none holds logic.
Every route but ``/api/v1/health`` needs ``Authorization: Bearer TOKEN`` (the page's HTML
holds no data; every call it makes sends the token the user pastes into it).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, Optional

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from .. import __version__
from .executors import make_executor
from .params import JOB_KINDS, ParamError, dataset_file, job_config, model_files, validation_needs_labels
from .settings import ServiceSettings
from .store import TERMINAL, JobStore
from .tasks import plan_tasks, task_queue
from .uploads import UploadRefused, dataset_manifest, new_dataset_id, receive_upload, register_path

__all__ = ["create_app"]

log = logging.getLogger(__name__)
API = "/api/v1"
_PAGE = Path(__file__).parent / "static" / "index.html"


class JobRequest(BaseModel):
    kind: Literal["embed", "select", "inspect", "report", "train"] = Field(..., description="The library call to make.")
    dataset: Optional[str] = Field(None, description="Dataset id (every kind but report).")
    params: dict[str, Any] = Field(default_factory=dict, description="The options of the CLI command of the same name.")


class PathRequest(BaseModel):
    path: str = Field(..., description="A folder on the server, under one of its allowed roots.")


def _error(status: int, message: str, hint: str | None = None, **extra) -> HTTPException:
    return HTTPException(status, detail={"message": message, "hint": hint, **extra})


def create_app(settings: ServiceSettings) -> FastAPI:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = JobStore(settings.db_url)
    executor = make_executor(settings, store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        executor.start()
        resumed = executor.resume()
        if resumed:
            log.warning("resumed %d unfinished task(s) after a restart", resumed)
        yield
        executor.stop()

    app = FastAPI(title="labelscout", version=__version__, lifespan=lifespan, openapi_url=None, docs_url=None,
                  redoc_url=None, description="Upload collections, run labelscout jobs, fetch their run folders.")
    app.state.store, app.state.executor, app.state.settings = store, executor, settings
    bearer = HTTPBearer(auto_error=False)

    def token(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
        token_id = store.token_id(creds.credentials) if creds is not None and creds.scheme.lower() == "bearer" else None
        if token_id is None:
            raise HTTPException(401, detail={"message": "A valid API token is required.",
                                             "hint": "Send 'Authorization: Bearer TOKEN'; create one with "
                                                     "`labelscout serve --data-dir DIR --create-token`."},
                                headers={"WWW-Authenticate": "Bearer"})
        return token_id

    @app.get(f"{API}/health", tags=["service"])
    def health() -> dict:
        """Liveness and what the service runs on (no token needed)."""
        return {"status": "ok", "version": __version__, "executor": "celery" if settings.broker_url else "local",
                "database": store.engine.dialect.name}

    @app.get(f"{API}/openapi.json", include_in_schema=False)
    def openapi(_: str = Depends(token)) -> JSONResponse:
        return JSONResponse(app.openapi())

    # -- datasets --------------------------------------------------------------------------
    @app.post(f"{API}/datasets", status_code=201, tags=["datasets"])
    async def create_dataset(request: Request, _: str = Depends(token)) -> dict:
        """Upload files (multipart fields named ``file``: images, videos, zip / tar archives),
        or register a server folder with ``{"path": ...}`` (JSON)."""
        dataset_id = new_dataset_id()
        ddir = settings.dataset_dir(dataset_id)
        ctype = request.headers.get("content-type", "")
        try:
            if ctype.startswith("application/json"):
                body = PathRequest.model_validate(await request.json())
                root, origin = register_path(body.path, settings.allowed_roots), "path"
                ddir.mkdir(parents=True)
            else:
                await receive_upload(request.stream(), ctype, ddir, settings.limits)
                root, origin = ddir / "files", "upload"
        except UploadRefused as exc:
            raise _error(exc.status, exc.message, exc.hint) from None
        manifest = await run_in_threadpool(dataset_manifest, root, ddir)
        await run_in_threadpool(store.add_dataset, dataset_id, origin, str(root), len(manifest["files"]), manifest["size_bytes"])
        return _dataset_view(dataset_id, origin, manifest)

    @app.get(f"{API}/datasets/{{dataset_id}}", tags=["datasets"])
    def get_dataset(dataset_id: str, _: str = Depends(token)) -> dict:
        """The dataset's sample files, the files that are not samples and why, its size."""
        row = store.dataset(dataset_id)
        if row is None:
            raise _error(404, f"No dataset {dataset_id!r}.")
        manifest = json.loads((settings.dataset_dir(dataset_id) / "manifest.json").read_text())
        return _dataset_view(dataset_id, row["origin"], manifest)

    # -- jobs ------------------------------------------------------------------------------
    @app.post(f"{API}/jobs", status_code=201, tags=["jobs"])
    def create_job(body: JobRequest, token_id: str = Depends(token),
                   idempotency_key: Optional[str] = Header(None, max_length=200)) -> JSONResponse:
        """Validate ``params`` (422 naming a bad one) and queue the job. A retry with the same
        ``Idempotency-Key`` returns the same job."""
        manifest = None
        if body.kind not in JOB_KINDS:
            try:
                job_config(body.kind, body.params)
            except ParamError as exc:
                raise _error(422, f"{exc.param}: {exc.message}", param=exc.param) from None
        if JOB_KINDS[body.kind]:
            if not body.dataset:
                raise _error(422, "dataset: a job of this kind needs a dataset id.", param="dataset")
            if store.dataset(body.dataset) is None:
                raise _error(422, f"dataset: no dataset {body.dataset!r}.", param="dataset")
            manifest = json.loads((settings.dataset_dir(body.dataset) / "manifest.json").read_text())
        try:
            config = job_config(body.kind, body.params,
                                pool_size=len(manifest["files"]) if manifest and not manifest["videos"] else None)
        except ParamError as exc:
            raise _error(422, f"{exc.param}: {exc.message}", param=exc.param) from None
        if body.kind == "select":  # what names other server data: checked here, where the store is
            if config.get("validation") is not None:
                _check_validation_dataset(config)
            for name, rel in model_files(config).items():
                if dataset_file(Path(store.dataset(body.dataset)["root"]), rel) is None:
                    raise _error(422, f"{name}: the dataset {body.dataset!r} has no file {rel!r}.",
                                 "Put the file in the dataset (e.g. beside the images in the zip) and name it by its "
                                 "path there; GET /datasets/{id} lists the dataset's other files under 'skipped'.",
                                 param=name)
        if body.kind == "report":
            src = store.job(config["job"])
            if src is None or src["kind"] != "select" or src["status"] != "succeeded":
                raise _error(422, f"job: {config['job']!r} is not a finished select job.", param="job")
        specs = plan_tasks(body.kind, config, manifest, settings.shard_size)
        job, created = store.create_job(body.kind, body.dataset, config, specs, token_id=token_id,
                                        idempotency_key=idempotency_key)
        if not created:
            if job["request_hash"] != store.request_hash(body.kind, body.dataset, config):
                raise _error(409, "This Idempotency-Key was used for a different job.",
                             "Use a new key for a new submission.", job=job["id"])
            return JSONResponse(_job_view(job), status_code=200)
        try:
            for name, _spec in specs:
                if name != "final" or len(specs) == 1:
                    executor.submit(job["id"], name, config)
        except Exception as exc:  # e.g. the broker is down: say so, leave no job queued forever
            store.fail_job(job["id"], f"The job could not be queued: {type(exc).__name__}: {exc}",
                           "Check that the broker is reachable, then submit again with a new Idempotency-Key.")
            raise _error(503, f"The job could not be queued ({type(exc).__name__}: {exc}).",
                         "Check that the broker is reachable.", job=job["id"]) from None
        return JSONResponse(_job_view(store.job(job["id"])), status_code=201)

    def _check_validation_dataset(config: dict) -> None:
        """The validation dataset of a select job exists and, for a strategy that needs its
        labels (fisher-match), holds class folders: 422 before anything is queued."""
        vid = config["validation"]
        if store.dataset(vid) is None:
            raise _error(422, f"validation: no dataset {vid!r}.", "Upload the validation images as a dataset of their "
                         "own (POST /datasets) and pass its id.", param="validation")
        if validation_needs_labels(config):
            from ..sources.labels import labels_from_folders  # the rule the run applies to the folder

            files = json.loads((settings.dataset_dir(vid) / "manifest.json").read_text())["files"]
            if labels_from_folders(files) is None:
                raise _error(422, f"validation: strategy {config['strategy']!r} needs the validation images in class "
                             f"folders (<class>/<image>), at least two classes; dataset {vid!r} has not.",
                             "Upload a zip whose folders are named by the classes.", param="validation")

    @app.get(f"{API}/jobs", tags=["jobs"])
    def list_jobs(status: Optional[Literal["queued", "running", "succeeded", "failed", "cancelled"]] = None,
                  limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0),
                  _: str = Depends(token)) -> dict:
        return {"jobs": [_job_view(j) for j in store.list_jobs(status, limit, offset)], "counts": store.count_jobs()}

    @app.get(f"{API}/jobs/{{job_id}}", tags=["jobs"])
    def get_job(job_id: str, _: str = Depends(token)) -> dict:
        return _job_view(_job_or_404(job_id))

    @app.delete(f"{API}/jobs/{{job_id}}", tags=["jobs"])
    def cancel_job(job_id: str, _: str = Depends(token)) -> dict:
        """Cancel a queued or running job (its running tasks are stopped within a heartbeat)."""
        job = _job_or_404(job_id)
        if not store.cancel_job(job_id):
            raise _error(409, f"Job {job_id} already {job['status']}; nothing to cancel.")
        return _job_view(store.job(job_id))

    @app.get(f"{API}/jobs/{{job_id}}/files", tags=["jobs"])
    def list_files(job_id: str, _: str = Depends(token)) -> dict:
        _job_or_404(job_id)
        out = settings.job_dir(job_id) / "out"
        files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")) \
            if out.is_dir() else []
        return {"files": files}

    @app.get(f"{API}/jobs/{{job_id}}/files/{{name:path}}", tags=["jobs"])
    def get_file(job_id: str, name: str, _: str = Depends(token)) -> FileResponse:
        """A file of the job's run folder: selection.txt, selection.csv, issues.csv, run.json,
        report.html, frames/..."""
        _job_or_404(job_id)
        out = (settings.job_dir(job_id) / "out").resolve()
        path = (out / name).resolve()
        if not path.is_relative_to(out) or not path.is_file():
            raise _error(404, f"Job {job_id} has no file {name!r}.", "GET /api/v1/jobs/{id}/files lists them.")
        return FileResponse(path)

    @app.get(f"{API}/jobs/{{job_id}}/events", tags=["jobs"])
    async def job_events(job_id: str, _: str = Depends(token)) -> StreamingResponse:
        """Server-sent events: the job (as GET returns it) each time it changes, until it ends."""
        await run_in_threadpool(_job_or_404, job_id)

        async def stream():
            last = None
            while True:
                view = _job_view(await run_in_threadpool(store.job, job_id))
                text = json.dumps(view, sort_keys=True)
                if text != last:
                    yield f"event: job\ndata: {text}\n\n"
                    last = text
                if view["status"] in TERMINAL:
                    return
                await asyncio.sleep(0.5)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(_PAGE.read_text(encoding="utf-8"))

    def _job_or_404(job_id: str) -> dict:
        job = store.job(job_id)
        if job is None:
            raise _error(404, f"No job {job_id!r}.")
        return job

    return app


def _dataset_view(dataset_id: str, origin: str, manifest: dict) -> dict:
    return {"id": dataset_id, "origin": origin, "files": manifest["files"], "images": manifest["images"],
            "videos": manifest["videos"], "skipped": manifest["skipped"], "size_bytes": manifest["size_bytes"]}


def _job_view(job: dict) -> dict:
    """A job as the API shows it: status, progress by stage, timings, error with hint."""
    shards = [t for t in job["tasks"] if t["name"] != "final"]
    final = next(t for t in job["tasks"] if t["name"] == "final")
    # the final task's stage is named by the job's kind; an embed job's final task gathers the shards
    stage = "gather" if job["kind"] == "embed" else job["kind"]
    progress = {}
    if shards:
        progress["embed"] = {"done": sum(t["status"] == "done" for t in shards), "total": len(shards),
                             "running": sum(t["status"] == "running" for t in shards)}
        # inside the shards: the library's stages summed over the shards that reported them
        # (a done shard's last report; a cached shard reports 0 of 0 images)
        stages: dict[str, dict] = {}
        for t in shards:
            for name, p in t["progress"].items():
                s = stages.setdefault(name, {"done": 0, "total": 0})
                s["done"] += p["done"]
                s["total"] = None if s["total"] is None or p["total"] is None else s["total"] + p["total"]
        progress["embed"]["stages"] = stages
    # the final task's stages as the library reports them ("embedding", the strategy, the report...)
    progress[stage] = {"status": final["status"], "stages": final["progress"]}
    end = job["finished_at"] or time.time()
    timings = {
        "queued_s": round((job["started_at"] or end) - job["created_at"], 3),
        "run_s": round(end - job["started_at"], 3) if job["started_at"] else None,
        "embed_shards_s": round(sum(t["seconds"] or 0 for t in shards), 3) if shards else None,
        f"{stage}_s": final["seconds"],
    }
    return {
        "id": job["id"], "kind": job["kind"], "dataset": job["dataset_id"], "status": job["status"],
        "params": job["params"], "progress": progress, "timings": timings,
        "error": job["error"] if job["status"] != "succeeded" else None, "hint": job["hint"],
        "created_at": job["created_at"], "started_at": job["started_at"], "finished_at": job["finished_at"],
        "queue": task_queue(job["params"]),
        "tasks": [{k: t[k] for k in ("name", "status", "attempts", "worker", "seconds", "error", "progress")}
                  for t in job["tasks"]],
    }
