"""The bad-input corpus: every kind of bad or odd input, built by the tests themselves.

Each :class:`Case` names one kind of input, how to make it inside a copy of a folder of
good images (or beside precomputed embeddings), the command line to run and what must
come out: the exit code, words the message must hold, the reason each bad sample gets in
run.json, and how many good samples the run must have used. The corpus test
(tests/test_bad_input_corpus.py) runs them all in one process and checks, for every case,
that the input tree is byte for byte what it was before.
"""
from __future__ import annotations

import hashlib
import io
import os
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from _image_corpus import png_header_bomb
from _video import audio_only, cuts_clip

#: a file name that is not UTF-8 (Latin-1 "café.jpg"), as the scanner sees it
LATIN1_NAME = os.fsdecode(b"caf\xe9.jpg")


@dataclass
class Case:
    name: str
    make: Callable[[Path, "Env"], None]  # writes the odd input into the data folder (or beside it)
    args: Callable[["Env"], list]  # command line after the program name
    code: int = 0
    says: tuple[str, ...] = ()  # words the output (stdout + stderr) must contain
    not_says: tuple[str, ...] = ()  # words it must not contain
    reasons: dict[str, str] = field(default_factory=dict)  # sample id -> reason in run.json "skipped"
    pool: int | None = None  # samples the finished run used (None: not checked)
    check: Callable[[Path, "Env"], None] | None = None  # further checks on the run folder
    embeddings: bool = False  # the case reads the precomputed embeddings, not the image folder


@dataclass
class Env:
    """Where a case runs: ``data`` (a fresh copy of the good images), ``out`` (the run
    folder), the shared precomputed ``npy`` + ``ids`` of the good images, the model and cache."""

    data: Path
    out: Path
    npy: Path
    ids: Path
    model: Path
    cache: Path
    n_good: int
    good_ids: list[str]
    clip: Path  # a small real video (4 scenes x 10 frames)

    def select(self, *extra, n: str = "5", out: Path | None = None, report: bool = False) -> list:
        return ["select", self.data, "-n", n, "--out", out or self.out, "--model", self.model, "--cache-dir", self.cache,
                "--workers", "0", "--report" if report else "--no-report", *extra]

    def select_emb(self, *extra, n: str = "5", npy: Path | None = None, ids: Path | None = None,
                   out: Path | None = None) -> list:
        return ["select", "--embeddings", npy or self.npy, "--ids", ids or self.ids, "-n", n, "--out", out or self.out,
                "--no-report", *extra]

    def inspect(self, *extra) -> list:
        return ["inspect", self.data, "--out", self.out, "--model", self.model, "--cache-dir", self.cache,
                "--workers", "0", *extra]


