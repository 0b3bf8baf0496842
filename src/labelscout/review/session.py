"""A label review: the samples, their misfit order, their embeddings, the decision store.

:func:`open_review` builds one from images (or saved / precomputed embeddings) and labels;
the web app (:mod:`labelscout.review.app`) only calls the methods of
:class:`ReviewSession` and turns their results into JSON.
"""
from __future__ import annotations

import getpass
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, InputError
from ..runs.outputs import prepare_run_folder
from ..runs.record import RunRecord
from .misfits import Misfits, misfits_from_embeddings, misfits_from_predictions
from .store import Decision, DecisionStore, conflicting
from .thumbs import ThumbnailCache, sprite_sheet

__all__ = ["ReviewSession", "open_review", "default_reviewer", "misfits_cache_key", "unit_rows", "CACHE_DIR"]

log = logging.getLogger(__name__)

CACHE_DIR = "review_cache"
SORTS = ("misfit", "similar", "file")


def default_reviewer() -> str:
    """The reviewer's name when none is given: $LABELSCOUT_REVIEWER, else the login name."""
    name = os.environ.get("LABELSCOUT_REVIEWER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "reviewer"


def misfits_cache_key(vectors: np.ndarray, ids: Sequence[str], given: Sequence[str], method: str, seed: int) -> str:
    """What cached misfit scores were computed from: the unit vectors, ids, labels, method."""
    from ..report.cache import digest
    from ..space.cache import vectors_fingerprint

    return digest(vectors_fingerprint(vectors, list(ids)), list(given), method, seed)


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32; zero rows stay zero)."""
    X = np.asarray(X, dtype=np.float32)
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(n > 0, n, 1.0)


@dataclass
class ReviewSession:
    """The library side of the review UI.

    root : folder the sample ids are relative to (only its files are ever served).
    ids, given : the labeled samples under review and their given labels.
    misfits : scores, posterior's belief, classes.
    vectors : ndarray of shape (n_samples, n_features), unit rows, for "similar to this".
    store : the decisions; thumbs : the thumbnail cache; out : the run folder.
    """

    root: Path
    ids: list[str]
    given: list[str]
    misfits: Misfits
    vectors: np.ndarray | None
    store: DecisionStore
    thumbs: ThumbnailCache
    out: Path
    reviewer: str

    def __post_init__(self) -> None:
        self.index = {sid: i for i, sid in enumerate(self.ids)}
        self._root_real = self.root.resolve()
        self._files = {sid.split("#", 1)[0] for sid in self.ids}
        self.class_index = {c: i for i, c in enumerate(self.misfits.classes)}

    # -- what the page shows --------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        counts = np.bincount(self.misfits.given, minlength=len(self.misfits.classes))
        elsewhere = np.bincount(self.misfits.suggested[(self.misfits.suggested >= 0) & (self.misfits.suggested != self.misfits.given)],
                                minlength=len(self.misfits.classes))
        return {"n": len(self.ids), "reviewer": self.reviewer, "source": self.misfits.source,
                "similar": self.vectors is not None, "root": str(self.root),
                "classes": [{"name": c, "count": int(counts[i]), "elsewhere": int(elsewhere[i])}
                            for i, c in enumerate(self.misfits.classes)]}

    def _cls(self, name: str) -> int:
        if name not in self.class_index:
            raise InputError(f"{name!r} is not a class of this review.")
        return self.class_index[name]

    def _items(self, rows: np.ndarray) -> dict[str, Any]:
        m = self.misfits
        return {"idx": rows.tolist(), "id": [self.ids[i] for i in rows],
                "given": m.given[rows].tolist(),
                "score": [None if not np.isfinite(v) else round(float(v), 4) for v in m.scores[rows]],
                "sug": m.suggested[rows].tolist(),
                "conf": [None if not np.isfinite(v) else round(float(v), 4) for v in m.confidence[rows]]}

    def class_view(self, name: str, sort: str = "misfit", like: int | None = None) -> dict[str, Any]:
        """The samples labeled ``name``: misfits first, in file order, or most similar to
        sample ``like`` first (cosine similarity of the embeddings)."""
        c = self._cls(name)
        if sort not in SORTS:
            raise InputError(f"sort must be one of {SORTS}; got {sort!r}.")
        rows = self.misfits.members(c)
        if sort == "file":
            rows = np.sort(rows)
        elif sort == "similar":
            rows = self.similar(rows, like)
        return {"class": name, "sort": sort, "like": like, **self._items(rows)}

    def similar(self, rows: np.ndarray, like: int | None) -> np.ndarray:
        if self.vectors is None:
            raise InputError("Sorting by similarity needs the embeddings; this review was opened without them.")
        if like is None or not 0 <= like < len(self.ids):
            raise InputError(f"'like' must be a sample index in [0, {len(self.ids)}); got {like!r}.")
        sim = self.vectors[rows] @ self.vectors[like]  # (n_rows,)
        return rows[np.argsort(-sim, kind="stable")]

    def elsewhere_view(self, name: str) -> dict[str, Any]:
        """Samples the posterior assigns to ``name`` that carry another label."""
        return {"class": name, "sort": "elsewhere", **self._items(self.misfits.elsewhere(self._cls(name)))}

    # -- decisions ------------------------------------------------------------------------
    def decision_json(self, d: Decision) -> dict[str, Any]:
        i = self.index[d.sample]
        return {**d.to_json(), "idx": i, "cls": int(self.misfits.given[i])}

    def mark(self, reviewer: str | None, marks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store marks (``{"idx" or "sample", "verdict", "new"}``) at once; returns the rows."""
        tuples = []
        for mk in marks:
            if "idx" in mk and mk["idx"] is not None:
                i = int(mk["idx"])
                if not 0 <= i < len(self.ids):
                    raise InputError(f"sample index {i} is out of range [0, {len(self.ids)}).")
                sample = self.ids[i]
            else:
                sample = str(mk.get("sample", ""))
            new = mk.get("new")
            if new is not None and new not in self.class_index:
                raise InputError(f"{new!r} is not a class of this review; classes: {self.misfits.classes[:20]}.")
            tuples.append((sample, str(mk.get("verdict", "")), new))
        return [self.decision_json(d) for d in self.store.record(reviewer or self.reviewer, tuples)]

    def decisions(self, since: int = 0) -> list[dict[str, Any]]:
        return [self.decision_json(d) for d in self.store.since(since)]

    def summary(self) -> dict[str, Any]:
        cur = self.store.current()
        return {"decided": len(cur), "conflicts": sum(1 for r in cur.values() if conflicting(r.values())),
                "reviewers": sorted({rv for r in cur.values() for rv in r})}

    # -- files ----------------------------------------------------------------------------
    def dataset_file(self, rel: str) -> Path | None:
        """The file ``rel`` names when it is a file of this dataset, inside the root after
        following links; else None. Anything not a sample's own path (absolute paths, "..",
        other files in the folder) is refused."""
        if rel not in self._files:
            return None
        try:
            real = (self.root / rel).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_file() or not real.is_relative_to(self._root_real):
            return None
        return real

    def thumbnail(self, i: int) -> bytes | None:
        if not 0 <= i < len(self.ids) or self.dataset_file(self.ids[i].split("#", 1)[0]) is None:
            return None
        return self.thumbs.get(self.ids[i])

    def thumbnails(self, indices: Sequence[int]) -> list[bytes | None]:
        """Thumbnails of many samples (None for any that cannot be shown): one request
        fills a screen of the grid instead of a hundred."""
        from ..errors import BadSampleError

        out: list[bytes | None] = []
        for i in indices:
            try:
                out.append(self.thumbnail(int(i)))
            except BadSampleError as exc:
                log.debug("no thumbnail for sample %s: %s", i, exc)
                out.append(None)
        return out

    def thumbnail_sprite(self, indices: Sequence[int]) -> tuple[bytes, int, list[int]]:
        """The thumbnails of ``indices`` as one sprite sheet (see :func:`sprite_sheet`):
        what the grid loads, one image per block of tiles."""
        return sprite_sheet(self.thumbnails(indices))

    def close(self) -> None:
        self.store.close()


