"""The Typer application object and the global options every command shares."""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

import typer
from typer import rich_utils

from .. import __version__
from .._progress import set_default_progress


@dataclass
class _State:
    quiet: bool = False
    verbose: bool = False
    argv: list[str] | None = None  # the command line, recorded as each run's origin


def origin() -> str:
    """This command line, for run.json: the CLI is the caller, so it says where the run came from."""
    import shlex
    import sys

    argv = state.argv if state.argv is not None else sys.argv[1:]
    return " ".join(shlex.quote(str(a)) for a in ["labelscout", *argv])


state = _State()

# rich draws help at 80 columns when output is not a terminal (piped into less, a file,
# CI logs), which squeezes the option help into a narrow column; give it room there.
if rich_utils.MAX_WIDTH is None and "COLUMNS" not in os.environ and not sys.stdout.isatty():
    rich_utils.MAX_WIDTH = 120

app = typer.Typer(
    name="labelscout",
    help="Decide what to label: select diverse, informative samples from unlabeled images and video.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"labelscout {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors and the final result line."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print debug logs and full tracebacks."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    state.quiet = quiet
    set_default_progress(not quiet)
    state.verbose = verbose
    level = logging.DEBUG if verbose else (logging.ERROR if quiet else logging.WARNING)
    from rich.logging import RichHandler

    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(show_time=False, show_path=verbose)], force=True)
    logging.getLogger("labelscout").setLevel(level)
