"""The grid after a fast scroll, in headless Chromium: a class of 1,500 pictures wheeled
through a screen a step. Every tile shows its own picture (each picture is a flat colour
that names it), the tiles are reused rather than rebuilt, pictures arrive a sheet per 32
tiles, and the keys, drag selection and "similar to this" still work on reused tiles."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from labelscout.review import ReviewServer, open_review
from _browser import open_page, settle
from _review_data import colour_index, make_colour_dataset

pytestmark = pytest.mark.browser

SHEET = 32  # tiles per sprite sheet, as in review.js

COUNT_PROBE = """(() => { window.__added = 0;
  new MutationObserver((ms) => ms.forEach((m) => { window.__added += m.addedNodes.length; }))
    .observe(document.getElementById('spacer'), { childList: true });
  window.__sprites0 = performance.getEntriesByType('resource').filter((e) => e.name.includes('/sprite?')).length; })()"""
LOADED = """[...document.querySelectorAll('.tile:not([hidden]) .im')].every((im) => im.dataset.done)"""


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    return make_colour_dataset(tmp_path_factory.mktemp("colours"))


@pytest.fixture
def server(colours, tmp_path):
    session = open_review(colours.root, out=tmp_path / "run", labels=str(colours.labels), embeddings=colours.embeddings,
                          ids=colours.root.parent / "ids.txt", method="knn", reviewer="ann")
    srv = ReviewServer(session).start()
    yield srv
    srv.stop()


def shown(page, ids):
    """(position, sample id the tile says it shows, sample id its picture's colour names) of
    every tile wholly inside the grid's view."""
    page.wait_for_function(LOADED, timeout=20_000)
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"))
    tiles = page.evaluate("""(() => { const g = document.getElementById('grid').getBoundingClientRect();
      return [...document.querySelectorAll('.tile:not([hidden])')].map((t) => {
        const r = t.querySelector('.im').getBoundingClientRect();
        return { p: +t.dataset.p, idx: +t.dataset.idx, x: r.x + r.width / 2, y: r.y + r.height / 2,
                 inside: r.top >= g.top && r.bottom <= g.bottom }; }).filter((t) => t.inside); })()""")
    out = []
    for t in tiles:
        y, x = int(t["y"]), int(t["x"])
        rgb = shot[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).mean(axis=0)
        out.append((t["p"], ids[t["idx"]], ids[colour_index(rgb)]))
    return out


def assert_right_pictures(page, ids):
    tiles = shown(page, ids)
    assert len(tiles) >= 30
    wrong = [t for t in tiles if t[1] != t[2]]
    assert not wrong, wrong[:5]
    return tiles


def test_a_fast_wheel_reuses_tiles_and_every_tile_shows_its_own_picture(browser, server, colours):
    ids = colours.ids
    page = open_page(browser, server.url)
    assert page.locator("#class-name").inner_text() == "many"
    n = 1500
    assert_right_pictures(page, ids)
    page.evaluate(COUNT_PROBE)
    in_view = page.evaluate("window.labelscoutReview.visibleTiles()")
    box = page.locator("#grid").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    steps = 0
    while page.evaluate("(() => { const g = document.getElementById('grid'); return g.scrollTop + g.clientHeight < g.scrollHeight - 2; })()"):
        page.mouse.wheel(0, 900)  # a screen of new tiles a step
        page.wait_for_timeout(16)
        steps += 1
    assert steps >= 10
    tiles = assert_right_pictures(page, ids)
    assert max(p for p, _, _ in tiles) >= n - 20  # at the end of the class
    # the old grid built a tile per position passed (~1,500): now the rows scrolled out
    # lend their tiles to the rows scrolling in
    added = page.evaluate("window.__added")
    assert added <= in_view, (added, in_view)
    # pictures come a sheet per 32 tiles, each sheet asked for once
    sprites = page.evaluate("performance.getEntriesByType('resource').filter((e) => e.name.includes('/sprite?')).length - window.__sprites0")
    assert sprites <= math.ceil(n / SHEET), sprites

    # keys on reused tiles: Home goes back to the top (the sheets kept: nothing asked again)
    page.locator("#grid").focus()
    page.keyboard.press("Home")
    page.wait_for_function("document.querySelector('.tile[data-p=\"0\"]') && document.getElementById('grid').scrollTop === 0")
    assert_right_pictures(page, ids)
    assert page.evaluate("document.querySelectorAll('.tile.cursor').length") == 1
    for _ in range(6):
        page.keyboard.press("PageDown")
    cur = page.evaluate("window.labelscoutReview.state.cursor")
    cols = page.evaluate("window.labelscoutReview.state.cols")
    assert cur == 30 * cols
    assert page.evaluate(f"document.querySelector('.tile[data-p=\"{cur}\"]').classList.contains('cursor')")
    assert_right_pictures(page, ids)
    # drag a run over reused tiles and mark it
    b0 = page.locator(f'.tile[data-p="{cur}"]').bounding_box()
    b2 = page.locator(f'.tile[data-p="{cur + 2}"]').bounding_box()
    page.mouse.move(b0["x"] + 30, b0["y"] + 30); page.mouse.down()
    page.mouse.move(b2["x"] + 30, b2["y"] + 30, steps=6); page.mouse.up()
    assert page.evaluate("[window.labelscoutReview.state.selLo, window.labelscoutReview.state.selHi]") == [cur, cur + 2]
    page.keyboard.press("Space"); settle(page)
    assert page.evaluate(f"[0, 1, 2, 3].map((k) => document.querySelector('.tile[data-p=\"' + ({cur} + k) + '\"]').dataset.mark)") == [
        "correct", "correct", "correct", ""]
    page.keyboard.press("Escape")
    # "similar to this" from a tile deep in the class: the new order draws the right pictures
    page.mouse.click(b2["x"] + 30, b2["y"] + 30)
    like = page.evaluate("window.labelscoutReview.state.items.idx[window.labelscoutReview.state.cursor]")
    page.keyboard.press("=")
    page.wait_for_function("window.labelscoutReview.state.view === 'similar'")
    assert page.evaluate("window.labelscoutReview.state.items.idx[0]") == like
    tiles = assert_right_pictures(page, ids)
    assert (0, ids[like], ids[like]) in tiles
    assert not page.problems, page.problems
    page.close()
