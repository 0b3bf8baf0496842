"""Running the CLI in-process the way a shell would, for the CLI tests."""
from __future__ import annotations

from labelscout.cli import main


def run_cli(args, capsys):
    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err
