"""Scoring near-duplicate detection with planted duplicates of real images.

:func:`plant_duplicates` copies a pool of real images into a new folder (the user's files
are only read) and adds altered copies of some of them. Each copy is the same photograph,
so each counts as a duplicate that a detector should pair with its original:

* ``jpeg``: re-encoded at JPEG quality 40 (compression artefacts);
* ``resize``: scaled up 2x with bicubic filtering (another resolution of the same image);
* ``crop``: 2 pixels cut from every border and scaled back to the original size (a
  slightly tighter crop);
* ``flip``: mirrored left-right. Counted as a duplicate (labeling both adds nothing), but
  many embeddings are trained to be flip-invariant and others not, so it is reported
  separately; leave it out with ``kinds``.

:func:`score_pairs` compares a detector's pairs (or groups, expanded to all their pairs)
with the planted truth: recall per kind, and the number of found pairs that were not
planted. Those "extra" pairs are not all false: CIFAR itself holds some near-identical
images; the report lists a sample of them for a look.
"""
from __future__ import annotations

import io
import itertools
import json
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from PIL import Image, ImageOps

from ..errors import ConfigError, InputError
from ..runs.atomic import atomic_path, atomic_write_json
from ..sources.collection import collect

__all__ = ["DUPLICATE_KINDS", "PlantedDuplicates", "plant_duplicates", "pairs_from_groups", "score_pairs", "alter"]

DUPLICATE_KINDS = ("jpeg", "resize", "crop", "flip")


def alter(img: Image.Image, kind: str) -> tuple[Image.Image, dict[str, Any]]:
    """An altered copy of ``img`` and the JPEG save options to store it with."""
    w, h = img.size
    if kind == "jpeg":
        return img.copy(), {"quality": 40}
    if kind == "resize":
        return img.resize((2 * w, 2 * h), Image.BICUBIC), {"quality": 95}
    if kind == "crop":
        c = max(1, round(min(w, h) / 16))
        return img.crop((c, c, w - c, h - c)).resize((w, h), Image.BICUBIC), {"quality": 95}
    if kind == "flip":
        return ImageOps.mirror(img), {"quality": 95}
    raise ConfigError(f"The duplicate kind must be one of {set(DUPLICATE_KINDS)}. Got {kind!r} instead.")


@dataclass
class PlantedDuplicates:
    root: Path
    pairs: list[tuple[str, str, str]]  # (original id, duplicate id, kind)
    n_images: int
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self) -> Path:
        return atomic_write_json(self.root.parent / f"{self.root.name}.planted.json",
                                 {"root": str(self.root), "n_images": self.n_images, "pairs": self.pairs, **self.extra})

    @classmethod
    def load(cls, path: str | Path) -> "PlantedDuplicates":
        d = json.loads(Path(path).read_text())
        return cls(Path(d["root"]), [tuple(p) for p in d["pairs"]], d["n_images"],
                   {k: v for k, v in d.items() if k not in ("root", "pairs", "n_images")})


def plant_duplicates(source: str | Path, dest: str | Path, *, n_pool: int | None = None, n_duplicates: int = 200,
                     kinds: Sequence[str] = DUPLICATE_KINDS, seed: int = 0) -> PlantedDuplicates:
    """Copy ``n_pool`` images (all by default) of ``source`` into ``dest`` and add
    ``n_duplicates`` altered copies (kinds used in turn) named ``<stem>.dup-<kind>.jpg``
    beside their originals. ``dest`` must not exist or be empty."""
    for k in kinds:
        alter(Image.new("RGB", (4, 4)), k)  # validates the kind names
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise InputError(f"{dest} is not empty; planting needs a fresh folder.", hint="Pass a new --out folder.")
    ids = collect(source).images
    rng = random.Random(seed)
    pool = sorted(rng.sample(ids, n_pool)) if n_pool is not None and n_pool < len(ids) else list(ids)
    if n_duplicates > len(pool):
        raise ConfigError(f"Cannot plant {n_duplicates} duplicates in a pool of {len(pool)} images.")
    src = Path(source)
    for sid in pool:
        (dest / sid).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / sid, dest / sid)
    pairs = []
    for i, sid in enumerate(rng.sample(pool, n_duplicates)):
        kind = kinds[i % len(kinds)]
        with Image.open(src / sid) as im:
            img, save = alter(im.convert("RGB"), kind)
        dup = str(Path(sid).with_suffix("")) + f".dup-{kind}.jpg"
        buf = io.BytesIO()
        img.save(buf, format="JPEG", **save)
        with atomic_path(dest / dup) as tmp:
            tmp.write_bytes(buf.getvalue())
        pairs.append((sid, dup, kind))
    planted = PlantedDuplicates(dest, pairs, len(pool) + len(pairs), {"kinds": list(kinds), "seed": seed, "source": str(source)})
    planted.save()
    return planted


def pairs_from_groups(groups: Iterable[Sequence[str]]) -> set[frozenset[str]]:
    """All unordered pairs within each group of duplicates."""
    return {frozenset(p) for g in groups for p in itertools.combinations(sorted(set(g)), 2)}


