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
from typer import _click as click  # typer vendors click; its exceptions are these


from ..errors import LabelscoutError
from ._app import app, state

__all__ = ["app", "main"]

# Command modules register themselves on `app` when imported.
_COMMAND_MODULES = ["select", "embed", "inspect", "train", "report", "review", "bench", "models", "serve", "worker"]
for _name in _COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")


#: how long an interrupted run may take to unwind before the process ends anyway
INTERRUPT_GRACE_S = 0.5


def _watch_interrupts() -> None:
    """Make SIGINT end the process within a second, whatever the main thread is doing.

    Python runs a signal handler only between bytecodes of the main thread, so a main
    thread inside a long C call (a numba kernel, a blocking read) would not see Ctrl-C
    until the call returns. The C-level handler does write the signal number to the wakeup
    fd at once; a watcher thread blocked on that pipe wakes, gives the normal path
    (KeyboardInterrupt -> run.json "interrupted" -> exit 130) INTERRUPT_GRACE_S to finish,
    then marks every running run.json "interrupted" itself and ends the process.
    """
    import os
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except (ValueError, OSError):  # not the main thread of the main interpreter
        return

    def watch() -> None:
        import time

        while True:
            data = os.read(r, 64)
            if data and signal.SIGINT in data:
                break
        time.sleep(INTERRUPT_GRACE_S)
        from ..runs.record import mark_running_interrupted

        mark_running_interrupted("KeyboardInterrupt: SIGINT; the run did not stop in time and was ended")
        _hard_exit("interrupted; finished work is kept and a rerun resumes from it", 130)

    threading.Thread(target=watch, name="labelscout-interrupt-watch", daemon=True).start()


def _hard_exit(message: str, code: int) -> None:
    """Print, flush and end the process now: threads stuck in I/O (a decoder, a read) are
    not waited for, as a normal interpreter exit would."""
    import os

    print(message, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``labelscout`` script.

    Typer/click handle usage errors (exit code 2) and --help themselves; labelscout's own
    errors propagate out of them and become one line plus a hint here (exit code 1).
    Run as a process (``argv`` None), SIGINT ends it within a second with exit code 130 and
    run.json marked "interrupted" (:func:`_watch_interrupts`).
    """
    state.argv = [str(a) for a in argv] if argv is not None else sys.argv[1:]
    as_process = argv is None
    if as_process:
        _watch_interrupts()
    interrupted = "interrupted; finished work is kept and a rerun resumes from it"
    try:
        # not standalone: click would turn an EOFError from any library into "Aborted!" and
        # a KeyboardInterrupt into a silent exit 130; both are handled here instead
        code = app(args=argv, prog_name="labelscout", standalone_mode=False)
    except click.exceptions.ClickException as exc:  # usage errors: shown the way typer shows them
        _show_usage_error(exc)
        sys.exit(exc.exit_code)
    except typer.Abort as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, EOFError):
            _fail(f"internal error: EOFError: {cause}\n  hint: a file ended early; rerun with --verbose for the traceback and report it.")
        _fail("Aborted.")
    except LabelscoutError as exc:
        if state.verbose:
            logging.getLogger("labelscout").debug("error", exc_info=True)
        _fail(f"error: {exc.message}" + (f"\n  hint: {exc.hint}" if exc.hint else ""))
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        if state.verbose:
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc}\n  hint: rerun with --verbose for the traceback and report it.")
    if code == 130:  # typer turns KeyboardInterrupt into exit code 130; run.json is already marked
        if as_process:  # worker threads stuck in a read are not waited for
            _hard_exit(interrupted, 130)
        _fail(interrupted, code=130)
    sys.exit(code if isinstance(code, int) else 0)  # as click's standalone mode did: main() always exits


def _show_usage_error(exc: "click.exceptions.ClickException") -> None:
    try:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
    except Exception:  # noqa: BLE001 - plain click formatting when rich is unavailable
        exc.show()


def _fail(message: str, code: int = 1) -> None:
    print(message, file=sys.stderr)
    sys.exit(code)
