"""A pool where random selection wastes its budget: every image repeated as near-identical copies.

Video frames and burst photos come in runs of nearly the same picture. The pool built here
imitates that from real images: a class-stratified subset of a training split, each image
repeated as ``min_copies`` to ``max_copies`` (uniform) near-identical copies: the original
file itself (copy 0, bytes unchanged) and altered versions of it, each a small random crop
(1 - 3 pixels cut from each side, resized back), a brightness change (x 0.85 - 1.15) and a
JPEG re-encode (quality 60 - 95). A random subset of the pool then spends much of its
budget on copies of images it already has, and on the images that happen to have many
copies; a method that covers the pool does not.

The copies go to ``DEST/train/<class>/<stem>.rep-NN.jpg``; ``DEST/test`` links to the
unchanged test split, so the probe is scored exactly as on the plain pool.
``DEST/repeated.json`` records the groups (original id -> copy ids) and the settings.
The source folders are only read.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance

from .._progress import progress_bar
from ..errors import ConfigError, InputError
from ..runs.atomic import atomic_path, atomic_write_json
from ..sources.collection import collect
from ..sources.labels import labels_from_folders

__all__ = ["build_repeated_pool", "augment_copy", "MANIFEST"]

MANIFEST = "repeated.json"


def augment_copy(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, int]:
    """A near-identical copy of ``img`` and the JPEG quality to store it with."""
    w, h = img.size
    left, top, right, bottom = (int(v) for v in rng.integers(1, 4, size=4))
    out = img.crop((left, top, w - right, h - bottom)).resize((w, h), Image.BICUBIC)
    out = ImageEnhance.Brightness(out).enhance(float(rng.uniform(0.85, 1.15)))
    return out, int(rng.integers(60, 96))


def build_repeated_pool(source: str | Path, dest: str | Path, *, n_images: int = 1000, min_copies: int = 5,
                        max_copies: int = 30, seed: int = 0, train: str = "train", test: str = "test",
                        progress: bool | None = None) -> dict[str, Any]:
    """Build the repeated-copies pool from ``source/train`` (class folders) into ``dest``
    (new or empty) and return its manifest. ``n_images`` originals, stratified by class."""
    for name, v, low in (("n_images", n_images, 1), ("min_copies", min_copies, 1), ("max_copies", max_copies, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise ConfigError(f"The '{name}' parameter of build_repeated_pool must be an int >= {low}. Got {v!r} instead.")
    if max_copies < min_copies:
        raise ConfigError(f"max_copies ({max_copies}) must be >= min_copies ({min_copies}).")
    source, dest = Path(source), Path(dest)
    if not (source / train).is_dir() or not (source / test).is_dir():
        raise InputError(f"{source} must hold {train}/<class>/ and {test}/<class>/ image folders.")
    if dest.exists() and any(dest.iterdir()):
        raise InputError(f"{dest} is not empty; the repeated pool needs a fresh folder.", hint="Pass a new folder.")
    ids = collect(source / train).images
    classes = labels_from_folders(ids)
    if classes is None:
        raise InputError(f"{source / train} must hold one folder per class.")
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[str]] = {}
    for sid, c in zip(ids, classes):
        by_class.setdefault(c, []).append(sid)
    names = sorted(by_class)
    per = [n_images // len(names) + (1 if i < n_images % len(names) else 0) for i in range(len(names))]
    chosen = sorted(s for c, k in zip(names, per) for s in rng.choice(sorted(by_class[c]), min(k, len(by_class[c])), replace=False))
    counts = rng.integers(min_copies, max_copies + 1, size=len(chosen))
    groups: dict[str, list[str]] = {}
    with progress_bar("writing copies", int(counts.sum()), progress, unit="images") as bar:
        for sid, c in zip(chosen, counts):
            src = source / train / sid
            stem = str(Path(sid).with_suffix(""))
            with Image.open(src) as im:
                img = im.convert("RGB")
            members = []
            for r in range(int(c)):
                rel = f"{stem}.rep-{r:02d}.jpg"
                target = dest / train / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(target) as tmp:
                    if r == 0:
                        tmp.write_bytes(src.read_bytes())  # the original, unchanged
                    else:
                        copy, quality = augment_copy(img, rng)
                        buf = io.BytesIO()
                        copy.save(buf, format="JPEG", quality=quality)
                        tmp.write_bytes(buf.getvalue())
                members.append(rel)
                bar.advance()
            groups[sid] = members
    os.symlink((source / test).resolve(), dest / test, target_is_directory=True)
    manifest = {"source": str(source.resolve()), "train": train, "test": test, "n_images": len(chosen),
                "n_pool": int(counts.sum()), "min_copies": min_copies, "max_copies": max_copies, "seed": seed,
                "copies": {"crop_px_per_side": [1, 3], "brightness": [0.85, 1.15], "jpeg_quality": [60, 95],
                           "copy_0": "the original file"},
                "groups": groups}
    atomic_write_json(dest / MANIFEST, manifest)
    return manifest


def load_manifest(dest: str | Path) -> dict[str, Any]:
    path = Path(dest) / MANIFEST
    if not path.is_file():
        raise InputError(f"{path} does not exist; build the pool with `labelscout bench repeated-pool` first.")
    return json.loads(path.read_text())


def join_embeddings(pool_train: str | Path, test_source: str | Path, out: str | Path, *, train: str = "train",
                    test: str = "test") -> Path:
    """One saved embeddings folder for the linear probe on the repeated pool: the pool's
    copies (``pool_train``: embeddings of ``DEST/train``, ids relative to it) as
    ``train/...`` and the test split's vectors from ``test_source`` (embeddings of the
    whole source dataset, ids ``test/...``). Both must come from the same model."""
    from ..embed.store import EmbeddingSet

    a, b = EmbeddingSet.load(pool_train), EmbeddingSet.load(test_source)
    if a.model_id != b.model_id or a.dim != b.dim or a.fingerprint != b.fingerprint:
        raise InputError(f"The pool copies were embedded with {a.model_id} ({a.dim}-d) and the test split with "
                         f"{b.model_id} ({b.dim}-d); the probe needs one model for both.",
                         hint="Embed the copies with the model that embedded the test split.")
    rows = [i for i, sid in enumerate(b.ids) if sid.startswith(f"{test}/")]
    if not rows:
        raise InputError(f"{test_source} holds no {test}/ ids.")
    ids = [sid if sid.startswith(f"{train}/") else f"{train}/{sid}" for sid in a.ids] + [b.ids[i] for i in rows]
    vectors = np.concatenate([np.asarray(a.vectors, np.float32), np.asarray(b.vectors[rows], np.float32)])
    joined = EmbeddingSet(vectors, ids, model_id=a.model_id, fingerprint=a.fingerprint)
    return joined.save(out)
