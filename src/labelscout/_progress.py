"""One progress-bar helper for every long loop (embedding, training, decoding, selection).

Bars go to stderr via rich and are hidden when the CLI runs with ``--quiet``, when
``LABELSCOUT_PROGRESS=0`` is set, or when the library is used with ``progress=False``.
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

__all__ = ["progress_bar", "ProgressTask", "set_default_progress"]

_default: bool = True


def set_default_progress(enabled: bool) -> None:
    """Set whether bars show when a caller does not say (the CLI's --quiet turns them off)."""
    global _default
    _default = enabled


class ProgressTask:
    """Handle returned by :func:`progress_bar`; ``advance(n)`` and ``update(total=...)``."""

    def __init__(self, progress=None, task_id=None):
        self._progress = progress
        self._task = task_id

    def advance(self, n: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def update(self, **kwargs) -> None:
        if self._progress is not None:
            self._progress.update(self._task, **kwargs)


def _enabled(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    if os.environ.get("LABELSCOUT_PROGRESS", "1") == "0":
        return False
    return _default


@contextlib.contextmanager
def progress_bar(description: str, total: float | None, progress: bool | None = None, unit: str = "") -> Iterator[ProgressTask]:
    """Context manager showing one bar; yields a :class:`ProgressTask`."""
    if not _enabled(progress):
        yield ProgressTask()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(TextColumn(unit))
    columns += [TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=False) as prog:
        task_id = prog.add_task(description, total=total)
        yield ProgressTask(prog, task_id)
