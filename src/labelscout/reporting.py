"""How a running job talks to its caller: progress, log lines and cancellation.

A :class:`Reporter` is passed into every long operation (embedding, video decoding,
training, selection, writing frames, the report). The library calls

* ``reporter.progress(stage, done, total)`` as work advances (``total`` may be None
  while unknown, e.g. seconds of video before the files are probed),
* ``reporter.log(level, message)`` for every ``labelscout`` log record of the run (the
  records the ``labelscout`` logger's level lets through; WARNING unless configured),
* ``reporter.check()`` between units of work; it raises :class:`~labelscout.errors.Cancelled`
  once ``reporter.cancelled()`` is true. Finished work (cached embeddings, checkpoints,
  the run record with status "cancelled") is kept, so a rerun resumes.

Three reporters ship: :class:`Reporter` itself is silent and never cancels (the Python
API's default), :class:`RichReporter` draws today's progress bars on stderr (the CLI), and
:class:`CallbackReporter` forwards everything to callables and cancels on an event or a
predicate (what a job service or a UI uses). Subclass :class:`Reporter` for anything else.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Callable, Iterator

from .errors import Cancelled

__all__ = ["Reporter", "RichReporter", "CallbackReporter", "Stage", "forward_logs"]


class Stage:
    """One stage's progress handle: ``advance(n)`` and ``update(total=...)``; each call
    reports to the reporter and checks for cancellation."""

    def __init__(self, reporter: "Reporter", name: str, total: float | None, unit: str = ""):
        self.reporter, self.name, self.total, self.unit = reporter, name, total, unit
        self.done: float = 0

    def advance(self, n: float = 1) -> None:
        self.done += n
        self.reporter.progress(self.name, self.done, self.total)
        self.reporter.check()

    def update(self, **kwargs: Any) -> None:
        if "total" in kwargs:
            self.total = kwargs["total"]
        if "completed" in kwargs:
            self.done = kwargs["completed"]
        self.reporter.progress(self.name, self.done, self.total)


class Reporter:
    """The silent reporter, and the base of every other: override what you need."""

    def progress(self, stage: str, done: float, total: float | None) -> None:
        """``done`` of ``total`` units of ``stage`` are finished."""

    def log(self, level: int, message: str) -> None:
        """A log line of the run (``level`` as in :mod:`logging`)."""

    def cancelled(self) -> bool:
        """Whether the caller wants the job to stop."""
        return False

    def check(self) -> None:
        """Raise :class:`Cancelled` when the caller asked to stop."""
        if self.cancelled():
            raise Cancelled("The run was cancelled; finished work is kept and a rerun resumes from it.")

    @contextlib.contextmanager
    def stage(self, name: str, total: float | None = None, unit: str = "") -> Iterator[Stage]:
        """A stage of work: reports 0 of ``total`` on entry, yields a :class:`Stage`."""
        self.check()
        task = Stage(self, name, total, unit)
        self.progress(name, 0, total)
        yield task


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def progress_line(name: str, done: float, total: float | None, unit: str, elapsed: float) -> str:
    """One plain progress line: ``embedding: 6000/60000 images (10 %) 0:00:43 eta 0:06:27``."""
    count = f"{done:g}/{total:g}" if total else f"{done:g}"
    line = f"{name}: {count}" + (f" {unit}" if unit else "")
    if total:
        line += f" ({100 * done / total:.0f} %)"
    line += f" {_clock(elapsed)}"
    if total and 0 < done < total:
        line += f" eta {_clock(elapsed * (total - done) / done)}"
    return line


class _LineStage(Stage):
    """A stage reported as plain lines on stderr: one now, then at most one per ``interval``
    seconds as it advances; :meth:`write` at the end (a line equal to the last is skipped)."""

    def __init__(self, reporter: Reporter, name: str, total: float | None, unit: str, interval: float):
        super().__init__(reporter, name, total, unit)
        self.interval, self.start = interval, time.monotonic()
        self.written_at, self.written = self.start, None
        self.write()

    def write(self) -> None:
        import sys

        self.written_at = time.monotonic()
        if self.written != (self.done, self.total):
            self.written = (self.done, self.total)
            print(progress_line(self.name, self.done, self.total, self.unit, self.written_at - self.start),
                  file=sys.stderr, flush=True)

    def advance(self, n: float = 1) -> None:
        super().advance(n)
        if time.monotonic() - self.written_at >= self.interval:
            self.write()

    def update(self, **kwargs: Any) -> None:
        super().update(**kwargs)
        if time.monotonic() - self.written_at >= self.interval:
            self.write()


class RichReporter(Reporter):
    """Progress bars on stderr (rich), one per stage, as the CLI draws them.

    Where stderr is not a terminal (a log file, ``nohup``, CI), a bar would show only when
    the stage ends; plain lines are written instead: at the start, at most every
    ``line_interval`` seconds while it runs, and at the end.
    """

    line_interval: float = 30.0

    @contextlib.contextmanager
    def stage(self, name: str, total: float | None = None, unit: str = "") -> Iterator[Stage]:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.check()
        if not Console(stderr=True).is_terminal:
            task = _LineStage(self, name, total, unit, self.line_interval)
            yield task
            task.write()  # the end
            return
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
        if unit:
            columns.append(TextColumn(unit))
        columns += [TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
        with Progress(*columns, console=Console(stderr=True), transient=False) as prog:
            task_id = prog.add_task(name, total=total)
            reporter = self

            class _Bar(Stage):
                def advance(self, n: float = 1) -> None:
                    prog.advance(task_id, n)
                    super().advance(n)

                def update(self, **kwargs: Any) -> None:
                    prog.update(task_id, **kwargs)
                    super().update(**kwargs)

            yield _Bar(reporter, name, total, unit)


class CallbackReporter(Reporter):
    """Forwards progress and log lines to callables; cancels when ``cancel`` says so.

    on_progress : ``f(stage, done, total)``.
    on_log : ``f(level, message)``.
    cancel : a :class:`threading.Event` (set it to stop) or a callable returning True to
        stop (e.g. one that reads a job's state from a database).
    """

    def __init__(self, on_progress: Callable[[str, float, float | None], None] | None = None,
                 on_log: Callable[[int, str], None] | None = None,
                 cancel: threading.Event | Callable[[], bool] | None = None):
        self.on_progress, self.on_log, self._cancel = on_progress, on_log, cancel

    def progress(self, stage: str, done: float, total: float | None) -> None:
        if self.on_progress is not None:
            self.on_progress(stage, done, total)

    def log(self, level: int, message: str) -> None:
        if self.on_log is not None:
            self.on_log(level, message)

    def cancelled(self) -> bool:
        c = self._cancel
        if c is None:
            return False
        return c.is_set() if isinstance(c, threading.Event) else bool(c())


class _ForwardHandler(logging.Handler):
    """Sends the ``labelscout`` log records of one thread to a reporter."""

    def __init__(self, reporter: Reporter, thread: int):
        super().__init__(logging.DEBUG)
        self.reporter, self.thread = reporter, thread

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:  # another job in another thread has its own reporter
            try:
                self.reporter.log(record.levelno, record.getMessage())
            except Exception:  # noqa: BLE001 - a broken reporter must not break the run
                self.handleError(record)


@contextlib.contextmanager
def forward_logs(reporter: Reporter | None) -> Iterator[None]:
    """While inside, the calling thread's ``labelscout`` log records also go to ``reporter``."""
    if reporter is None or type(reporter).log is Reporter.log:
        yield
        return
    handler = _ForwardHandler(reporter, threading.get_ident())
    logger = logging.getLogger("labelscout")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def as_reporter(progress: "bool | Reporter | None") -> Reporter:
    """The reporter for a ``progress`` argument: a Reporter as it is; True: bars; False:
    silent; None: bars when the process default says so (the CLI turns them on)."""
    if isinstance(progress, Reporter):
        return progress
    from ._progress import bars_enabled

    return RichReporter() if bars_enabled(progress) else Reporter()