def tree_digest(root: Path) -> dict[str, str]:
    """What a folder holds, entry by entry (not following links): content hashes of files,
    targets of links, the kind of anything else. Equal digests: nothing was changed, added
    or removed."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = "link:" + os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = f"mode:{stat.S_IFMT(st.st_mode)}"
    return out


# -- image builders --------------------------------------------------------------------------
def _jpeg(seed: int = 0, size=(32, 32)) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (*size[::-1], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def write(rel: str, data: bytes) -> Callable[[Path, Env], None]:
    def make(root: Path, env: Env) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return make


def write_name(name_bytes: bytes, data: bytes) -> Callable[[Path, Env], None]:
    """A file whose name is given as raw bytes (newlines, non-UTF-8...)."""
    def make(root: Path, env: Env) -> None:
        with open(os.path.join(os.fsencode(root), name_bytes), "wb") as fh:
            fh.write(data)
    return make


def fifo(rel: str) -> Callable[[Path, Env], None]:
    return lambda root, env: os.mkfifo(root / rel)


def unix_socket(rel: str) -> Callable[[Path, Env], None]:
    def make(root: Path, env: Env) -> None:
        # socket paths are limited to about 100 bytes: bind from inside the folder
        cwd = os.getcwd()
        os.chdir(root)
        try:
            s = socket.socket(socket.AF_UNIX)
            s.bind(rel)
            s.close()
        finally:
            os.chdir(cwd)
    return make


def symlink(rel: str, target: str) -> Callable[[Path, Env], None]:
    return lambda root, env: os.symlink(target, root / rel)


def linked_folder(root: Path, env: Env) -> None:
    """A folder of 2 images outside the data, linked in as extra/."""
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / "a.jpg").write_bytes(_jpeg(101))
    (outside / "b.jpg").write_bytes(_jpeg(102))
    os.symlink(outside, root / "extra")


def animated_gif() -> bytes:
    frames = [Image.fromarray(np.full((24, 24, 3), c, np.uint8)) for c in (30, 120, 220)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def multipage_tiff() -> bytes:
    pages = [Image.fromarray(np.random.default_rng(i).integers(0, 256, (24, 24, 3), dtype=np.uint8)) for i in range(3)]
    return _save(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def combined(*makers: Callable[[Path, Env], None]) -> Callable[[Path, Env], None]:
    def make(root: Path, env: Env) -> None:
        for m in makers:
            m(root, env)
    return make


# -- video builders --------------------------------------------------------------------------
def header_only_mp4(root: Path, env: Env) -> None:
    """An .mp4 whose moov (index) lists 300 frames in several GOPs but whose data is gone."""
    from _video import encode_video, scene_frame

    tmp = root.parent / "long.mp4"
    encode_video(tmp, [scene_frame(t // 50, t) for t in range(300)], gop=12)
    data = tmp.read_bytes()
    (root / "header_only.mp4").write_bytes(data[: data.find(b"mdat") - 4])
    tmp.unlink()


def truncated_clip(root: Path, env: Env) -> None:
    data = env.clip.read_bytes()
    (root / "cut.mp4").write_bytes(data[: int(len(data) * 0.6)])


def audio_only_file(root: Path, env: Env) -> None:
    audio_only(root / "audio.mp4")


def make_clip(path: Path) -> Path:
    return cuts_clip(path, n_scenes=4, frames_per_scene=10)


# -- embedding-file builders ------------------------------------------------------------------
def npy_variant(kind: str) -> Callable[[Path, Env], None]:
    """Writes data/../emb.npy (+ ids.txt) of the given kind of damage."""
    def make(root: Path, env: Env) -> None:
        X = np.load(env.npy)
        target = root.parent / "emb.npy"
        ids = list(env.good_ids)
        if kind == "empty":
            target.write_bytes(b"")
        elif kind == "text":
            target.write_text("0.1,0.2,0.3\n0.4,0.5,0.6\n")
        elif kind == "truncated":
            buf = io.BytesIO()
            np.save(buf, X)
            target.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        elif kind == "object":
            np.save(target, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
        elif kind == "nan":
            X[3, 0] = np.nan
            np.save(target, X)
        elif kind == "zero":
            X[2] = 0
            np.save(target, X)
        elif kind == "one_d":
            np.save(target, X[0])
        elif kind == "complex":
            np.save(target, X.astype(np.complex64))
        elif kind == "short_ids":
            np.save(target, X)
            ids = ids[:-1]
        elif kind == "dup_ids":
            np.save(target, X)
            ids = ids[:-1] + [ids[0]]
        elif kind == "blank_id":
            np.save(target, X)
            ids = ids[:4] + [" "] + ids[5:]
        (root.parent / "emb.ids.txt").write_text("".join(i + "\n" for i in ids))
    return make


def csv_variant(kind: str) -> Callable[[Path, Env], None]:
    def make(root: Path, env: Env) -> None:
        X = np.load(env.npy)
        target = root.parent / "emb.csv"
        header = "id," + ",".join(f"embedding_{j}" for j in range(X.shape[1]))
        rows = [f"{i}," + ",".join(repr(float(v)) for v in x) for i, x in zip(env.good_ids, X)]
        if kind == "non_numeric":
            rows[7] = rows[7].rsplit(",", 1)[0] + ",oops"
        elif kind == "ragged":
            rows[5] = rows[5] + ",1.0"
        elif kind == "binary":
            target.write_bytes(b"\x00\x01\x02garbage\xff" * 50)
            return
        elif kind == "no_id":
            header = header.replace("id,", "name,", 1)
        target.write_text(header + "\n" + "\n".join(rows) + "\n")
    return make


def labels_csv(kind: str) -> Callable[[Path, Env], None]:
    def make(root: Path, env: Env) -> None:
        target = root.parent / "labels.csv"
        if kind == "no_label_column":
            target.write_text("id,colour\n" + "".join(f"{i},red\n" for i in env.good_ids))
        elif kind == "binary":
            target.write_bytes(b"id,label\n\x00\x00\xff\xfe")
        elif kind == "folder":
            target.mkdir()
        elif kind == "unknown_ids":
            target.write_text("id,label\n" + "".join(f"elsewhere/{k}.jpg,cat\n" for k in range(5)))
        elif kind == "non_utf8":
            target.write_bytes(b"id,label\n" + "".join(f"{i},k\xe4fer\n" for i in env.good_ids).encode("latin-1"))
    return make


def id_file(name: str, ids: Callable[[Env], list[str]]) -> Callable[[Path, Env], None]:
    def make(root: Path, env: Env) -> None:
        (root.parent / name).write_text("".join(i + "\n" for i in ids(env)))
    return make


def preds_variant(kind: str) -> Callable[[Path, Env], None]:
    """Writes input/preds.csv (or .npy + ids) of class probabilities for the good images."""
    def make(root: Path, env: Env) -> None:
        rng = np.random.default_rng(0)
        classes = sorted({i.split("/")[0] for i in env.good_ids})
        P = rng.dirichlet(np.ones(len(classes)), size=len(env.good_ids))
        ids = list(env.good_ids)
        target = root.parent / "preds.csv"
        if kind in ("npy_empty", "npy_text"):
            p = root.parent / "preds.npy"
            p.write_bytes(b"" if kind == "npy_empty" else b"0.5,0.5\n0.1,0.9\n")
            (root.parent / "preds.ids.txt").write_text("".join(i + "\n" for i in ids))
            return
        if kind == "folder":
            target.mkdir()
            return
        if kind == "binary":
            target.write_bytes(b"\x00\xff" * 100)
            return
        cells = [[repr(float(v)) for v in row] for row in P]
        if kind == "nan":
            cells[3][1] = "nan"
        elif kind == "not_normalised":
            cells[4] = ["0.9"] * len(classes)
        elif kind == "negative":
            cells[2][0] = "-0.2"
        elif kind == "non_numeric":
            cells[6][2] = "high"
        elif kind == "unknown_ids":
            ids = [f"elsewhere/{k}.jpg" for k in range(len(ids))]
        elif kind == "dup_ids":
            ids[5] = ids[4]
        text = "id," + ",".join(classes) + "\n" + "".join(f"{i}," + ",".join(c) + "\n" for i, c in zip(ids, cells))
        if kind == "one_class":
            text = "id,p\n" + "".join(f"{i},1.0\n" for i in ids)
        target.write_text(text)
    return make
