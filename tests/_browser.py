"""Headless Chromium for browser tests: Debian's package driven by the Python `playwright`
package with ``executable_path`` (no browser download). Installed with apt where the test
runs as root and it is missing; otherwise the test skips and says how to install it."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_or_skip() -> str:
    path = find_chromium()
    if path is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "chromium"]):
            subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=False)
            path = find_chromium()
            if path:
                break
    if path is None:
        pytest.skip("headless Chromium is not installed and could not be installed here "
                    "(install Debian's `chromium` package: apt-get install -y chromium)")
    return path


# -- the review page ------------------------------------------------------------------
def open_page(browser, url, reviewer=None):
    page = browser.new_page()
    page.problems = []
    page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    origin = url.split("?")[0].rstrip("/")
    page.on("request", lambda r: page.problems.append(f"outside request {r.url}")
            if not r.url.startswith((origin, "blob:" + origin, "data:")) else None)
    page.goto(url + (f"?reviewer={reviewer}" if reviewer else ""))
    page.wait_for_function("window.labelscoutReview && window.labelscoutReview.ready", timeout=20_000)
    return page


def settle(page):
    page.wait_for_function("window.labelscoutReview.state.pending === 0", timeout=10_000)


def marks(page, n):
    """data-mark of the first n tiles, in grid order."""
    return page.evaluate(f"""[...Array({n}).keys()].map(p => {{
        const t = document.querySelector('.tile[data-p="' + p + '"]'); return t ? t.dataset.mark : null; }})""")


def tile_ids(page, n):
    return page.evaluate(f"window.labelscoutReview.state.items.id.slice(0, {n})")
