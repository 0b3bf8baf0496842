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
    images = []  # a plain file input sends base names only, so they must differ
    for f in sorted(copy_images(12, tmp_path / "imgs").rglob("*.jpg")):
        images.append(tmp_path / "flat" / f"{f.parent.name}-{f.name}")
        images[-1].parent.mkdir(exist_ok=True)
        images[-1].write_bytes(f.read_bytes())
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
