"""``labelscout models``: every model labelscout can load, and how to get the weights that are missing."""
from __future__ import annotations

import json

import typer

from ._app import app
from ._common import echo_result


@app.command("models")
def models_command(
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON instead of a table."),
) -> None:
    """List the models --model accepts: source, licence, input size, embedding dimension, whether the weights are here."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..models.catalog import list_models

    rows = list_models()
    if as_json:
        echo_result(json.dumps([r.to_json() for r in rows], indent=2))
        return
    table = Table(title="Models (--model NAME)", show_lines=False)
    table.add_column("name", no_wrap=True)  # names are what users copy into --model
    for col in ("source", "licence", "input size", "dim", "weights here", "to get the weights"):
        table.add_column(col, overflow="fold")
    for r in rows:
        cells = (r.name + (" (default)" if r.default else ""), r.source, r.licence, r.input_size, r.embedding_dim,
                 r.weights_present, r.get_weights)
        table.add_row(*(escape(c) for c in cells))  # "labelscout[hub]" is not rich markup
    Console(width=160).print(table)
