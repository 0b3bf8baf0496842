"""What a job is made of, and how one of its tasks runs.

A job on a dataset is planned as embedding **shard** tasks (contiguous runs of whole
batches of images, one task per video) plus one **final** task: the library call itself.
Shards write their vectors into the embedding cache every task shares; the final task then
makes the ordinary library call (``api.select`` ...), which finds every vector in the
cache, so its ``embeddings/`` are exactly those of a single-process run and the run folder
is the one the CLI writes. The service holds no selection logic.

Every task runs in a child process under a supervisor (a thread of the embedded server,
or a Celery task body in a worker). The supervisor counts the attempt, refreshes the
task's heartbeat, kills the child when the job is cancelled, and after a clean exit marks
the task done and releases the final task once the last shard is in. A supervisor killed
with ``kill -9`` takes its child with it (the child watches its supervisor), its
heartbeat stops, and the reaper (or the broker's redelivery) runs the task again.
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import socket
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from .settings import ServiceSettings
from .store import JobStore

__all__ = ["plan_tasks", "supervise", "reap", "task_queue"]

log = logging.getLogger(__name__)

Submit = Callable[[str, str], None]  # (job_id, task name) -> queue it


def plan_tasks(kind: str, config: dict, manifest: dict | None, shard_size: int) -> list[tuple[str, dict]]:
    """The tasks of a job: embedding shards for kinds that embed a dataset, then ``final``."""
    specs: list[tuple[str, dict]] = []
    if kind in ("embed", "select", "inspect") and manifest is not None:
        batch = int(config["batch_size"])
        # whole batches per shard: a shard then forms exactly the batches a single run forms
        per_shard = max(batch, (shard_size // batch) * batch)
        images = manifest["images"]
        for start in range(0, images, per_shard):
            specs.append((f"shard-{len(specs):04d}", {"images": [start, min(images, start + per_shard)]}))
        for v in range(manifest["videos"]):
            specs.append((f"shard-{len(specs):04d}", {"videos": [v, v + 1]}))
    specs.append(("final", {}))
    return specs


def task_queue(config: dict) -> str:
    """``gpu`` for jobs that ask for a CUDA device, else ``cpu`` (workers declare which they serve)."""
    return "gpu" if str(config.get("device", "")).startswith("cuda") else "cpu"


# -- the child process -------------------------------------------------------------------
def _watch_supervisor(pid: int) -> None:
    """Exit when the supervising process is gone (it was killed: the task is rerun elsewhere)."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(70)


def _run_child(settings_dict: dict, job_id: str, name: str, supervisor_pid: int) -> None:
    threading.Thread(target=_watch_supervisor, args=(supervisor_pid,), daemon=True).start()
    settings = ServiceSettings.from_dict(settings_dict)
    store = JobStore(settings.db_url, migrate=False)
    try:
        _execute(settings, store, job_id, name)
    except Exception as exc:  # the job fails with the reason; the library's hint goes with it
        from ..errors import LabelscoutError

        if isinstance(exc, LabelscoutError):
            store.fail_job(job_id, exc.message, exc.hint, task=name)
        else:
            log.error("task %s/%s failed:\n%s", job_id, name, traceback.format_exc())
            store.fail_job(job_id, f"internal error: {type(exc).__name__}: {exc}",
                           "This is a bug in labelscout; the worker log has the traceback.", task=name)
        store.dispose()
        os._exit(3)
    store.dispose()
    os._exit(0)


class _StoreReporter:
    """The library's progress inside a task, written to the task's row (at most every
    ``interval`` seconds, and whenever a stage starts or completes) for GET /jobs/{id}."""

    def __init__(self, store: JobStore, job_id: str, name: str, interval: float = 0.5):
        self.store, self.job_id, self.name, self.interval = store, job_id, name, interval
        self.stages: dict[str, dict] = {}
        self._last = 0.0

    def __call__(self, stage: str, done: float, total: float | None) -> None:
        new = stage not in self.stages
        self.stages[stage] = {"done": done, "total": total}
        now = time.monotonic()
        if new or (total is not None and done >= total) or now - self._last >= self.interval:
            self._last = now
            try:
                self.store.set_progress(self.job_id, self.name, self.stages)
            except Exception:  # progress is best effort: a database hiccup must not fail the task
                log.warning("could not record the progress of %s/%s", self.job_id, self.name, exc_info=True)


