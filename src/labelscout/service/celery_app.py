"""The Celery side: one task, ``labelscout.run_task(job_id, task_name)``, acknowledged
late so a worker that dies mid-task leaves the message to be delivered again.

A worker consumes the queues it declares (``cpu``, ``gpu``); each Celery task body is a
supervisor (:func:`labelscout.service.tasks.supervise`) of one task process, so a worker
runs ``--concurrency`` tasks at once in a thread pool while the work itself happens in
child processes (no daemonic-process limits, memory returned after every task).

A job's final task (its selection) goes to a queue of its own, ``cpu.final`` / ``gpu.final``,
which a worker of ``cpu`` also consumes, and consumes first (Redis ``BRPOP`` over the keys in
a fixed order, ``queue_order_strategy = "priority"``): one job's selection never waits behind
the shards other jobs queued after it (Redis lists are first in, first out). Shards cannot
starve in turn: a job has one final task, released only when its shards are done.
"""
from __future__ import annotations

from celery import Celery
from kombu import Queue

from .settings import ServiceSettings

__all__ = ["make_celery", "QUEUES", "final_queue", "consumed_queues"]

QUEUES = ("cpu", "gpu")


def final_queue(queue: str) -> str:
    """The queue of final tasks for the workers of ``queue``."""
    return f"{queue}.final"


def consumed_queues(wanted: list[str]) -> list[str]:
    """What a worker of ``wanted`` consumes, in priority order: the final queues first."""
    return [final_queue(q) for q in wanted] + list(wanted)


def make_celery(settings: ServiceSettings) -> Celery:
    app = Celery("labelscout", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,  # ack after the task ends: a killed worker's task is redelivered
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,  # a busy worker holds no extra tasks another could run
        task_ignore_result=True,  # results are in the job store, not the broker
        task_queues=[Queue(q) for q in consumed_queues(list(QUEUES))],
        task_default_queue="cpu",
        # queues are read in the order declared (final queues first), not round-robin
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_s, "queue_order_strategy": "priority"},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        labelscout_settings=settings.to_dict(),
    )

    @app.task(name="labelscout.run_task", bind=True)
    def run_task(self, job_id: str, name: str) -> str:
        from .executors import submit_celery
        from .store import JobStore
        from .tasks import supervise

        s = ServiceSettings.from_dict(self.app.conf.labelscout_settings)
        store = _store(s)
        return supervise(s, store, job_id, name, lambda j, n: submit_celery(self.app, store, j, n))

    return app


_stores: dict[str, object] = {}


def _store(settings: ServiceSettings):
    from .store import JobStore

    if settings.db_url not in _stores:
        _stores[settings.db_url] = JobStore(settings.db_url)
    return _stores[settings.db_url]
