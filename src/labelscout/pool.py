"""The :class:`Pool`: everything a strategy or detector may use, aligned by sample id.

Sources, embeddings and a model's predictions meet here. Row ``i`` of every field belongs
to ``ids[i]``: the vectors (in whatever space the run works in), the labels, the content
hashes, per-sample metadata columns, and optionally a model's class probabilities
(:class:`labelscout.sources.predictions.Predictions`: ``probabilities`` (N, C) and
``class_names``) and per-sample model features. An estimator declares which of the
optional fields it needs (``requires = {"labels"}``, ``{"predictions"}``...), and
:func:`check_requirements` says clearly which one is missing and how to provide it.

This is plain data: it imports nothing from a later stage of the pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import InputError

__all__ = ["Pool", "REQUIREMENTS", "check_requirements", "missing_requirements"]

#: optional Pool fields an estimator may require -> how a user provides them
REQUIREMENTS: dict[str, str] = {
    "labels": "Pass labels from class folders or --labels FILE.csv.",
    "content_hashes": "Embed files with labelscout (the embeddings sidecar keeps their content hashes).",
    "predictions": "Pass a model's class probabilities with --predictions FILE (one row per sample, one column per class).",
    "features": "Pass the model's per-sample features with the predictions (--features FILE).",
}


def _check_predictions(pred: Any, n: int, shape: Any) -> None:
    """A predictions object is anything with ``probabilities`` of shape (n_samples,
    n_classes) and ``class_names`` (one per column), such as
    :class:`labelscout.sources.predictions.Predictions`."""
    P = getattr(pred, "probabilities", None)
    names = getattr(pred, "class_names", None)
    if P is None or names is None:
        raise InputError(f"predictions must carry 'probabilities' (n_samples, n_classes) and 'class_names'; "
                         f"got a {type(pred).__name__}.", hint="Load them with labelscout.sources.predictions.load_predictions.")
    if np.ndim(P) != 2:
        raise InputError(f"predictions must have shape (n_samples, n_classes); got shape {np.shape(P)}.")
    _aligned("predictions", range(np.shape(P)[0]), n, shape)
    if len(names) != np.shape(P)[1]:
        raise InputError(f"predictions have {np.shape(P)[1]} columns but {len(names)} class names.")


def _subset_rows(obj: Any, rows: np.ndarray, n: int) -> Any:
    """``obj`` (a dataclass of per-sample arrays, e.g. predictions) with every array whose
    first axis runs over the ``n`` samples cut to ``rows``; other fields kept."""
    if hasattr(obj, "subset"):
        return obj.subset(rows)
    changes = {f.name: np.asarray(getattr(obj, f.name))[rows] for f in fields(obj)
               if isinstance(getattr(obj, f.name), np.ndarray) and getattr(obj, f.name).shape[:1] == (n,)}
    return replace(obj, **changes)


@dataclass
class Pool:
    """Samples aligned by id: row ``i`` of every field belongs to ``ids[i]``.

    vectors : ndarray of shape (n_samples, n_features), the space the run works in
        (memory-mapped arrays stay memory-mapped).
    ids : sample ids (default: the row numbers as strings).
    labels : one label per sample, or None.
    content_hashes : content hash per sample (None for one without, e.g. a video frame), or None.
    meta : column -> one value per sample (video, frame, timestamp...).
    predictions : a model's class probabilities, or None: an object with ``probabilities``
        of shape (n_samples, n_classes) and ``class_names`` (see
        :class:`labelscout.sources.predictions.Predictions`; rows of samples the model did
        not score may be NaN, with ``present`` saying which).
    features : ndarray of shape (n_samples, n_model_features), a model's own per-sample
        features (e.g. its penultimate layer), or None.
    """

    vectors: Any
    ids: list[str] = None  # type: ignore[assignment]
    labels: list[Any] | None = None
    content_hashes: list[str | None] | None = None
    meta: dict[str, list[Any]] = field(default_factory=dict)
    predictions: Any = None
    features: np.ndarray | None = None

    def __post_init__(self) -> None:
        shape = getattr(self.vectors, "shape", None)
        if shape is None:
            self.vectors = np.asarray(self.vectors)
            shape = self.vectors.shape
        if len(shape) != 2:
            raise InputError(f"embeddings must be a 2-D array of shape (n_samples, n_features); got shape {tuple(shape)}.")
        n = int(shape[0])
        self.ids = [str(i) for i in range(n)] if self.ids is None else list(self.ids)
        _aligned("ids", self.ids, n, shape)
        if len(set(self.ids)) != n:
            seen: set[str] = set()
            dup = next(i for i in self.ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
            raise InputError(f"The pool has a duplicate sample id {dup!r}; ids must be unique.")
        if self.labels is not None:
            self.labels = list(self.labels)
            _aligned("labels", self.labels, n, shape)
        if self.content_hashes is not None:
            self.content_hashes = list(self.content_hashes)
            _aligned("content_hashes", self.content_hashes, n, shape)
        self.meta = {k: list(v) for k, v in (self.meta or {}).items()}
        for k, v in self.meta.items():
            _aligned(f"metadata column {k!r}", v, n, shape)
        if self.predictions is not None:
            _check_predictions(self.predictions, n, shape)
        if self.features is not None:
            F = np.asarray(self.features)
            if F.ndim != 2:
                raise InputError(f"features must have shape (n_samples, n_model_features); got shape {F.shape}.")
            _aligned("features", range(F.shape[0]), n, shape)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        present = [f for f in REQUIREMENTS if self.has(f)]
        return (f"Pool({len(self)} samples, vectors {tuple(self.vectors.shape)}"
                + (f", with {', '.join(present)}" if present else "") + (f", meta {sorted(self.meta)}" if self.meta else "") + ")")

    @property
    def n_samples(self) -> int:
        return len(self.ids)

    def has(self, requirement: str) -> bool:
        """Whether the optional field ``requirement`` (a key of :data:`REQUIREMENTS`) is present."""
        if requirement not in REQUIREMENTS:
            raise ValueError(f"unknown pool requirement {requirement!r}; known: {sorted(REQUIREMENTS)}")
        return getattr(self, requirement) is not None

    def with_vectors(self, vectors: Any) -> "Pool":
        """The same samples in another space (e.g. the run's PCA / UMAP vectors)."""
        if vectors.shape[0] != len(self):
            raise InputError(f"the new vectors have {vectors.shape[0]} rows for a pool of {len(self)} samples.")
        return replace(self, vectors=vectors)

    def subset(self, rows: Iterable[int]) -> "Pool":
        """The samples at positions ``rows`` (in that order), every field kept aligned."""
        rows = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, dtype=np.int64)
        return Pool(
            np.asarray(self.vectors[rows]),
            [self.ids[i] for i in rows],
            None if self.labels is None else [self.labels[i] for i in rows],
            None if self.content_hashes is None else [self.content_hashes[i] for i in rows],
            {k: [v[i] for i in rows] for k, v in self.meta.items()},
            None if self.predictions is None else _subset_rows(self.predictions, rows, len(self)),
            None if self.features is None else np.asarray(self.features)[rows],
        )

    def positions(self, ids: Sequence[str]) -> np.ndarray:
        """Row of each id in ``ids``; an id not in the pool is an error naming it."""
        pos = {sid: i for i, sid in enumerate(self.ids)}
        missing = [s for s in ids if s not in pos]
        if missing:
            raise InputError(f"{len(missing)} id(s) are not in the pool, e.g. {missing[:3]}.",
                             hint="Ids are paths relative to the dataset root, as in selection.txt.")
        return np.array([pos[s] for s in ids], dtype=np.int64)

    @classmethod
    def from_embeddings(cls, emb: Any, *, labels: Sequence[Any] | None = None, predictions: Any = None,
                        features: np.ndarray | None = None, vectors: Any = None) -> "Pool":
        """A pool from an :class:`~labelscout.embed.store.EmbeddingSet` (anything with
        ``vectors``, ``ids``, ``content_hashes`` and ``sample_meta``); ``vectors`` replaces
        its vectors (e.g. with the run's space)."""
        return cls(emb.vectors if vectors is None else vectors, list(emb.ids), labels,
                   getattr(emb, "content_hashes", None), dict(getattr(emb, "sample_meta", {}) or {}), predictions, features)


def _aligned(what: str, values: Any, n: int, shape: Any) -> None:
    if len(values) != n:
        raise InputError(f"{what} has {len(values)} entries for {n} samples (embeddings shape {tuple(shape)}); they must match.")


def missing_requirements(requires: Iterable[str], pool: Pool) -> list[str]:
    """The required optional fields that ``pool`` lacks."""
    return [r for r in sorted(requires) if not pool.has(r)]


def check_requirements(owner: str, requires: Iterable[str], pool: Pool) -> None:
    """Raise :class:`InputError` naming ``owner`` and each missing field, with how to provide it."""
    missing = missing_requirements(requires, pool)
    if missing:
        what = " and ".join(_WORDS.get(m, m) for m in missing)
        raise InputError(f"{owner} needs {what}; none were given.", hint=" ".join(REQUIREMENTS[m] for m in missing))


_WORDS = {"labels": "labels (one per sample)", "content_hashes": "content hashes (one per sample)",
          "predictions": "model predictions (class probabilities per sample)",
          "features": "model features (one vector per sample)"}
