"""The review page as a person uses it, in headless Chromium (Debian's package, driven by
Playwright): keyboard marks, drag selection, undo, reload, two reviewers, export.

Set ``LABELSCOUT_SCREENSHOT_DIR`` to keep the screenshots."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from labelscout.review import ReviewServer, export_review, open_review
from labelscout.sources.labels import labels_from_csv
from _browser import marks, open_page, settle, tile_ids

pytestmark = pytest.mark.browser


@pytest.fixture
def server(dataset, tmp_path):
    session = open_review(dataset.root, out=tmp_path / "run", labels=str(dataset.labels), embeddings=dataset.embeddings,
                          method="knn", reviewer="ann")
    srv = ReviewServer(session).start()
    yield srv
    srv.stop()


def test_keyboard_marks_survive_a_reload_and_export_as_csv(browser, server, dataset, tmp_path):
    page = open_page(browser, server.url)
    assert page.locator("#class-name").inner_text() == "blue"
    first = tile_ids(page, 8)
    assert set(first[:3]) <= dataset.wrong  # misfits first: the three wrong labels open the class
    page.keyboard.press("Delete")                          # 0: wrong, class unknown
    page.keyboard.type("gr"); page.keyboard.press("Enter")  # 1: wrong, it is green (type-ahead)
    page.keyboard.type("g"); page.keyboard.press("Tab"); page.keyboard.press("Tab")  # Tab cycles the matches ...
    page.keyboard.press("Escape")                           # ... and Esc cancels: nothing marked
    page.keyboard.type("g"); page.keyboard.press("Enter")   # 2: wrong, green
    page.keyboard.press("Space")                            # 3: correct
    settle(page)
    assert marks(page, 5) == ["wrong:", "wrong:green", "wrong:green", "correct", ""]
    # drag a run over tiles 4..6 and mark them all correct, then undo that
    box = lambda p: page.locator(f'.tile[data-p="{p}"]').bounding_box()
    b4, b6 = box(4), box(6)
    page.mouse.move(b4["x"] + 30, b4["y"] + 30); page.mouse.down()
    page.mouse.move(b6["x"] + 30, b6["y"] + 30, steps=6); page.mouse.up()
    assert page.evaluate("[window.labelscoutReview.state.selLo, window.labelscoutReview.state.selHi]") == [4, 6]
    page.keyboard.press("Space"); settle(page)
    assert marks(page, 8) == ["wrong:", "wrong:green", "wrong:green", "correct", "correct", "correct", "correct", ""]
    page.keyboard.press("Control+z"); settle(page)
    assert marks(page, 8)[4:] == ["", "", "", ""]
    # arrows, then the next class
    page.keyboard.press("Escape"); page.keyboard.press("Home"); page.keyboard.press("ArrowRight"); page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight"); page.keyboard.press("ArrowRight"); page.keyboard.press("ArrowLeft")
    page.keyboard.press("Space"); settle(page)  # 3 again: "correct" twice takes the mark back
    assert marks(page, 5)[3] == ""
    page.keyboard.press("]")
    page.wait_for_function("document.getElementById('class-name').textContent === 'green'")
    green_first = tile_ids(page, 1)[0]
    page.keyboard.type("red"); page.keyboard.press("Enter"); settle(page)
    assert page.locator("#class-list li.current .done").inner_text() == "1 reviewed"

    page.reload()
    page.wait_for_function("window.labelscoutReview && window.labelscoutReview.ready", timeout=20_000)
    assert page.locator("#class-name").inner_text() == "green"  # the URL keeps the class
    assert marks(page, 1) == ["wrong:red"]
    page.keyboard.press("[")
    page.wait_for_function("document.getElementById('class-name').textContent === 'blue'")
    assert marks(page, 5) == ["wrong:", "wrong:green", "wrong:green", "", ""]
    assert "4 of 60 reviewed" in page.locator("#summary").inner_text()
    page.keyboard.press("Enter")  # full size: the original file
    page.wait_for_function("document.getElementById('full-img').complete && document.getElementById('full-img').naturalWidth === 48")
    page.keyboard.press("Escape")
    assert page.locator("#full").is_hidden()
    keep = os.environ.get("LABELSCOUT_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(keep) / "review-synthetic.png"))
    assert not page.problems, page.problems
    page.close()

    result = export_review(server.session.out, tmp_path / "out" / "corrected.csv")
    with open(result.corrections, newline="") as fh:
        rows = {r["id"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {*first[:3], green_first}
    assert (rows[first[0]]["given"], rows[first[0]]["corrected"], rows[first[0]]["status"]) == ("blue", "", "wrong")
    assert (rows[first[1]]["corrected"], rows[first[1]]["status"], rows[first[1]]["reviewer"]) == ("green", "relabeled", "ann")
    assert rows[green_first]["corrected"] == "red" and rows[green_first]["time"].endswith("Z")
    corrected = labels_from_csv(result.labels, dataset.ids)
    expect = dict(zip(dataset.ids, dataset.given))
    expect.update({first[0]: None, first[1]: "green", first[2]: "green", green_first: "red"})
    assert dict(zip(dataset.ids, corrected)) == expect
    assert result.counts == {"samples": 60, "reviewed": 4, "relabeled": 3, "wrong": 1, "confirmed": 0, "conflicts": 0}
    assert dataset.labels.read_text().count("\n") == 61  # the user's file is untouched


def test_two_reviewers_see_each_others_marks_and_conflicts_are_shown(browser, server, dataset, tmp_path):
    ann = open_page(browser, server.url, "ann")
    bob = open_page(browser, server.url, "bob")
    ann.keyboard.type("gre"); ann.keyboard.press("Enter"); settle(ann)
    bob.wait_for_function("document.querySelector('.tile[data-p=\"0\"] .others').textContent.includes('a✗')", timeout=10_000)
    assert marks(bob, 1) == [""]  # ann's mark is shown as hers, not taken as bob's
    bob.keyboard.press("Space"); settle(bob)  # bob says the label is right: a conflict
    for page in (ann, bob):
        page.wait_for_function("document.querySelector('.tile[data-p=\"0\"]').classList.contains('conflict')", timeout=10_000)
        page.wait_for_function("document.getElementById('summary').textContent.includes('1 in conflict')", timeout=10_000)
    assert marks(ann, 1) == ["wrong:green"] and marks(bob, 1) == ["correct"]  # neither overwrote the other
    sid = tile_ids(ann, 1)[0]
    result = export_review(server.session.out, tmp_path / "corrected.csv")
    with open(result.corrections, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["id"] == sid]
    assert sorted((r["reviewer"], r["corrected"], r["status"]) for r in rows) == [("ann", "green", "conflict"), ("bob", "blue", "conflict")]
    assert dict(zip(dataset.ids, labels_from_csv(result.labels, dataset.ids)))[sid] == "blue"  # given label kept until they agree
    for page in (ann, bob):
        assert not page.problems, page.problems
        page.close()
