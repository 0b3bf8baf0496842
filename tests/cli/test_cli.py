"""The command line: help everywhere, documented commands, real runs, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from labelscout.cli import app, main
from _cli import run_cli

REPO = Path(__file__).resolve().parents[2]


def _commands():
    group = typer.main.get_group(app)
    return sorted(group.commands)


def test_top_level_help_lists_commands(capsys):
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0
    for name in _commands():
        assert name in out


@pytest.mark.parametrize("name", _commands())
def test_every_command_has_help(name, capsys):
    group = typer.main.get_group(app)
    assert group.commands[name].help, f"command {name} has no help text"
    code, out, _ = run_cli([name, "--help"], capsys)
    assert code == 0 and "Usage" in out
    assert 80 < max(len(line) for line in out.splitlines()) <= 120  # not squeezed into 80 columns when piped
    for param in group.commands[name].params:
        if type(param).__name__ in ("Option", "TyperOption") and not getattr(param, "hidden", False):
            assert param.help, f"option {param.opts} of {name} has no help"


@pytest.mark.parametrize("name", _commands())
def test_every_command_is_documented_in_the_readme(name):
    readme = (REPO / "README.md").read_text()
    assert f"labelscout {name}" in readme, f"README.md does not document `labelscout {name}`"


def test_select_and_embed_real_runs(cifar_sample, small_model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run_cli(["select", cifar_sample, "-n", "10%", "--out", out, "--model", small_model_dir,
                                 "--copy", "--device", "cpu"], capsys)
    assert code == 0, err
    assert "Selected 6 of 60" in stdout and str(out / "selection.txt") in stdout
    assert len((out / "selection.txt").read_text().split()) == 6
    assert len(list((out / "selected").rglob("*.jpg"))) == 6
    code, stdout, err = run_cli(["--quiet", "embed", cifar_sample, "--out", tmp_path / "emb", "--model", small_model_dir], capsys)
    assert code == 0, err
    assert "0 new, 60 from cache" in stdout  # the select run above filled the cache
    assert json.loads((tmp_path / "emb" / "run.json").read_text())["counts"]["pool"] == 60


@pytest.mark.parametrize("args,needle", [
    (["-n", "1000"], "at most 60"),
    (["-n", "10", "--strategy", "coreset", "--metric", "cosin"], "'metric' parameter of SelectConfig must be one of {'cosine', 'l2'}. Got 'cosin'"),
    (["-n", "10", "--strategy", "nope"], "'strategy' parameter must be one of"),
    (["-n", "10", "--exclude", "/no/such/file.txt"], "does not exist"),
    (["-n", "0"], "'n' parameter must be at least 1"),
])
def test_errors_are_one_actionable_line(cifar_sample, small_model_dir, tmp_path, capsys, args, needle):
    code, _, err = run_cli(["select", cifar_sample, "--out", tmp_path / "r", "--model", small_model_dir, *args], capsys)
    assert code == 1
    assert err.startswith("error: ") and needle in err
    assert "Traceback" not in err
    assert not (tmp_path / "r").exists()  # validated before the run folder is created


def test_missing_folder_error(tmp_path, capsys):
    code, _, err = run_cli(["select", tmp_path / "nope", "-n", "3", "--out", tmp_path / "r"], capsys)
    assert code == 1 and "does not exist" in err and not (tmp_path / "r").exists()


def test_usage_error_exit_code(capsys):
    # SOURCE is optional (--embeddings replaces it), so the first thing missing is -n
    code, _, err = run_cli(["select"], capsys)
    assert code == 2 and "Missing option" in err


def test_console_script_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "labelscout", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("labelscout ")


@pytest.mark.parametrize("args", [["--help"], ["select", "--help"], ["train", "--help"]])
def test_help_loads_no_heavy_library(args):
    """`labelscout --help` took 9 s importing torch, UMAP and numba; they load where used."""
    import subprocess
    import sys

    code = ("import sys\nfrom labelscout.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'umap', 'numba', 'faiss', 'sklearn', 'av', 'PIL') if m in sys.modules))" % args)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "PYTHONPATH": str(REPO / "src")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
