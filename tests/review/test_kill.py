"""A review server killed mid-review (SIGKILL, no chance to clean up) and started again
loses nothing the page was told is saved, and says so when a mark could not be saved."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import labelscout
from labelscout.review import DecisionStore, export_review
from _browser import marks, open_page, settle

pytestmark = pytest.mark.browser
SRC = Path(labelscout.__file__).resolve().parents[1]


def start_server(dataset, run: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
           "LABELSCOUT_REVIEWER": "kim"}
    proc = subprocess.Popen([sys.executable, "-m", "labelscout", "review", str(dataset.root), "--labels", str(dataset.labels),
                             "--embeddings", str(dataset.embeddings), "--out", str(run), "--no-browser", "--method", "knn"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 120
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"Review at (http://\S+)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise AssertionError("the server did not start:\n" + "".join(lines))


def test_killed_server_restarts_with_nothing_lost(browser, dataset, tmp_path):
    run = tmp_path / "run"
    proc, url = start_server(dataset, run)
    try:
        page = open_page(browser, url)
        page.keyboard.press("Delete")
        page.keyboard.type("gr"); page.keyboard.press("Enter")
        page.keyboard.press("Space")
        page.keyboard.press("Space")
        settle(page)
        saved = marks(page, 4)
        assert saved == ["wrong:", "wrong:green", "correct", "correct"]
        assert page.locator("#save-state").inner_text() == "saved"
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-review: the page is still open
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    # a mark made while the server is away is not claimed as saved
    page.keyboard.press("Space")
    page.wait_for_function("document.getElementById('save-state').className === 'err'", timeout=10_000)
    assert "not saved" in page.locator("#save-state").inner_text()
    page.close()

    stored = DecisionStore(run).since(0)
    assert [(d.verdict, d.new_label, d.reviewer) for d in stored] == [
        ("wrong", None, "kim"), ("wrong", "green", "kim"), ("correct", None, "kim"), ("correct", None, "kim")]
    proc, url = start_server(dataset, run)  # the same run folder: resumes
    try:
        page = open_page(browser, url)
        assert marks(page, 5) == saved + [""]
        assert "4 of 60 reviewed" in page.locator("#summary").inner_text()
        assert not page.problems, page.problems
        page.close()
    finally:
        proc.terminate()
        proc.wait(30)
    result = export_review(run, tmp_path / "corrected.csv")
    assert result.counts["reviewed"] == 4 and result.counts["relabeled"] == 1 and result.counts["confirmed"] == 2
