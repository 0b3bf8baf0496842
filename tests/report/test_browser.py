"""The report as a person sees it: opened from disk in headless Chromium, with no network.

Chromium is Debian's (``apt-get install chromium``; the test installs it itself where it
runs as root with apt and the package registry is reachable), driven by the Python
``playwright`` package with ``executable_path`` (no browser download). Set
``LABELSCOUT_SCREENSHOT_DIR`` to keep the screenshots.
"""
from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import labelscout
from labelscout.results import Issues

pytestmark = pytest.mark.browser

BACKGROUND = (251, 251, 253)  # the map canvas


# `browser`: one headless Chromium for the whole session, from tests/conftest.py (a second
# Playwright instance cannot run while another is open in the same thread)


@pytest.fixture
def report_run(cifar_sample, small_model_dir, tmp_path) -> Path:
    """A real run on 60 CIFAR images with a report, plus detector output for the galleries."""
    run = tmp_path / "run"
    res = labelscout.select(cifar_sample, 10, out=run, model=str(small_model_dir), device="cpu", workers=0, progress=False)
    ids = res.embeddings.ids
    issues = Issues.concat([
        Issues.from_rows("near_duplicate", ids[:3], [0.9] * 3, [1] * 3, [{"group": 1, "distance": 0.01}] * 3),
        Issues.from_rows("outlier", ids[10:14], [0.9, 0.8, 0.7, 0.1], [1, 1, 1, 0], [{"distance": 2.0}] * 4),
    ])
    (run / "issues.csv").write_text(issues.to_csv())
    labelscout.report(run, progress=False)
    return run


def _near(pixels: np.ndarray, colour, tol: int = 18) -> int:
    return int((np.abs(pixels[..., :3].astype(np.int16) - np.array(colour)).max(-1) <= tol).sum())


def _hex(h: str):
    return tuple(int(h[i:i + 2], 16) for i in (1, 3, 5))


def test_report_opens_offline_draws_the_map_and_shows_thumbnails_on_hover(browser, report_run, tmp_path):
    page = browser.new_page()
    problems, requests = [], []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((report_run / "report.html").resolve().as_uri())
    page.wait_for_function("window.labelscoutMap && window.labelscoutMap.ready && window.labelscoutMap.frames > 0", timeout=20_000)

    # every request stayed on disk or in the page: nothing from the network
    assert all(u.startswith(("file:", "data:")) for u in requests), [u for u in requests if not u.startswith(("file:", "data:"))]

    # the map canvas drew the points: read its pixels back
    assert page.evaluate("window.labelscoutMap.drawn") == 60
    w, h, raw = page.evaluate("""(() => { const c = document.getElementById('ls-map');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        return [c.width, c.height, btoa(Array.from(d, b => String.fromCharCode(b)).join(''))]; })()""")
    canvas = np.frombuffer(base64.b64decode(raw), np.uint8).reshape(h, w, 4)
    assert (np.abs(canvas[..., :3].astype(int) - BACKGROUND).max(-1) > 30).sum() > 60 * 8  # dots, not a blank canvas
    assert (canvas[..., :3].max(-1) < 100).sum() > 10 * 5  # the dark rings of the 10 selected samples
    assert _near(canvas, _hex("#4e79a7")) > 0  # the first label colour

    # hovering a selected point shows its picture and id
    index = page.evaluate("(() => { for (let i = 0; i < 60; i++) if (window.labelscoutMap.statusOf(i) === 1) return i; })()")
    page.locator("#map").scroll_into_view_if_needed()
    pos = page.evaluate(f"window.labelscoutMap.position({index})")
    page.mouse.move(pos["x"], pos["y"])
    page.wait_for_function(f"window.labelscoutMap.hovered === {index} && window.labelscoutMap.tipThumbDrawn", timeout=10_000)
    assert page.locator("#ls-tip").is_visible()
    ids = page.evaluate("JSON.parse(document.getElementById('ls-data').textContent).ids")
    assert page.locator("#ls-tip-id").inner_text() == ids[index]
    assert "pick #" in page.locator("#ls-tip").inner_text()
    thumb = np.array(page.evaluate("""Array.from(document.getElementById('ls-tip-thumb').getContext('2d')
        .getImageData(0, 0, 96, 96).data)"""), np.uint8).reshape(96, 96, 4)
    assert thumb[..., :3].std() > 10  # a picture, not the empty placeholder

    # zoom and pan keep drawing, and the page raised no error along the way
    page.mouse.wheel(0, -600)
    page.mouse.move(pos["x"] + 40, pos["y"] + 20)
    page.mouse.down(); page.mouse.move(pos["x"] + 120, pos["y"] + 60); page.mouse.up()
    page.wait_for_function("window.labelscoutMap.frames > 2")
    assert page.evaluate("window.labelscoutMap.drawn") > 0

    # a screenshot a person would look at: not blank, in the report's colours
    page.click("#ls-reset")
    page.mouse.move(pos["x"], pos["y"])
    page.wait_for_function(f"window.labelscoutMap.hovered === {index} && window.labelscoutMap.tipThumbDrawn", timeout=10_000)
    map_shot = page.locator(".map-box").screenshot()
    map_img = np.asarray(Image.open(io.BytesIO(map_shot)).convert("RGB"))
    assert _near(map_img, (17, 24, 39), 14) > 3000  # the tooltip's panel is in the picture
    page.evaluate("window.scrollTo(0, 0)")
    shot = page.screenshot(full_page=True)
    img = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))
    assert img.shape[0] > 2000 and img.std() > 20
    assert _near(img, _hex("#111827"), 6) > 10_000  # the header band
    assert _near(img, _hex("#2563eb"), 30) > 500  # selected: card, thumbnail frames, histogram
    assert _near(img, _hex("#8b94a5"), 20) > 100  # pool: histogram and balance bars
    galleries = page.locator("#issues figure").count()
    assert galleries == 3 + 4  # the duplicate group and the outliers
    keep = os.environ.get("LABELSCOUT_SCREENSHOT_DIR")
    for folder in filter(None, [tmp_path, keep]):
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "report-full.png").write_bytes(shot)
        (Path(folder) / "report-map.png").write_bytes(map_shot)
    assert not problems, problems
    page.close()