def _execute(settings: ServiceSettings, store: JobStore, job_id: str, name: str) -> None:
    from ..errors import InputError
    from ..reporting import CallbackReporter
    from ..sources.collection import Collection
    from .params import EMBED_PARAMS, dataset_file, library_call, model_files

    job = store.job(job_id)
    config = job["params"]
    out = settings.job_dir(job_id)
    # cancellation stays with the supervisor (it kills this process); the reporter carries progress
    reporter = CallbackReporter(on_progress=_StoreReporter(store, job_id, name))
    if job["kind"] == "report":
        library_call("report", config)(settings.job_dir(config["job"]) / "out", out / "out", reporter=reporter)
        return
    dataset = store.dataset(job["dataset_id"])
    root = Path(dataset["root"])
    if name == "final":
        if config.get("validation") is not None:  # a select job's validation dataset: the id becomes its folder
            validation = store.dataset(config["validation"])
            if validation is None:
                raise InputError(f"The validation dataset {config['validation']!r} of this job no longer exists.",
                                 hint="Upload the validation images again and submit a new job with the new id.")
            config = {**config, "validation": validation["root"]}
        for key, rel in model_files(config).items():  # predictions / features: files of the dataset
            path = dataset_file(root, rel)
            if path is None:
                raise InputError(f"The dataset has no file {rel!r} (the job's {key}).",
                                 hint="Submit a new job naming a file of the dataset.")
            config = {**config, key: str(path)}
        library_call(job["kind"], config)(root, out=out / "out", cache_dir=settings.cache_dir, reporter=reporter)
        return
    from ..embed.embedder import Embedder
    from ..sources.video import VideoOptions

    manifest = json.loads((settings.dataset_dir(dataset["id"]) / "manifest.json").read_text())
    spec = store.task(job_id, name)["spec"]
    files = manifest["files"]
    n_images = manifest["images"]
    if "images" in spec:
        col = Collection(root, images=files[spec["images"][0]:spec["images"][1]])
    else:
        col = Collection(root, images=[], videos=files[n_images + spec["videos"][0]:n_images + spec["videos"][1]])
    kw = {k: config[k] for k in EMBED_PARAMS}
    video = VideoOptions(fps=None if kw.pop("fps") == "all" else config["fps"], sequence_length=kw.pop("sequence_length"),
                         keyframes_only=kw.pop("keyframes_only"))
    Embedder(kw.pop("model"), **kw, cache_dir=settings.cache_dir, progress=reporter, video=video).embed(col)


# -- the supervisor ------------------------------------------------------------------------
_context = None
_context_lock = threading.Lock()


def _mp_context():
    """forkserver with the library preloaded: a task process starts in milliseconds, not
    after a fresh torch import, and never inherits the server's threads."""
    global _context
    with _context_lock:
        if _context is None:
            _context = mp.get_context("forkserver")
            _context.set_forkserver_preload(["labelscout.api", "labelscout.service.tasks"])
        return _context


def _noop() -> None:
    pass


def warm_up() -> None:
    """Start the fork server now, in the background, so the first task does not wait for
    its import of the library (seconds)."""
    def start() -> None:
        p = _mp_context().Process(target=_noop)
        p.start()
        p.join()

    threading.Thread(target=start, name="labelscout-warm-up", daemon=True).start()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def supervise(settings: ServiceSettings, store: JobStore, job_id: str, name: str, submit: Submit) -> str:
    """Run one task to its end; returns what happened (done, skipped, failed, cancelled, lost)."""
    attempts = store.start_task(job_id, name, worker_name())
    if attempts is None:
        return "skipped"  # done already (a redelivery), or its job ended
    if attempts > settings.max_attempts:
        store.fail_job(job_id, f"Task {name} was started {attempts - 1} times and its worker was lost each time "
                       "(killed, out of memory, or its machine went away).",
                       "Check the workers' logs and memory; resubmit the job when they are healthy.", task=name)
        return "failed"
    t0 = time.perf_counter()
    child = _mp_context().Process(target=_run_child, args=(settings.to_dict(), job_id, name, os.getpid()),
                                  name=f"labelscout-{job_id[:8]}-{name}", daemon=False)
    child.start()
    cancelled = False
    while True:
        child.join(settings.heartbeat_s)
        if child.exitcode is not None:
            break
        if not store.heartbeat(job_id, name):  # cancelled (or failed by another task): stop now
            cancelled = True
            child.terminate()
            child.join(5)
            if child.exitcode is None:
                child.kill()
                child.join()
            break
    if cancelled:
        return "cancelled"
    if child.exitcode == 0:
        if store.finish_task(job_id, name, time.perf_counter() - t0):
            if name == "final":
                store.succeed_job(job_id)
            elif store.release_final(job_id):
                submit(job_id, "final")
        return "done"
    if child.exitcode == 3:
        return "failed"  # the child recorded the reason
    # killed by a signal (e.g. the OOM killer) or exited without a word: the worker is lost
    reason = f"task process exited with {child.exitcode} on attempt {attempts}"
    if attempts >= settings.max_attempts:
        store.fail_job(job_id, f"Task {name} was lost {attempts} times ({reason}).",
                       "Check the workers' logs and memory; resubmit the job when they are healthy.", task=name)
        return "failed"
    if store.requeue_task(job_id, name, reason):
        submit(job_id, name)
    return "lost"


def reap(settings: ServiceSettings, store: JobStore, submit: Submit) -> list[tuple[str, str]]:
    """Requeue running tasks whose heartbeat stopped (their worker died); fail the job of
    one that has used up its attempts. Returns the (job, task) pairs handled."""
    handled = []
    for t in store.stale_tasks(settings.stale_after_s):
        job_id, name = t["job_id"], t["name"]
        age = time.time() - (t["heartbeat_at"] or 0)
        reason = f"no heartbeat from worker {t['worker']} for {age:.0f} s (attempt {t['attempts']})"
        if t["attempts"] >= settings.max_attempts:
            if store.fail_job(job_id, f"Task {name} was lost {t['attempts']} times; last: {reason}.",
                              "Check the workers' logs and memory; resubmit the job when they are healthy.", task=name):
                handled.append((job_id, name))
        elif store.requeue_task(job_id, name, reason, stale_before=time.time() - settings.stale_after_s):
            log.warning("requeueing %s/%s: %s", job_id, name, reason)
            submit(job_id, name)
            handled.append((job_id, name))
    return handled
