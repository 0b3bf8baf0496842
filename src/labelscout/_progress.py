"""One progress helper for every long loop (embedding, training, decoding, selection).

``progress`` arguments throughout the library take a :class:`~labelscout.reporting.Reporter`
(progress, log lines, cancellation for a caller such as a job service) or a bool: True
draws rich bars on stderr, False is silent, None follows the process default. The Python
API is silent by default; the CLI turns bars on unless ``--quiet``;
``LABELSCOUT_PROGRESS=0`` turns them off wherever a caller did not ask for them.
"""
from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from .reporting import Reporter, Stage

__all__ = ["progress_bar", "set_default_progress", "bars_enabled"]

_default: bool = False


def set_default_progress(enabled: bool) -> None:
    """Set whether bars show when a caller does not say (the CLI turns them on unless --quiet)."""
    global _default
    _default = enabled


def bars_enabled(progress: bool | None) -> bool:
    """Whether to draw bars: an explicit True / False wins, then the environment, then the default."""
    if progress is not None:
        return bool(progress)
    if os.environ.get("LABELSCOUT_PROGRESS", "1") == "0":
        return False
    return _default


@contextlib.contextmanager
def progress_bar(description: str, total: float | None, progress: "bool | Reporter | None" = None,
                 unit: str = "") -> Iterator["Stage"]:
    """One stage of work reported to ``progress`` (a reporter or a bool, see above);
    yields a :class:`~labelscout.reporting.Stage` with ``advance(n)`` / ``update(total=)``."""
    from .reporting import as_reporter

    with as_reporter(progress).stage(description, total, unit) as task:
        yield task