def score_pairs(found: Iterable[Sequence[str]], planted: PlantedDuplicates, *, groups: bool = False,
                examples: int = 10) -> dict[str, Any]:
    """Recall of the planted pairs (overall and per kind) and the pairs found beyond them.

    ``found``: pairs ``(id_a, id_b)``, or groups of ids with ``groups=True``.
    """
    pairs = pairs_from_groups(found) if groups else {frozenset(p) for p in found if len(set(p)) == 2}
    truth = {frozenset((a, b)): kind for a, b, kind in planted.pairs}
    hit = Counter(kind for p, kind in truth.items() if p in pairs)
    total = Counter(truth.values())
    extra = sorted(tuple(sorted(p)) for p in pairs if p not in truth)
    return {
        "planted": len(truth), "found_pairs": len(pairs), "recall": sum(hit.values()) / len(truth) if truth else float("nan"),
        "recall_by_kind": {k: hit[k] / total[k] for k in sorted(total)},
        "true_pairs": sum(hit.values()), "pairs_not_planted": len(extra),
        "precision": sum(hit.values()) / len(pairs) if pairs else float("nan"),
        "examples_not_planted": extra[:examples],
    }


def knn_threshold_pairs(vectors: Any, ids: Sequence[str], threshold: float = 0.95, k: int = 5) -> list[tuple[str, str]]:
    """Reference baseline: pairs of kNN neighbours whose cosine similarity is >= ``threshold``.

    Not the product's detector: a yardstick that shows what the plain embedding already
    separates, so a detector's numbers can be read against it."""
    import numpy as np

    from ..space.knn import knn_graph

    X = np.asarray(vectors, dtype=np.float32)
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    g = knn_graph(X, k)
    cos = 1.0 - 0.5 * np.square(g.distances)  # unit vectors: |a-b|^2 = 2 - 2 cos
    rows, cols = np.nonzero((g.indices >= 0) & (cos >= threshold))
    return sorted({tuple(sorted((ids[r], ids[g.indices[r, c]]))) for r, c in zip(rows, cols)})


def detector_pairs(name: str, vectors: Any, ids: Sequence[str], hashes: Sequence[str] | None = None,
                   **params: Any) -> list[tuple[str, str]]:
    """Pairs found by the registered detector ``name`` (``labelscout.detectors``).

    The detector is fitted on the embeddings; its ``groups_`` (groups of sample positions)
    are expanded to pairs."""
    from ..detectors import DETECTORS

    grouping = sorted(n for n, c in DETECTORS.items() if c.finds_groups)
    if name not in grouping:
        raise ConfigError(f"The 'detector' parameter must be one of {grouping + ['knn-threshold']}. Got {name!r} instead.")
    det = DETECTORS[name](**params)
    det.fit(vectors, ids=list(ids), hashes=hashes)
    groups = [[ids[m] for m in g] for g in det.groups_]
    return sorted(tuple(sorted(p)) for p in pairs_from_groups(groups))


def run_duplicate_benchmark(source: str | Path, out: str | Path, *, model: str | None = None, detector: str = "near-duplicates",
                            detector_params: dict[str, Any] | None = None, n_pool: int | None = 5000,
                            n_duplicates: int = 400, kinds: Sequence[str] = DUPLICATE_KINDS, seed: int = 0,
                            device: str = "auto", cache_dir: str | Path | None = "default",
                            progress: bool | None = None) -> dict[str, Any]:
    """Plant duplicates of ``source`` images into ``out/pool``, embed it, run ``detector``
    (a registered grouping detector, default "near-duplicates", or the "knn-threshold"
    baseline, whose ``threshold`` is a cosine *similarity*) and score it; writes
    ``out/duplicates.json`` and ``out/run.json``."""
    from ..runs.outputs import prepare_run_folder
    from ..runs.record import RunRecord
    from ..embed.embedder import Embedder

    out = prepare_run_folder(out)
    record = RunRecord(command="labelscout bench duplicates", seed=seed)
    record.config = {"source": str(source), "model": model, "detector": detector, "detector_params": detector_params or {},
                     "n_pool": n_pool, "n_duplicates": n_duplicates, "kinds": list(kinds), "seed": seed}
    planted_file = out / "pool.planted.json"
    planted = PlantedDuplicates.load(planted_file) if planted_file.is_file() else plant_duplicates(
        source, out / "pool", n_pool=n_pool, n_duplicates=n_duplicates, kinds=kinds, seed=seed)
    with record.timer("embed"):
        emb = Embedder(model, device=device, cache_dir=cache_dir, progress=progress).embed(planted.root).embeddings
    params = dict(detector_params or {})
    with record.timer("detect"):
        if detector == "knn-threshold":
            pairs = knn_threshold_pairs(emb.vectors, emb.ids, **params)
        else:
            pairs = detector_pairs(detector, emb.vectors, emb.ids, hashes=emb.content_hashes, **params)
    result = {"detector": detector, "params": params, "model_id": emb.model_id, "images": len(emb), **score_pairs(pairs, planted)}
    atomic_write_json(out / "duplicates.json", result)
    record.counts.update({"images": len(emb), "planted": len(planted.pairs), "found_pairs": result["found_pairs"]})
    record.status = "finished"
    record.write(out)
    return result
