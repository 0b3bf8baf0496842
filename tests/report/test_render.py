"""Rendering ReportData to HTML: a pure function whose page is self-contained, escapes
what it shows, and carries the map's arrays unchanged."""
from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from labelscout.report.atlas import Atlas
from labelscout.report.data import (Balance, DuplicateGroup, Histogram, KeptExample, MapData, Neighbour, Outlier,
                                    ReportData, Sample, Series)
from labelscout.report.render import map_payload, render_report
from labelscout.report.svg import histogram_svg, nice_ticks

EVIL = 'cat/<b>x</b>"</script><!--.jpg'


def _sample(i, status="not selected", rank=None, label="cat", sid=None):
    return Sample(i, sid or f"cat/{i:04d}.jpg", status, rank, label, None, None)


def _data(n=6, with_issues=True, atlas=True, inspect_only=False, choice=None) -> ReportData:
    rng = np.random.default_rng(0)
    ids = [f"cat/{i:04d}.jpg" for i in range(n)]
    ids[1] = EVIL
    status = np.zeros(n, np.uint8)
    status[[0, 2]] = 1
    rank = np.full(n, -1, np.int32)
    rank[[0, 2]] = [0, 1]
    m = MapData(rng.normal(size=(n, 2)).astype(np.float32), "pca", "", status, np.arange(n, dtype=np.int32) % 2,
                ["cat", "dog"], np.array([0, 2, 0, 4, 0, 1][:n], np.uint8), np.array([0, 0, 2, 2, 0, 2][:n]),
                rng.random(n).astype(np.float32), rank)
    edges = np.linspace(0, 1, 5)
    hist = Histogram("nn", "Nearest", "desc", "distance", edges,
                     [Series("pool", np.array([1, 2, 3, 0]), np.array([.1, .3, .3, .6, .6, .6]), "s-pool"),
                      Series("selection", np.array([0, 0, 1, 1]), np.array([.6, .9]), "s-sel")])
    kept = [KeptExample(_sample(0, "selected", 0), 4, "first centre (seed=0)",
                        [Neighbour(_sample(1, sid=EVIL), 0.05, ""), Neighbour(_sample(3, label="dog"), 0.2, "closer to pick #2 (0.1)")])]
    summary = {"run_name": "r", "status": "finished", "command": "labelscout select x", "started": "t", "finished": "t",
               "pool": n, "selected": 2, "labeled": 0, "removed": n - 2, "skipped": 1, "skipped_by_reason": {"corrupt": 1},
               "skipped_examples": {"corrupt": [{"id": "bad.jpg", "reason": "corrupt", "detail": "damaged"}]},
               "strategy": "coreset", "strategy_params": {"n": 2}, "radius": 0.4, "metric": "cosine", "space": "cosine",
               "map_method": "pca", "model_id": "m", "weights": "abc", "input_size": 32, "dim": 8, "device": "cpu",
               "labels_source": "folders", "data_root": "/data", "timings": {"embed": 1.5}, "version": "0.1.0",
               "excluded_not_in_pool": 0, "inspect_only": inspect_only, "choice": choice}
    return ReportData(
        title="labelscout report: r", summary=summary, ids=ids, timestamps=[None] * n, map=m,
        atlas=Atlas(32, 64, 4096, [b"\xff\xd8fake"], np.ones(n, bool)) if atlas else None,
        kept=kept, histograms=[hist], balance=[Balance("label", [("cat", 4, 1), ("dog", 2, 1)], 6, 2)],
        duplicate_groups=[DuplicateGroup("near_duplicate", [(_sample(0, "selected", 0), 0.01), (_sample(1, sid=EVIL), 0.02)])] if with_issues else [],
        outliers=[Outlier(_sample(3), 0.9, True, "kNN distance 2")] if with_issues else [],
        issue_counts={"near_duplicate": {"rows": 2, "flagged": 2}, "outlier": {"rows": 1, "flagged": 1}} if with_issues else None,
        notes=["a note"], timings={"total": 0.5},
    )


