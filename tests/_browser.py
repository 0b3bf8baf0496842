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
