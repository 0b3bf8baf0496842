"""`labelscout report` and select's --report/--no-report."""
from __future__ import annotations

from _cli import run_cli as _run


def test_select_writes_the_report_unless_told_not_to(cifar_sample, small_model_dir, tmp_path, capsys):
    args = ["--quiet", "select", cifar_sample, "-n", "5", "--model", small_model_dir, "--device", "cpu"]
    code, out, err = _run([*args, "--out", tmp_path / "with"], capsys)
    assert code == 0, err
    assert (tmp_path / "with" / "report.html").is_file() and f"Report -> {tmp_path / 'with' / 'report.html'}" in out
    code, out, err = _run([*args, "--out", tmp_path / "without", "--no-report"], capsys)
    assert code == 0, err
    assert not (tmp_path / "without" / "report.html").exists() and "Report" not in out

    # the report command builds it for a finished run, elsewhere if asked
    code, out, err = _run(["--quiet", "report", tmp_path / "without", "--out", tmp_path / "r.html"], capsys)
    assert code == 0, err
    assert f"Report -> {tmp_path / 'r.html'}" in out and "MB)" in out
    html = (tmp_path / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "Embedding map" in html and "without" in html


def test_report_of_a_folder_that_is_not_a_run_is_one_actionable_line(tmp_path, capsys):
    code, _, err = _run(["report", tmp_path], capsys)
    assert code == 1 and err.startswith("error: ") and "run.json" in err and "hint:" in err
    assert "Traceback" not in err
