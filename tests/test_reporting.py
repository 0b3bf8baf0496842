"""A reporter passed into a run receives its progress and log lines and can cancel it;
finished work is kept, so the rerun resumes."""
from __future__ import annotations

import json
import logging
import shutil
import threading
from pathlib import Path

import pytest

import labelscout
from labelscout.errors import Cancelled
from labelscout.reporting import CallbackReporter, Reporter

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cifar10-sample"


@pytest.fixture
def images(tmp_path):
    """40 real JPEGs from the sample that ships with the repository (2 classes)."""
    dest = tmp_path / "images"
    for cls in ("cat", "ship"):
        (dest / cls).mkdir(parents=True)
        for f in sorted((SAMPLE / cls).glob("*.jpg"))[:20]:
            shutil.copy2(f, dest / cls / f.name)
    return dest


def test_progress_and_logs_reach_the_caller(images, small_model_dir, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="labelscout")  # the reporter gets what logging lets through
    seen, logs = [], []
    rep = CallbackReporter(on_progress=lambda stage, done, total: seen.append((stage, done, total)),
                           on_log=lambda level, msg: logs.append((level, msg)))
    (tmp_path / "labeled.txt").write_text("cat/nope.jpg\n")
    res = labelscout.select(images, 5, out=tmp_path / "run", model=str(small_model_dir), reporter=rep, batch_size=8,
                            exclude=tmp_path / "labeled.txt", report=False)
    assert len(res.selection) == 5
    stages = {s for s, _, _ in seen}
    assert "embedding" in stages and any(s.startswith("selecting") for s in stages)
    emb = [(d, t) for s, d, t in seen if s == "embedding"]
    assert emb[0][0] == 0 and emb[-1] == (40, 40)  # starts at 0, ends with every image
    assert [d for d, _ in emb] == sorted(d for d, _ in emb)  # never goes back
    assert any(level == logging.WARNING and "not in the pool" in msg for level, msg in logs)


def test_cancel_stops_the_run_and_the_rerun_resumes(images, small_model_dir, tmp_path):
    stop = threading.Event()

    def on_progress(stage, done, total):
        if stage == "embedding" and done >= 8:
            stop.set()  # as a service would when the user presses cancel

    out = tmp_path / "run"
    with pytest.raises(Cancelled):
        labelscout.select(images, 5, out=out, model=str(small_model_dir), batch_size=8, report=False,
                          reporter=CallbackReporter(on_progress=on_progress, cancel=stop))
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "cancelled" and not (out / "selection.txt").exists()
    again = labelscout.select(images, 5, out=out, model=str(small_model_dir), batch_size=8, report=False)
    assert again.record.counts["from_cache"] >= 8  # the batches embedded before the cancel are reused
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_the_silent_reporter_never_cancels():
    rep = Reporter()
    with rep.stage("x", total=3) as stage:
        stage.advance(3)
    assert stage.done == 3 and not rep.cancelled()
    flag = {"stop": False}
    rep = CallbackReporter(cancel=lambda: flag["stop"])
    with rep.stage("y", total=2) as stage:
        stage.advance()
        flag["stop"] = True
        with pytest.raises(Cancelled, match="cancelled"):
            stage.advance()


@pytest.mark.parametrize("done,total,unit,elapsed,expected", [
    (0, 60000, "images", 0, "embedding: 0/60000 images (0 %) 0:00:00"),
    (6000, 60000, "images", 43, "embedding: 6000/60000 images (10 %) 0:00:43 eta 0:06:27"),
    (60000, 60000, "images", 435, "embedding: 60000/60000 images (100 %) 0:07:15"),
    (12.5, None, "s", 3661, "embedding: 12.5 s 1:01:01"),
])
def test_progress_line(done, total, unit, elapsed, expected):
    from labelscout.reporting import progress_line

    assert progress_line("embedding", done, total, unit, elapsed) == expected


def test_without_a_terminal_progress_comes_as_lines(capsys, monkeypatch):
    """A log file or CI gets a line at the start, while the stage runs, and at the end
    (a rich bar would show only at the end)."""
    from labelscout.reporting import RichReporter

    reporter = RichReporter()
    monkeypatch.setattr(reporter, "line_interval", 0.0)  # every advance writes a line
    with reporter.stage("embedding", 3, "images") as task:
        for _ in range(3):
            task.advance()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"embedding: {k}/3 images" for k in (0, 1, 2, 3)]  # no repeat at the end
    reporter.line_interval = 3600.0  # the default throttles: only the first and last line of a quick stage
    with reporter.stage("embedding", 100, "images") as task:
        for _ in range(100):
            task.advance()
    assert len(capsys.readouterr().err.splitlines()) == 2
