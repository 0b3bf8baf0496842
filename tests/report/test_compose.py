"""Run folders compose: inspect keeps its own record, a select --dedupe and an inspect in
one folder leave both records and both kinds of issues, and the report reads an
inspect-only run."""
from __future__ import annotations

import json

import numpy as np
import pytest

import labelscout
from labelscout.report.inputs import read_run
from labelscout.results import Issues


@pytest.fixture
def vectors(tmp_path, rng):
    X = rng.normal(size=(120, 8)).astype(np.float32)
    X[:, 0] += 6.0  # every sample points one way (cosine geometry) ...
    X[100] = 0.0
    X[100, 0] = -6.0  # ... but this outlier, which points the other way
    X[60] = X[10] + 1e-4  # a near duplicate
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "ids.txt").write_text("".join(f"img/{i:03d}.jpg\n" for i in range(120)))
    return tmp_path / "X.npy", tmp_path / "ids.txt"


def test_select_and_inspect_in_one_folder_keep_both(vectors, tmp_path):
    X, ids = vectors
    out = tmp_path / "run"
    sel = labelscout.select(embeddings=X, ids=ids, n=10, out=out, dedupe=True, report=False)
    selection_record = (out / "run.json").read_text()
    emb = out / "embeddings"
    labelscout.inspect(emb, out=out, detectors=["outliers"])
    assert (out / "run.json").read_text() == selection_record  # inspect never clobbers the selection's record
    inspected = json.loads((out / "inspect.json").read_text())
    assert inspected["config_type"] == "InspectConfig" and inspected["status"] == "finished"
    issues = Issues.from_csv((out / "issues.csv").read_text())
    assert set(issues.issue) == {"exact_duplicate", "near_duplicate", "outlier"} or \
        set(issues.issue) == {"near_duplicate", "outlier"}  # precomputed vectors carry no hashes
    assert "img/100.jpg" in issues.flagged_ids("outlier") and "img/060.jpg" in issues.flagged_ids("near_duplicate")
    inputs = read_run(out)
    assert inputs.selection.ids == sel.selection.ids and inputs.record["inspect"]["status"] == "finished"
    # a second inspect of the same types replaces its own rows, keeps the others
    labelscout.inspect(emb, out=out, detectors=["outliers"], detector_params={"outliers": {"contamination": 0.05}})
    again = Issues.from_csv((out / "issues.csv").read_text())
    assert len(again.of("outlier")) == len(issues.of("outlier")) and sum(again.of("outlier").flag) == 6
    assert again.of("near_duplicate").to_csv() == issues.of("near_duplicate").to_csv()


def test_the_report_reads_an_inspect_only_run(vectors, tmp_path):
    X, ids = vectors
    emb = labelscout.select(embeddings=X, ids=ids, n=1, out=tmp_path / "emb", report=False).out / "embeddings"
    out = tmp_path / "inspected"
    labelscout.inspect(emb, out=out)
    assert not (out / "run.json").exists()
    inputs = read_run(out)
    assert len(inputs.selection) == 0 and len(inputs.embeddings) == 120
    assert inputs.issues is not None and "img/100.jpg" in inputs.issues.flagged_ids("outlier")


@pytest.mark.slow  # builds the whole page (~30 s on 2 shared cores)
def test_an_inspect_only_run_has_a_report(vectors, tmp_path):
    X, ids = vectors
    emb = labelscout.select(embeddings=X, ids=ids, n=1, out=tmp_path / "emb", report=False).out / "embeddings"
    out = tmp_path / "inspected"
    labelscout.inspect(emb, out=out)
    page = labelscout.report(out).read_text()
    assert "Duplicates &amp; outliers" in page or "Duplicates & outliers" in page
    header = page[page.index('<p class="sub">'):page.index("</p>", page.index('<p class="sub">'))]
    assert "picked" not in header and "inspected <b>120</b> samples" in header and "(no selection)" in header
    assert " outlier" in header and "flagged" in header
    assert '<div class="k">Selected</div>' not in page
