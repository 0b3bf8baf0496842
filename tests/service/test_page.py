"""The page as a person uses it, in headless Chromium against a real server: paste the
token, upload images, start a selection, watch it finish, see its files."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from _browser import CHROMIUM_ARGS, chromium_or_skip
from _service import REPO, copy_images, free_port, serve_process

pytestmark = pytest.mark.browser


def test_page_uploads_starts_a_selection_and_lists_its_files(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the `playwright` package (test extra) is not installed")
    chromium = chromium_or_skip()
    data_dir = tmp_path / "data"
    made = subprocess.run([sys.executable, "-m", "labelscout", "serve", "--data-dir", str(data_dir), "--create-token"],
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")}, capture_output=True, text=True, timeout=120)
    token = made.stdout.strip().splitlines()[-1]
    images = _flat(copy_images(12, tmp_path / "imgs"), tmp_path / "flat")
    validation = _flat(copy_images(8, tmp_path / "val-imgs", skip=12), tmp_path / "val-flat")
    port = free_port()
    with open(tmp_path / "serve.log", "wb") as log:
        server = serve_process(data_dir, port, log)
        try:
            def drive() -> None:
                with sync_api.sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
                    page = browser.new_page()
                    problems = []
                    page.on("pageerror", lambda e: problems.append(str(e)))
                    page.goto(f"http://127.0.0.1:{port}/")
                    page.fill("#token", token)
                    page.dispatch_event("#token", "change")
                    page.set_input_files("#files", [str(f) for f in images])
                    page.click("#upload")
                    page.wait_for_function("!document.getElementById('start').disabled || document.getElementById('log').className",
                                           timeout=30_000)
                    assert page.get_attribute("#log", "class") != "err", page.inner_text("#log")
                    assert "12 images" in page.inner_text("#dataset")
                    page.fill("#n", "3")
                    page.click("#start")
                    page.wait_for_function("['succeeded', 'failed', 'cancelled'].includes(document.getElementById('status').textContent)",
                                           timeout=120_000)
                    assert page.inner_text("#status") == "succeeded", page.inner_text("#log")
                    page.wait_for_selector("#links a", timeout=10_000)
                    links = page.eval_on_selector_all("#links a", "els => els.map(e => e.textContent)")
                    assert {"selection.txt", "selection.csv", "run.json", "report.html"} <= set(links), links
                    assert page.evaluate("localStorage.getItem('labelscout-token')") == token
                    assert page.input_value("#strategy") == "auto"  # the CLI's default
                    first_job = page.inner_text("#job")
                    assert _job(port, token, first_job)["params"]["strategy"] == "auto"

                    # match a validation set: its images uploaded on their own, density-match picks
                    page.click("details summary")
                    page.set_input_files("#vfiles", [str(f) for f in validation])
                    page.click("#vupload")
                    page.wait_for_function("document.getElementById('vdataset').textContent !== 'none' || "
                                           "document.getElementById('log').className", timeout=30_000)
                    assert "8 images" in page.inner_text("#vdataset"), page.inner_text("#log")
                    validation_id = page.inner_text("#vdataset").split(":")[0]
                    # fisher-match needs class folders: the server's 422 is shown, nothing starts
                    page.select_option("#strategy", "fisher-match")
                    page.click("#start")
                    page.wait_for_function("document.getElementById('log').className === 'err'", timeout=30_000)
                    assert "class folders" in page.inner_text("#log") and page.inner_text("#job") == first_job
                    page.select_option("#strategy", "density-match")
                    page.click("#start")
                    page.wait_for_function(f"!['none', '{first_job}'].includes(document.getElementById('job').textContent)",
                                           timeout=30_000)
                    page.wait_for_function("['succeeded', 'failed', 'cancelled'].includes(document.getElementById('status').textContent)",
                                           timeout=120_000)
                    assert page.inner_text("#status") == "succeeded", page.inner_text("#log")
                    params = _job(port, token, page.inner_text("#job"))["params"]
                    assert (params["strategy"], params["validation"]) == ("density-match", validation_id)
                    assert problems == []
                    browser.close()

            # in a thread of its own: another test's session-wide playwright may hold this
            # thread's event loop, and the sync API refuses to run inside a running loop
            failures = []
            thread = threading.Thread(target=lambda: _catch(drive, failures))
            thread.start()
            thread.join(300)
            if failures:
                raise failures[0]
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(20)


def _catch(fn, failures: list) -> None:
    try:
        fn()
    except BaseException as exc:  # re-raised in the test's thread
        failures.append(exc)


def _flat(folder, dest):
    """The images of ``folder`` under distinct base names in ``dest`` (a plain file input sends
    base names only)."""
    out = []
    for f in sorted(folder.rglob("*.jpg")):
        out.append(dest / f"{f.parent.name}-{f.name}")
        out[-1].parent.mkdir(parents=True, exist_ok=True)
        out[-1].write_bytes(f.read_bytes())
    return out


def _job(port: int, token: str, job_id: str) -> dict:
    import json
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.loads(res.read())