def _pool(images: Path, embeddings: str | Path | None, ids: str | Path | None, record: RunRecord,
          embed_kwargs: dict[str, Any]):
    """The embeddings of the collection, through the pipeline's pool loader: computed from
    the images (cached by content), a saved embeddings folder, or a precomputed file."""
    from ..config import ModelConfig
    from ..pipeline import load_embeddings

    kw = dict(embed_kwargs)
    progress = kw.pop("progress", None)
    model = ModelConfig(**{k: (str(v) if k in ("weights", "cache_dir") and v is not None else v) for k, v in kw.items()}).validate()
    from ..reporting import as_reporter

    loaded = load_embeddings(images if embeddings is None else None, embeddings=embeddings, ids=ids, model=model,
                             record=record, reporter=as_reporter(progress))
    return loaded.embeddings, loaded.skipped


def open_review(
    images: str | Path,
    *,
    out: str | Path,
    labels: str | None = "auto",
    label_column: str | None = None,
    predictions: str | Path | None = None,
    logits: bool = False,
    embeddings: str | Path | None = None,
    ids: str | Path | None = None,
    reviewer: str | None = None,
    method: str = "ensemble",
    seed: int = 0,
    model: str | None = None,
    arch: str | None = None,
    weights: str | None = None,
    device: str = "auto",
    batch_size: int = 256,
    workers: int | None = None,
    cache_dir: str | Path | None = "default",
    progress: bool | None = None,
) -> ReviewSession:
    """Prepare the review of ``images`` (the folder the ids are relative to) with their
    ``labels`` in the run folder ``out``; reopening a folder resumes its decisions.

    ``labels``: "auto"/"folders" (class folders) or a CSV with id,label (as for
    :func:`labelscout.select`). ``predictions``: a model's class probabilities (or
    ``logits``) per sample: they order the classes and say what the model believed;
    without them the label-error detector's posterior from the embeddings does.
    ``embeddings`` (+ ``ids``): precomputed vectors instead of embedding ``images``.
    """
    from ..sources.labels import resolve_labels

    t0 = time.perf_counter()
    root = Path(images)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder.", hint="Give the folder the images (and the label ids) are in.")
    if labels in (None, "none"):
        raise ConfigError("A review needs labels; got labels='none'.", hint="Pass --labels labels.csv, or use class folders.")
    out = prepare_run_folder(out)
    record = RunRecord(command="labelscout review")
    record.config = {"images": str(root), "labels": labels, "label_column": label_column,
                     "predictions": str(predictions) if predictions else None, "embeddings": str(embeddings) if embeddings else None,
                     "method": method, "seed": seed}
    embed_kwargs = dict(model=model, arch=arch, weights=weights, device=device, batch_size=batch_size, workers=workers,
                        cache_dir=cache_dir, progress=progress)
    with record.timer("embeddings"):
        emb, skipped = _pool(root, embeddings, ids, record, embed_kwargs)
    label_values, record.extra["labels_source"] = resolve_labels(labels, emb.ids, label_column)
    if label_values is None:
        raise InputError(f"No labels for the samples in {root}: they are not in class folders.",
                         hint="Pass --labels labels.csv (columns id,label).")
    rows = np.array([i for i, v in enumerate(label_values) if v is not None and v == v and str(v) != ""], dtype=np.int64)
    if rows.size < 3:
        raise InputError(f"Only {rows.size} of {len(emb)} samples have a label; a review needs at least 3.",
                         hint="Check that the label file's ids are paths relative to IMAGES.")
    sample_ids = [emb.ids[i] for i in rows]
    given = [str(label_values[i]) for i in rows]
    vectors = unit_rows(np.asarray(emb.vectors[rows] if rows.size < len(emb) else emb.vectors))
    cache = out / CACHE_DIR
    cache.mkdir(exist_ok=True)
    with record.timer("misfits"):
        if predictions is not None:
            misfits = misfits_from_predictions(predictions, sample_ids, given, logits=logits)
        else:
            key = misfits_cache_key(vectors, sample_ids, given, method, seed)
            misfits = Misfits.load(cache, key)
            record.extra["misfits_cached"] = misfits is not None
            if misfits is None:
                from .._progress import progress_bar

                with progress_bar(f"scoring {len(given)} labels ({method})", None, progress):
                    misfits = misfits_from_embeddings(vectors, given, method=method, seed=seed)
                misfits.save(cache, key)
    store = DecisionStore(out, sample_ids, given)
    record.counts.update({"pool": len(emb), "labeled": len(sample_ids), "classes": len(misfits.classes),
                          "skipped": len(skipped), "decisions": store.last_seq()})
    record.extra["misfits"] = {"source": misfits.source, **misfits.info}
    record.timings["total"] = round(time.perf_counter() - t0, 4)
    record.status = "serving"
    record.write(out)
    return ReviewSession(root, sample_ids, given, misfits, vectors, store, ThumbnailCache(cache, root), out,
                         reviewer or default_reviewer())
