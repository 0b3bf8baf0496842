"""The permanent bad-input corpus: bad or odd images, videos, embedding files, labels, id
files, paths and parameters, each mixed into (or given beside) a folder of good CIFAR-10
JPEGs, run through the command line in this process.

Every case asserts the exit code, that the run finished on the good files (or failed with
a message that names the problem and a hint), the reason recorded for each bad sample,
the message's wording, and that the input tree is unchanged (no file modified, added or
removed, no run marker left in the data). The good images are embedded once; the cases
that are not about embedding read precomputed embeddings of them (.npy + ids).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

import _bad_inputs as B
from _bad_inputs import LATIN1_NAME, Case, Env
from _cli import run_cli
from labelscout.results import Selection
from labelscout.runs.ids import read_id_file

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cifar10-sample"
CLASSES = ("airplane", "cat", "ship", "truck")
PER_CLASS = 10
N_GOOD = len(CLASSES) * PER_CLASS


@pytest.fixture(scope="module")
def corpus_base(tmp_path_factory, small_model_dir):
    """The good images, their precomputed embeddings, a warm cache, a small real video."""
    from labelscout import api

    base = tmp_path_factory.mktemp("corpus")
    good = base / "good"
    for cls in CLASSES:
        (good / cls).mkdir(parents=True)
        for f in sorted((SAMPLE / cls).glob("*.jpg"))[:PER_CLASS]:
            shutil.copy2(f, good / cls / f.name)
    cache = base / "cache"
    res = api.embed(good, model=str(small_model_dir), cache_dir=cache, workers=0, progress=False)
    assert len(res.embeddings) == N_GOOD
    np.save(base / "good.npy", np.asarray(res.embeddings.vectors, dtype=np.float32))
    (base / "good.ids.txt").write_text("".join(i + "\n" for i in res.embeddings.ids))
    clip = B.make_clip(base / "clip.mp4")
    return base, good, cache, list(res.embeddings.ids), clip


def _selected(out: Path) -> list[str]:
    return Selection.from_csv((out / "selection.csv").read_text(encoding="utf-8")).ids


def _check_lines(odd: str):
    """selection.txt has one line per id, and the odd id reads back through selection.txt,
    selection.csv and --exclude (a second run that excludes it)."""
    def check(out: Path, env: Env) -> None:
        ids = _selected(out)
        assert odd in ids
        text = (out / "selection.txt").read_bytes().decode("utf-8")  # strict UTF-8
        assert text.count("\n") == len(ids)
        assert read_id_file(out / "selection.txt") == ids == read_id_file(out / "selection.csv")
        from labelscout.runs.ids import decode_id

        line = next(ln for ln in text.split("\n") if ln and decode_id(ln) == odd)
        assert line.startswith('"')  # written escaped
        (out.parent / "excl.txt").write_text(line + "\n")
        from labelscout import api

        res = api.select(out / "embeddings", 3, exclude=out.parent / "excl.txt", out=out.parent / "again", report=False,
                         progress=False)
        assert res.record.counts["excluded"] == 1 and odd not in res.selection.ids
    return check


def _check_issues_csv(odd: str):
    def check(out: Path, env: Env) -> None:
        text = (out / "issues.csv").read_bytes().decode("utf-8")
        from labelscout.results import Issues

        assert odd in Issues.from_csv(text).ids
    return check


def _check_collection(**expected):
    def check(out: Path, env: Env) -> None:
        col = json.loads((out / "run.json").read_text())["collection"]
        for k, v in expected.items():
            assert col[k] == v, (k, col[k])
        assert col["policy"]["hidden"].startswith("left out") and col["policy"]["symlinked_folders"].startswith("followed")
    return check


def _check_embedding(**expected):
    def check(out: Path, env: Env) -> None:
        emb = json.loads(next(p for p in (out / "run.json", out / "inspect.json") if p.is_file()).read_text())["embedding"]
        for k, v in expected.items():
            assert emb[k] == v, (k, emb[k])
    return check


def _report_written(out: Path, env: Env) -> None:
    assert "report_error" not in json.loads((out / "run.json").read_text())
    assert "caf\\udce9.jpg" in (out / "report.html").read_text(encoding="utf-8")  # the byte shown escaped


def _no_out(out: Path, env: Env) -> None:
    assert not (env.data / ".labelscout-run").exists()


C = Case
CASES = [
    # -- images: bad files are skipped with a reason, the rest is used --------------------------
    C("empty_jpeg", B.write("empty.jpg", b""), lambda e: e.select(), reasons={"empty.jpg": "empty_file"}, pool=N_GOOD,
      says=("skipped 1 unreadable (1 empty_file)",)),
    C("text_as_jpeg", B.write("notes.jpg", b"this is a text file\n" * 20), lambda e: e.select(),
      reasons={"notes.jpg": "not_an_image"}, pool=N_GOOD),
    C("truncated_jpeg", B.write("half.jpg", B._jpeg(7, (64, 64))[:900]), lambda e: e.select(),
      reasons={"half.jpg": "truncated"}, pool=N_GOOD),
    C("png_bomb_header", B.write("bomb.png", B.png_header_bomb()), lambda e: e.select(),
      reasons={"bomb.png": "too_large"}, pool=N_GOOD),
    C("fifo_named_jpeg", B.fifo("x.jpg"), lambda e: e.select(), reasons={"x.jpg": "not_a_regular_file"}, pool=N_GOOD,
      says=("1 not_a_regular_file",)),
    C("socket_named_png", B.unix_socket("s.png"), lambda e: e.select(), reasons={"s.png": "not_a_regular_file"}, pool=N_GOOD),
    C("device_link_jpeg", B.symlink("zero.jpg", "/dev/zero"), lambda e: e.select(),
      reasons={"zero.jpg": "not_a_regular_file"}, pool=N_GOOD),
    C("broken_link_jpeg", B.symlink("gone.jpg", "/nonexistent/gone.jpg"), lambda e: e.select(),
      reasons={"gone.jpg": "broken_link"}, pool=N_GOOD),
    C("fifo_inspect", B.fifo("y.jpg"), lambda e: e.inspect(), reasons={"y.jpg": "not_a_regular_file"}, pool=N_GOOD,
      says=("skipped 1 unreadable (1 not_a_regular_file)",)),
    C("fifo_embed", B.combined(B.fifo("z.jpg"), B.write(".hidden.jpg", B._jpeg(1))),
      lambda e: ["embed", e.data, "--out", e.out, "--model", e.model, "--cache-dir", e.cache, "--workers", "0"],
      reasons={"z.jpg": "not_a_regular_file"}, pool=N_GOOD,
      says=("skipped 1 unreadable (1 not_a_regular_file)", "1 hidden file(s)/folder(s) left out")),
    C("hidden_files_and_folders",
      B.combined(B.write(".hidden.jpg", B._jpeg(1)), B.write(".thumbs/t.jpg", B._jpeg(2)), B.write("cat/._0000.jpg", b"\0" * 40)),
      lambda e: e.select(), pool=N_GOOD, says=("3 hidden file(s)/folder(s) left out",),
      check=_check_collection(hidden_files=2, hidden_folders=1)),
    C("symlinked_folder_followed", B.linked_folder, lambda e: e.select(), pool=N_GOOD + 2,
      says=("1 symlinked folder(s) followed",),
      check=_check_collection(symlinked_folders_followed=["extra"], symlinked_folders_followed_count=1)),
    C("symlink_loop", B.symlink("cat/loop", ".."), lambda e: e.select(), pool=N_GOOD,
      says=("1 symlinked folder(s) not followed",)),
    C("animated_gif", B.write("anim.gif", B.animated_gif()), lambda e: e.select(), pool=N_GOOD + 1,
      says=("1 multi-frame image(s): first frame used",), check=_check_embedding(multi_frame_images=1)),
    C("multipage_tiff", B.write("pages.tiff", B.multipage_tiff()), lambda e: e.inspect(), pool=N_GOOD + 1,
      says=("1 multi-frame image(s): first frame used",), check=_check_embedding(multi_frame_examples={"pages.tiff": 3})),
    C("png_named_jpeg", B.write("really_png.jpg", B._save(B.Image.new("RGB", (20, 20), (9, 99, 199)), "PNG")),
      lambda e: e.select(), pool=N_GOOD + 1),
    C("one_pixel_image", B.write("dot.png", B._save(B.Image.new("RGB", (1, 1), (255, 0, 0)), "PNG")),
      lambda e: e.select(), pool=N_GOOD + 1),
    C("newline_in_name", B.write_name(b"new\nline.jpg", B._jpeg(3)), lambda e: e.select(n="100%"), pool=N_GOOD + 1,
      check=_check_lines("new\nline.jpg")),
    C("non_utf8_name_select", B.write_name(b"caf\xe9.jpg", B._jpeg(4)), lambda e: e.select(n="100%"), pool=N_GOOD + 1,
      check=_check_lines(LATIN1_NAME)),
    C("non_utf8_name_inspect", B.write_name(b"caf\xe9.jpg", B._jpeg(4)), lambda e: e.inspect(), pool=N_GOOD + 1,
      check=_check_issues_csv(LATIN1_NAME)),
    C("odd_names_in_the_report", B.combined(B.write_name(b"caf\xe9.jpg", B._jpeg(4)), B.write_name(b"new\nline.jpg", B._jpeg(3))),
      lambda e: e.select(n="100%", report=True), pool=N_GOOD + 2, says=("Report ->",), check=_report_written),
    C("hash_and_space_names", B.combined(B.write("#1.jpg", B._jpeg(5)), B.write(" lead.jpg", B._jpeg(6))),
      lambda e: e.select(n="100%"), pool=N_GOOD + 2, check=_check_lines("#1.jpg")),
    C("old_run_folder_inside", B.combined(B.write("old/.labelscout-run", b"x"), B.write("old/selected/a.jpg", B._jpeg(8))),
      lambda e: e.select(), pool=N_GOOD, says=("1 labelscout run folder(s) skipped",)),
    C("only_bad_files", lambda root, env: (shutil.rmtree(root), root.mkdir(), os.mkfifo(root / "p.jpg"),
                                          (root / "e.jpg").write_bytes(b"")),
      lambda e: e.select(n="1"), code=1, says=("No usable samples", "all 2 files were skipped", "hint:")),
    C("folder_is_marked_run_folder", B.write(".labelscout-run", b"x"), lambda e: e.select(), code=1,
      says=("marked as a labelscout run folder", "delete the .labelscout-run file")),
    # -- videos --------------------------------------------------------------------------------
    C("header_only_mp4", B.header_only_mp4, lambda e: e.select(), reasons={"header_only.mp4": "truncated"}, pool=N_GOOD,
      says=("skipped 1 unreadable (1 truncated)",)),
    C("header_only_mp4_inspect", B.header_only_mp4, lambda e: e.inspect(), reasons={"header_only.mp4": "truncated"},
      pool=N_GOOD, says=("1 truncated",)),
    C("empty_mp4", B.write("empty.mp4", b""), lambda e: e.select(), reasons={"empty.mp4": "empty_file"}, pool=N_GOOD),
    C("text_as_mp4", B.write("notes.mp4", b"not a video\n" * 50), lambda e: e.select(),
      reasons={"notes.mp4": "not_a_video"}, pool=N_GOOD),
    C("audio_only_mp4", B.audio_only_file, lambda e: e.select(), reasons={"audio.mp4": "no_video_stream"}, pool=N_GOOD),
    C("fifo_named_mp4", B.fifo("live.mp4"), lambda e: e.select(), reasons={"live.mp4": "not_a_regular_file"}, pool=N_GOOD),
    C("truncated_video_partly_used", B.truncated_clip, lambda e: e.select(), reasons={"cut.mp4": "truncated"},
      says=("1 damaged video(s) whose good frames are used",), not_says=("unreadable",)),
    # -- precomputed embeddings ----------------------------------------------------------------
    *[C(f"npy_{kind}", B.npy_variant(kind), (lambda e: e.select_emb(npy=e.data.parent / "emb.npy",
                                                                      ids=e.data.parent / "emb.ids.txt")),
        code=1, says=says, embeddings=True) for kind, says in [
        ("empty", ("is empty (0 bytes)", "numpy.save")),
        ("text", ("is not a NumPy .npy file", "looks like text", ".csv suffix")),
        ("truncated", ("is truncated",)),
        ("object", ("object (pickled) array",)),
        ("nan", ("hold NaN or inf", "row 3")),
        ("zero", ("are all zeros", "row 2", "Drop or recompute")),
        ("one_d", ("must hold a 2-D array",)),
        ("complex", ("embeddings must be real numbers",)),
        ("short_ids", ("has 40 rows", "39 ids")),
        ("dup_ids", ("duplicate id",)),
        ("blank_id", ("empty ids on line(s) [5]",)),
    ]],
    *[C(f"csv_{kind}", B.csv_variant(kind), lambda e: ["select", "--embeddings", e.data.parent / "emb.csv", "-n", "5",
                                                        "--out", e.out, "--no-report"],
        code=1, says=says, embeddings=True) for kind, says in [
        ("non_numeric", ("is not numeric", "'oops'")),
        ("ragged", ("line 7", "fields, but the header has")),
        ("binary", ("holds NUL bytes",)),
        ("no_id", ("has no id column",)),
    ]],
    C("embeddings_is_folder", lambda r, e: None, lambda e: e.select_emb(npy=e.data), code=1,
      says=("--embeddings file", "is a folder, not a file"), embeddings=True),
    C("ids_is_fifo", lambda r, e: os.mkfifo(r.parent / "ids.fifo"), lambda e: e.select_emb(ids=e.data.parent / "ids.fifo"),
      code=1, says=("--ids file", "FIFO"), embeddings=True),
    # -- labels --------------------------------------------------------------------------------
    C("labels_without_label_column", B.labels_csv("no_label_column"),
      lambda e: e.select_emb("--labels", e.data.parent / "labels.csv"), code=1, says=("need an id column", "label column"),
      embeddings=True),
    C("labels_binary", B.labels_csv("binary"), lambda e: e.select_emb("--labels", e.data.parent / "labels.csv"), code=1,
      says=("holds NUL bytes",), embeddings=True),
    C("labels_is_folder", B.labels_csv("folder"), lambda e: e.select_emb("--labels", e.data.parent / "labels.csv"), code=1,
      says=("--labels file", "is a folder"), embeddings=True),
    C("labels_missing", lambda r, e: None, lambda e: e.select_emb("--labels", e.data.parent / "nope.csv"), code=1,
      says=("--labels file", "does not exist"), embeddings=True),
    C("labels_non_utf8", B.labels_csv("non_utf8"), lambda e: e.select_emb("--labels", e.data.parent / "labels.csv"),
      pool=N_GOOD, embeddings=True),
    # -- model predictions (--predictions) -----------------------------------------------------
    *[C(f"predictions_{kind}", B.preds_variant(kind),
        (lambda e, f=f: e.select_emb("-s", "uncertainty", "--labels", "folders", "--predictions", e.data.parent / f)),
        code=1, says=says, embeddings=True) for kind, f, says in [
        ("folder", "preds.csv", ("--predictions file", "is a folder")),
        ("binary", "preds.csv", ("NUL bytes",)),
        ("npy_empty", "preds.npy", ("Predictions file", "is empty (0 bytes)")),
        ("npy_text", "preds.npy", ("Predictions file", "not a NumPy .npy file", "looks like text")),
        ("nan", "preds.csv", ("NaN",)),
        ("not_normalised", "preds.csv", ("sum",)),
        ("negative", "preds.csv", ("[0, 1]",)),
        ("non_numeric", "preds.csv", ("'high'",)),
        ("one_class", "preds.csv", ("at least 2 classes",)),
        ("unknown_ids", "preds.csv", ("pool",)),
        ("dup_ids", "preds.csv", ("repeated id", "line 6 and line 7")),
    ]],
    C("predictions_good", B.preds_variant("good"),
      lambda e: e.select_emb("-s", "uncertainty", "--labels", "folders", "--predictions", e.data.parent / "preds.csv"),
      pool=N_GOOD, embeddings=True),
    # -- id files (--exclude) ------------------------------------------------------------------
    C("exclude_is_folder", lambda r, e: None, lambda e: e.select_emb("--exclude", e.data), code=1,
      says=("--exclude file", "is a folder, not a file"), embeddings=True),
    C("exclude_is_fifo", lambda r, e: os.mkfifo(r.parent / "ex.txt"), lambda e: e.select_emb("--exclude", e.data.parent / "ex.txt"),
      code=1, says=("--exclude file", "FIFO"), embeddings=True),
    C("exclude_everything", B.id_file("all.txt", lambda e: e.good_ids),
      lambda e: e.select_emb("--exclude", e.data.parent / "all.txt"), code=1,
      says=("already labeled/excluded, so nothing is left", "Exclude fewer ids"), embeddings=True),
    C("exclude_most_with_percent", B.id_file("most.txt", lambda e: e.good_ids[:35]),
      lambda e: e.select_emb("--exclude", e.data.parent / "most.txt", n="100%"), code=1,
      says=("at most 5 can be selected", "Use -n 5 or less"), embeddings=True),
    C("exclude_unknown_ids", B.id_file("other.txt", lambda e: ["not/here.jpg", e.good_ids[0]]),
      lambda e: e.select_emb("--exclude", e.data.parent / "other.txt"), pool=N_GOOD, says=("not in the pool",),
      embeddings=True),
    # -- parameters ----------------------------------------------------------------------------
    C("n_over_100_percent", lambda r, e: None, lambda e: e.select_emb(n="150%"), code=1,
      says=("as a percentage must be in the range (0%, 100%]", "'150%'"), embeddings=True),
    C("n_zero", lambda r, e: None, lambda e: e.select_emb(n="0"), code=1, says=("must be at least 1",), embeddings=True),
    C("n_word", lambda r, e: None, lambda e: e.select_emb(n="lots"), code=1, says=("must be a count",), embeddings=True),
    C("n_above_pool", lambda r, e: None, lambda e: e.select_emb(n="1000"), code=1,
      says=("Cannot select 1000 samples", "Use -n 40 or less"), embeddings=True),
    C("k_above_pool", lambda r, e: None, lambda e: e.select_emb("-s", "typicality", "-p", "k=1000"), code=1,
      says=("'k' parameter of TypicalitySelector must be less than the number of samples (40)", "Got 1000"), embeddings=True),
    C("n_clusters_above_pool", lambda r, e: None, lambda e: e.select_emb("-s", "divide-and-conquer", "-p", "n_clusters=41"),
      code=1, says=("must be at most the number of samples (40)",), embeddings=True),
    C("negative_coreset_weight", lambda r, e: None,
      lambda e: e.select_emb("-s", "combine", "-p", 'strategies={"coreset": -1, "typicality": 1}'), code=1,
      says=("weight of 'coreset'", "must be positive"), embeddings=True),
    C("param_without_equals", lambda r, e: None, lambda e: e.select_emb("-p", "k"), code=2,
      says=("expected KEY=VALUE",), embeddings=True),
    C("fps_zero", lambda r, e: None, lambda e: e.select("--fps", "0"), code=1,
      says=("in (0, 1000], or 'all' for every frame", "Got 0.0"), ),
    C("fps_negative", lambda r, e: None, lambda e: e.select("--fps", "-1"), code=1,
      says=("in (0, 1000], or 'all' for every frame",)),
    # -- output folder -------------------------------------------------------------------------
    C("out_is_input", lambda r, e: None, lambda e: e.select(out=e.data), code=1,
      says=("is the input folder", "never writes into its input", "hint:"), check=_no_out),
    C("out_inside_input", lambda r, e: None, lambda e: e.select(out=e.data / "runs" / "x"), code=1,
      says=("lies inside the input folder",), check=_no_out),
    C("out_is_a_file", lambda r, e: None, lambda e: e.select_emb(out=e.data / "cat" / "0000.jpg"),
      code=1, says=("is an existing file, not a folder",), embeddings=True),
    C("out_parent_is_a_file", lambda r, e: None,
      lambda e: e.select_emb(out=e.data / "cat" / "0000.jpg" / "run"), code=1,
      says=("cannot be created", "is a file, not a folder"), embeddings=True),
]


def test_corpus_is_large_enough():
    assert len({c.name for c in CASES}) == len(CASES) >= 40


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, corpus_base, small_model_dir, tmp_path, capsys):
    base, good, cache, good_ids, clip = corpus_base
    inp = tmp_path / "input"
    data = inp / "data"
    shutil.copytree(good, data, symlinks=True)
    env = Env(data, tmp_path / "out", base / "good.npy", base / "good.ids.txt", small_model_dir, cache, N_GOOD, good_ids, clip)
    case.make(data, env)
    before = B.tree_digest(inp)

    code, out, err = run_cli(case.args(env), capsys)
    said = out + err

    assert code == case.code, said
    for words in case.says:
        assert words in said, f"{words!r} not in: {said}"
    for words in case.not_says:
        assert words not in said, f"{words!r} in: {said}"
    if case.code:
        assert "internal error" not in said and "Traceback" not in said
        if code == 1:
            assert said.strip().startswith("error:") or "\nerror:" in said, said
    else:
        # inspect keeps its own record (inspect.json) beside a selection's run.json
        record_file = "inspect.json" if case.args(env)[0] == "inspect" else "run.json"
        record = json.loads((env.out / record_file).read_text())
        assert record["status"] == "finished"
        skipped = {s["id"]: s["reason"] for s in record["skipped"]}
        assert skipped == case.reasons, skipped
        if case.pool is not None:
            assert record["counts"]["pool"] == case.pool
        if "selected" in record["counts"]:
            assert len(_selected(env.out)) == record["counts"]["selected"]
        elif case.args(env)[0] == "inspect":
            assert (env.out / "issues.csv").is_file()
    if case.check is not None:
        case.check(env.out, env)
    assert B.tree_digest(inp) == before, "the input tree changed"


def _stop_limit() -> float:
    """1 s, the promise; on a machine running several times more processes than it has
    cores (a shared CI box), scheduling alone can take longer, so the bound grows with the load."""
    overload = os.getloadavg()[0] / (os.cpu_count() or 1)
    return 1.0 if overload <= 2 else 1.0 + 0.1 * overload


def _default_sigint() -> None:
    """preexec_fn: the child starts with SIGINT's default action. A suite started in the
    background (``cmd &``, nohup) ignores SIGINT, and an ignored signal stays ignored across
    exec, so the child would never see the Ctrl-C these tests send."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_ends_a_busy_run_within_a_second(tmp_path):
    """A busy run (loading 400k vectors, then 100k coreset picks) ends within a second of
    SIGINT, with exit code 130 and run.json "interrupted"."""
    import signal
    import subprocess
    import sys
    import time

    X = np.random.default_rng(0).normal(size=(400_000, 16)).astype(np.float32)
    np.save(tmp_path / "big.npy", X)
    (tmp_path / "big.ids.txt").write_text("".join(f"s{i}\n" for i in range(len(X))))
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "labelscout", "-q", "select", "--embeddings", tmp_path / "big.npy",
                             "-n", "100000", "--out", out, "--no-report"], env=env,
                            preexec_fn=_default_sigint, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    from labelscout.embed.store import SIDECAR_FILE

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None and not (out / "embeddings" / SIDECAR_FILE).is_file():
        time.sleep(0.05)  # the pool is copied into the run folder first; then the space (0.2 s) and the kernel
    time.sleep(3.0)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert elapsed < _stop_limit(), f"took {elapsed:.2f} s to stop"
    assert "interrupted" in err
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert record["finished"] is not None


_STUCK = """
import sys
import numba
from labelscout.cli import _watch_interrupts
from labelscout.runs.record import RunRecord

@numba.njit(nogil=True)
def spin(n):
    s = 0.0
    for i in range(n):
        s += (i % 7) ** 0.5
    return s

_watch_interrupts()
RunRecord(command="stuck").write(sys.argv[1])
spin(10)
print("ready", flush=True)
spin(10 ** 12)  # minutes inside compiled code: Python's own SIGINT handling never runs
"""


def test_sigint_ends_a_run_stuck_in_compiled_code(tmp_path):
    """The watchdog path: the main thread never returns to Python, yet SIGINT ends the
    process within a second and the running run.json is marked "interrupted"."""
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-c", _STUCK, str(tmp_path)], env=env, preexec_fn=_default_sigint,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert elapsed < _stop_limit(), f"took {elapsed:.2f} s to stop"
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "interrupted" and "did not stop in time" in record["error"]
