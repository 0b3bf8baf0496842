"""One run's context: its record (config, origin, status, timings, counts), its folder,
its reporter. Every job (embed, select, inspect, train) runs its stages inside one.

The record file is written when the run starts (status "running": an unfinished run is
recognisable), after it ends ("finished", "failed" with the error, or "cancelled"), and
whenever a stage wants it on disk. A stage is entered with :meth:`RunContext.stage`,
which checks for cancellation, times the stage and reports it.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import Cancelled
from ..reporting import Reporter, forward_logs
from .outputs import prepare_run_folder
from .record import RUN_FILE, RunRecord

__all__ = ["RunContext"]


class RunContext:
    """``with RunContext(...) as ctx:`` creates ``out`` (if any), writes the record and
    keeps it true to the end of the run.

    config : a validated config (``to_dict()`` goes into the record whole).
    origin : who started the run (a command line, "python api", "service job 42").
    reporter : progress, log lines and cancellation (see :mod:`labelscout.reporting`).
    record_file : the record's name in ``out`` (run.json; inspect writes inspect.json so
        that it never clobbers a selection's record in the same folder).
    """

    def __init__(self, config: Any, *, origin: str, out: str | Path | None = None, reporter: Reporter | None = None,
                 seed: int | None = None, record_file: str = RUN_FILE, record: RunRecord | None = None,
                 inputs: Sequence[str | Path | None] = ()):
        self.config = config
        self.out = Path(out) if out is not None else None
        self.reporter = reporter if reporter is not None else Reporter()
        self.record_file = record_file
        self.record = record or RunRecord(command=origin, seed=seed)
        self.record.config = config.to_dict()
        self.record.config_type = type(config).__name__
        self.record.extra["origin"] = origin
        self.inputs = list(inputs)  # the run folder may not lie inside these
        self._t0 = time.perf_counter()
        self._logs: contextlib.ExitStack | None = None

    def __enter__(self) -> "RunContext":
        if self.out is not None:
            self.out = prepare_run_folder(self.out, inputs=self.inputs)
            self.write()  # status "running" marks an unfinished run
        self._logs = contextlib.ExitStack()
        self._logs.enter_context(forward_logs(self.reporter))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc is not None:
                self.record.status = ("cancelled" if isinstance(exc, Cancelled) else
                                      "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
                self.record.extra["error"] = f"{type(exc).__name__}: {exc}"
            elif self.record.status == "running":
                self.finish()
            if self.out is not None:
                self.write()
        finally:
            if self._logs is not None:
                self._logs.close()

    def finish(self) -> None:
        self.record.timings["total"] = round(time.perf_counter() - self._t0, 4)
        self.record.status = "finished"

    def write(self) -> None:
        if self.out is not None:
            self.record.write(self.out, self.record_file)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time stage ``name`` into the record; stop first if the caller cancelled."""
        self.reporter.check()
        with self.record.timer(name):
            yield
