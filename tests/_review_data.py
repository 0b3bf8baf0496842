"""A small labeled image folder with known label errors, for the review tests.

Three colour classes of real JPEG files (noisy squares of a base colour); a few images of
each class carry another class's label. The embeddings are the images' own mean colour
and a few texture statistics, computed from the files, so "misfits first" has a truth to
meet: the mislabeled images should open each class.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

BASE = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 60, 200)}


@dataclass
class Dataset:
    root: Path
    labels: Path
    embeddings: Path
    ids: list[str]
    given: list[str]
    truth: list[str]

    @property
    def wrong(self) -> set[str]:
        return {i for i, g, t in zip(self.ids, self.given, self.truth) if g != t}


def _features(path: Path) -> np.ndarray:
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return np.concatenate([a.mean(axis=(0, 1)), a.std(axis=(0, 1)), a[:8].mean(axis=(0, 1))])


def make_dataset(folder: Path, per_class: int = 20, wrong_per_class: int = 3, seed: int = 0, size: int = 48) -> Dataset:
    rng = np.random.default_rng(seed)
    root = folder / "images"
    names = list(BASE)
    ids, given, truth = [], [], []
    for c, name in enumerate(names):
        (root / name).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            pix = np.clip(np.array(BASE[name]) + rng.normal(0, 28, (size, size, 3)), 0, 255).astype(np.uint8)
            sid = f"{name}/{k:04d}.jpg"
            Image.fromarray(pix).save(root / sid, quality=90)
            ids.append(sid)
            truth.append(name)
            given.append(names[(c + 1) % len(names)] if k < wrong_per_class else name)
    labels = folder / "labels.csv"
    with open(labels, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label"])
        w.writerows(zip(ids, given))
    vectors = np.stack([_features(root / sid) for sid in ids]).astype(np.float32)
    emb = folder / "emb.npy"
    np.save(emb, vectors)
    (folder / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    return Dataset(root, labels, emb, ids, given, truth)


# -- a class long enough to scroll, each picture a colour that names it -----------------
LEVELS = 16  # steps per channel: 16 apart, far more than JPEG and filtering move a flat colour


def index_colour(k: int) -> tuple[int, int, int]:
    """The flat colour of picture k (k < LEVELS ** 3)."""
    return tuple(8 + 16 * ((k // LEVELS ** c) % LEVELS) for c in range(3))


def colour_index(rgb) -> int:
    """The k whose colour is nearest ``rgb``."""
    return sum(min(LEVELS - 1, max(0, round((v - 8) / 16))) * LEVELS ** c for c, v in enumerate(rgb[:3]))


def make_colour_dataset(folder: Path, many: int = 1500, few: int = 40, size: int = 32) -> Dataset:
    """Class "many" (``many`` pictures) and class "other" (``few``), picture k a flat
    ``index_colour(k)`` square saved as ``many/0007.jpg``: a grid cell's colour on the screen
    says which sample it shows."""
    root = folder / "images"
    ids, given = [], []
    for name, count, start in (("many", many, 0), ("other", few, many)):
        (root / name).mkdir(parents=True, exist_ok=True)
        for k in range(start, start + count):
            sid = f"{name}/{k:04d}.jpg"
            Image.new("RGB", (size, size), index_colour(k)).save(root / sid, quality=95)
            ids.append(sid)
            given.append(name)
    labels = folder / "labels.csv"
    with open(labels, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label"])
        w.writerows(zip(ids, given))
    rng = np.random.default_rng(0)
    vectors = np.array([index_colour(k) for k in range(len(ids))], np.float32) / 255 + rng.normal(0, 0.01, (len(ids), 3)).astype(np.float32)
    emb = folder / "emb.npy"
    np.save(emb, vectors)
    (folder / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    return Dataset(root, labels, emb, ids, given, list(given))
