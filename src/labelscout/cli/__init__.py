"""The ``labelscout`` command line: one module per command group, each only parses
arguments, calls the Python API and formats its results.

Library errors (:class:`labelscout.errors.LabelscoutError`) become a one-line error with a
hint and a non-zero exit code here, at the boundary, and nowhere else.
"""
from __future__ import annotations

import importlib
import logging
import sys


from ..errors import LabelscoutError
from ._app import app, state

__all__ = ["app", "main"]

# Command modules register themselves on `app` when imported.
_COMMAND_MODULES = ["select", "embed", "inspect", "train", "report", "bench", "models"]
for _name in _COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``labelscout`` script.

    Typer/click handle usage errors (exit code 2) and --help themselves; labelscout's own
    errors propagate out of them and become one line plus a hint here (exit code 1).
    """
    try:
        app(args=argv, prog_name="labelscout")
    except LabelscoutError as exc:
        if state.verbose:
            logging.getLogger("labelscout").debug("error", exc_info=True)
        _fail(f"error: {exc.message}" + (f"\n  hint: {exc.hint}" if exc.hint else ""))
    except KeyboardInterrupt:
        _fail("interrupted; finished work is kept and a rerun resumes from it", code=130)
    except Exception as exc:
        if state.verbose:
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc}\n  hint: rerun with --verbose for the traceback and report it.")


def _fail(message: str, code: int = 1) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)