def _payload(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="ls-data">(.*?)</script>', html, re.S)
    assert m, "the map data block is missing"
    return json.loads(m.group(1))


def _arr(b64: str, dtype: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=dtype)


@pytest.mark.parametrize("with_issues", [True, False])
@pytest.mark.parametrize("atlas", [True, False])
def test_render_is_pure_and_self_contained(with_issues, atlas):
    data = _data(with_issues=with_issues, atlas=atlas)
    html = render_report(data)
    assert html == render_report(data)  # same data, same page
    # nothing is fetched: no external scripts, styles, fonts or images
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert "<link" not in html and "@import" not in html and "url(http" not in html
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert html.count("<script") == 2 and "<style>" in html
    for section in ("summary", "map", "kept", "distances", "balance", "issues"):
        assert f'id="{section}"' in html
    if with_issues:
        assert "Duplicate groups" in html and "kNN distance 2" in html
    else:
        assert "did not run" in html


def test_text_is_escaped_and_the_data_block_cannot_be_closed():
    html = render_report(_data())
    body = html.split('<script type="application/json"')[0]
    assert "<b>x</b>" not in body and "&lt;b&gt;x&lt;/b&gt;" in body
    payload = _payload(html)  # the id with </script> did not end the block early
    assert payload["ids"][1] == EVIL


def test_payload_round_trips_the_map_arrays():
    data = _data()
    p = _payload(render_report(data))
    assert p == json.loads(json.dumps(map_payload(data)))
    np.testing.assert_array_equal(_arr(p["xy"], "<f4").reshape(-1, 2), data.map.xy)
    np.testing.assert_array_equal(_arr(p["status"], "u1"), data.map.status)
    np.testing.assert_array_equal(_arr(p["label"], "<u2"), data.map.label_index)
    np.testing.assert_array_equal(_arr(p["centre"], "<i4"), data.map.nearest_centre)
    np.testing.assert_array_equal(_arr(p["rank"], "<i4"), data.map.rank)
    np.testing.assert_allclose(_arr(p["cdist"], "<f4"), data.map.centre_distance)
    assert p["atlas"]["sheets"][0] == "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8fake").decode()
    assert p["labels"] == ["cat", "dog"] and p["n"] == 6


def test_summary_numbers_reach_the_page():
    html = render_report(_data())
    assert "coreset" in html and "covering radius 0.4" in html and "1 corrupt" in html and "bad.jpg" in html
    assert "66.7% &rarr; 50.0%" in html  # cat: 4 of 6 in the pool, 1 of 2 selected
    assert "closer to pick #2 (0.1)" in html and "stands for <b>4</b>" in html


@pytest.mark.parametrize("inspect_only", [False, True])
def test_the_header_says_what_the_run_did(inspect_only):
    html = render_report(_data(inspect_only=inspect_only))
    header = html.split("</header>")[0]
    if inspect_only:  # an inspect run picked nothing: say what it inspected and flagged, no selection cards
        assert "inspected <b>6</b> samples: 2 near duplicate, 1 outlier flagged" in " ".join(header.split())
        assert "picked" not in header and '<div class="k">Selected</div>' not in html
    else:
        assert "coreset picked <b>2</b> of <b>6</b> samples" in " ".join(header.split())
        assert '<div class="k">Selected</div>' in html and '<div class="k">Not selected</div>' in html


@pytest.mark.parametrize("repetition", ["ignored", {"repetitive": True, "why": "about 1,020 distinct groups in 17,649 samples"}])
def test_the_facts_say_what_auto_chose_and_why(repetition):
    choice = {"strategy": "typiclust", "params": {}, "budget_ratio": 0.49, "regime": "budget per estimated group <= 0.5",
              "why": "one typical sample per group", "repetition": repetition}
    facts = " ".join(render_report(_data(choice=choice)).split('<div class="facts">')[1].split("</dl>")[0].split())
    assert "chose <b>typiclust</b> (budget per estimated group &lt;= 0.5): one typical sample per group" in facts
    assert ("Repetition check: about 1,020 distinct groups" in facts) == isinstance(repetition, dict)
    assert "chose" not in render_report(_data()).split('<div class="facts">')[1].split("</dl>")[0]


@pytest.mark.parametrize("lo,hi", [(0, 1), (0, 0.037), (0.5, 1234.0), (0, 3e-5)])
def test_nice_ticks_cover_the_range_with_round_steps(lo, hi):
    t = nice_ticks(lo, hi, 5)
    assert lo <= t[0] <= lo + (hi - lo) / 2 and t[-1] <= hi * (1 + 1e-9)
    steps = np.diff(t)
    assert np.allclose(steps, steps[0])
    mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
    assert any(np.isclose(mantissa, m) for m in (1, 2, 2.5, 5))


def test_histogram_svg_draws_every_series_and_its_median():
    svg = histogram_svg(np.linspace(0, 2, 11), [("pool", np.arange(10), "s-pool", 1.2), ("sel", np.ones(10), "s-sel", None)], "d")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('class="line s-pool"') == 1 and svg.count('class="line s-sel"') == 1
    assert svg.count('class="median') == 1 and "pool median 1.2" in svg
