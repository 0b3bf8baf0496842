from __future__ import annotations

import shutil
import tempfile

import pytest

from _browser import CHROMIUM_ARGS, chromium_or_skip

from _review_data import make_dataset


@pytest.fixture
def dataset(tmp_path):
    return make_dataset(tmp_path / "data")


@pytest.fixture(scope="session")
def browser():
    path = chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api", reason="the `playwright` package (test extra) is not installed")
    profile = tempfile.mkdtemp(prefix="labelscout-review-chromium-")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(profile, executable_path=path, headless=True, args=CHROMIUM_ARGS,
                                                       viewport={"width": 1200, "height": 800})
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)
