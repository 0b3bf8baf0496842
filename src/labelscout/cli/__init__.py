"""The ``labelscout`` command line: one module per command group, each only parses
arguments, calls the Python API and formats its results.

Library errors (:class:`labelscout.errors.LabelscoutError`) become a one-line error with a
hint and a non-zero exit code here, at the boundary, and nowhere else.
"""
from __future__ import annotations

import importlib
import logging
import sys

import typer

from ..errors import LabelscoutError
from ._app import app, state

__all__ = ["app", "main"]

# Command modules register themselves on `app` when imported.
_COMMAND_MODULES = ["select", "embed", "train"]
for _name in _COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``labelscout`` script."""
    try:
        app(args=argv, standalone_mode=False)
    except LabelscoutError as exc:
        _fail(f"error: {exc.message}" + (f"\n  hint: {exc.hint}" if exc.hint else ""))
    except KeyboardInterrupt:
        _fail("interrupted; finished work is kept and a rerun resumes from it", code=130)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", None)
        if code is None:
            code = getattr(exc, "code", 0)
        sys.exit(code or 0)
    except typer.Abort:
        _fail("aborted", code=1)
    except Exception as exc:  # click usage errors come through here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if state.verbose:
            raise
        logging.getLogger("labelscout").debug("unexpected error", exc_info=True)
        _fail(f"internal error: {type(exc).__name__}: {exc}\n  hint: rerun with --verbose for the traceback and report it.")


def _fail(message: str, code: int = 1) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)
