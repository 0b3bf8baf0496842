"""Where tasks run: a process pool inside the server (no broker), or Celery workers.

Both take ``submit(job_id, task_name)`` and end in :func:`labelscout.service.tasks.supervise`;
they differ only in who holds the queue.
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading

from .settings import ServiceSettings
from .store import JobStore
from .tasks import reap, supervise, task_queue, warm_up

__all__ = ["LocalExecutor", "CeleryExecutor", "make_executor"]

log = logging.getLogger(__name__)


class LocalExecutor:
    """The embedded default: ``local_workers`` supervisor threads, each running one task
    process at a time. The queue is in memory; the database is the truth, so a restarted
    server queues again every task that was queued or running (:meth:`resume`). Final tasks
    go before queued shards, so a job's selection never waits behind other jobs' shards."""

    def __init__(self, settings: ServiceSettings, store: JobStore):
        self.settings, self.store = settings, store
        self._queue: queue.PriorityQueue = queue.PriorityQueue()  # (0 final / 1 shard, order, job, task)
        self._order = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self) -> None:
        warm_up()
        for i in range(max(1, self.settings.local_workers)):
            t = threading.Thread(target=self._loop, name=f"labelscout-task-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._reaper, name="labelscout-reaper", daemon=True)
        t.start()
        self._threads.append(t)

    def resume(self) -> int:
        """Queue again what a previous server process left unfinished."""
        pending = self.store.unfinished_tasks()
        for job_id, name in pending:
            self.store.requeue_task(job_id, name, "the server restarted while it ran")
            self.submit(job_id, name)
        return len(pending)

    def submit(self, job_id: str, name: str, config: dict | None = None) -> None:
        self._queue.put((0 if name == "final" else 1, next(self._order), job_id, name))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                _, _, job_id, name = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                supervise(self.settings, self.store, job_id, name, self.submit)
            except Exception:  # a database hiccup must not kill the pool thread
                log.exception("supervising %s/%s failed", job_id, name)

    def _reaper(self) -> None:
        while not self._stop.wait(max(1.0, self.settings.heartbeat_s)):
            try:
                reap(self.settings, self.store, self.submit)
            except Exception:
                log.exception("reaper pass failed")

    def stop(self) -> None:
        self._stop.set()


class CeleryExecutor:
    """Tasks go to Celery workers through the broker (queue ``cpu`` or ``gpu``); the
    server only runs the reaper."""

    def __init__(self, settings: ServiceSettings, store: JobStore):
        from .celery_app import make_celery

        self.settings, self.store = settings, store
        self.app = make_celery(settings)
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._reaper, name="labelscout-reaper", daemon=True).start()

    def resume(self) -> int:
        return 0  # the broker holds the queue; lost tasks come back through the reaper

    def submit(self, job_id: str, name: str, config: dict | None = None) -> None:
        submit_celery(self.app, self.store, job_id, name, config)

    def _reaper(self) -> None:
        while not self._stop.wait(max(1.0, self.settings.heartbeat_s)):
            try:
                reap(self.settings, self.store, self.submit)
            except Exception:
                log.exception("reaper pass failed")

    def stop(self) -> None:
        self._stop.set()


def submit_celery(app, store: JobStore, job_id: str, name: str, config: dict | None = None) -> None:
    if config is None:
        job = store.job(job_id)
        config = job["params"] if job else {}
    from .celery_app import final_queue

    queue = task_queue(config)
    app.send_task("labelscout.run_task", args=[job_id, name], queue=final_queue(queue) if name == "final" else queue)


def make_executor(settings: ServiceSettings, store: JobStore):
    return CeleryExecutor(settings, store) if settings.broker_url else LocalExecutor(settings, store)
