"""Which images of a class look like they do not belong: the order the review shows them in.

The score of a sample is ``1 - p(given label)`` under an out-of-sample class posterior
(confident learning's self-confidence rank), from one of two sources:

* the embeddings: the posterior of :class:`labelscout.detectors.LabelErrorDetector`
  (the same detector ``inspect -d label-errors`` runs), or
* a model's predictions (``--predictions``), read by
  :func:`labelscout.sources.predictions.load_predictions`.

Either way the review also knows what the posterior believes (the most probable class and
its probability: "model: cat 0.91"), which gives the view of images the model assigns to
a class they are not labeled with.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from ..runs.atomic import atomic_save_npy, atomic_write_json

__all__ = ["Misfits", "misfits_from_embeddings", "misfits_from_posterior", "misfits_from_predictions"]

log = logging.getLogger(__name__)


@dataclass
class Misfits:
    """Per-sample misfit scores of the samples under review.

    classes : class names, the columns of the posterior.
    given : ndarray of shape (n_samples,), index into ``classes`` of each given label.
    scores : ndarray of shape (n_samples,), ``1 - p(given)`` in [0, 1]; NaN where the
        posterior is unknown (a prediction file without that sample).
    suggested : ndarray of shape (n_samples,), the most probable class (-1 where unknown).
    confidence : ndarray of shape (n_samples,), its probability (NaN where unknown).
    source : "embeddings" or "predictions"; ``info``: how it was computed (for run.json).
    """

    classes: list[str]
    given: np.ndarray
    scores: np.ndarray
    suggested: np.ndarray
    confidence: np.ndarray
    source: str
    info: dict[str, Any] = field(default_factory=dict)

    def members(self, cls: int) -> np.ndarray:
        """Samples labeled ``cls``, misfits first (highest score; unknown scores last;
        ties in sample order)."""
        idx = np.flatnonzero(self.given == cls)
        s = np.nan_to_num(self.scores[idx], nan=-1.0)
        return idx[np.argsort(-s, kind="stable")]

    def elsewhere(self, cls: int) -> np.ndarray:
        """Samples the posterior assigns to ``cls`` that are labeled otherwise, most
        confident first."""
        idx = np.flatnonzero((self.suggested == cls) & (self.given != cls))
        return idx[np.argsort(-np.nan_to_num(self.confidence[idx], nan=-1.0), kind="stable")]

    def save(self, folder: Path, key: str) -> None:
        for name in ("given", "scores", "suggested", "confidence"):
            atomic_save_npy(folder / f"misfits.{name}.npy", getattr(self, name))
        atomic_write_json(folder / "misfits.json", {"key": key, "classes": self.classes, "source": self.source, "info": self.info})

    @classmethod
    def load(cls, folder: Path, key: str) -> "Misfits | None":
        import json

        meta_path = folder / "misfits.json"
        try:
            meta = json.loads(meta_path.read_text()) if meta_path.is_file() else None
            if not meta or meta.get("key") != key:
                return None
            arrays = {n: np.load(folder / f"misfits.{n}.npy") for n in ("given", "scores", "suggested", "confidence")}
        except (OSError, ValueError) as exc:
            log.info("review cache in %s unreadable (%s); scoring again", folder, exc)
            return None
        return cls(meta["classes"], source=meta["source"], info=meta.get("info", {}), **arrays)


def misfits_from_posterior(post: np.ndarray, classes: Sequence[str], given: Sequence[str], source: str,
                           info: dict[str, Any] | None = None) -> Misfits:
    """Scores from a class posterior of shape (n_samples, n_classes) whose columns are
    ``classes``; rows that are all NaN are unknown."""
    classes = [str(c) for c in classes]
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({g for g in given if g not in index})
    if unknown:
        raise InputError(f"Labels {unknown[:5]} are not among the posterior's classes {classes[:10]}.")
    y = np.array([index[g] for g in given], dtype=np.int64)
    post = np.asarray(post, dtype=np.float64)
    known = np.isfinite(post).all(axis=1)
    p_given = np.where(known, post[np.arange(len(y)), y], np.nan)
    scores = np.clip(1.0 - p_given, 0.0, 1.0)
    safe = np.where(known[:, None], post, -np.inf)
    suggested = np.where(known, np.argmax(safe, axis=1), -1).astype(np.int64)
    confidence = np.where(known, np.max(safe, axis=1), np.nan)
    return Misfits(classes, y, scores, suggested, confidence, source, dict(info or {}))


def misfits_from_embeddings(vectors: np.ndarray, given: Sequence[str], *, method: str = "ensemble", seed: int = 0) -> Misfits:
    """Scores from the embeddings with the label-error detector's out-of-sample posterior."""
    from ..detectors.label_errors import LabelErrorDetector

    det = LabelErrorDetector(method=method, seed=seed).fit(vectors, list(given))
    return misfits_from_posterior(det.posterior_, det.classes_, given, "embeddings",
                                  {"detector": "label-errors", "params": det.get_params()})


def misfits_from_predictions(path: str | Path, ids: Sequence[str], given: Sequence[str], *, logits: bool = False) -> Misfits:
    """Scores from a predictions file (class probabilities or logits per sample)."""
    from ..sources.predictions import load_predictions

    pred = load_predictions(path, list(ids), logits=logits, class_names=sorted(set(given)))
    if pred.missing:
        log.warning("%s; those samples are shown last in their class", pred.report())
    return misfits_from_posterior(pred.probabilities, pred.class_names, given, "predictions",
                                  {"predictions": pred.source, "missing": len(pred.missing), "extra": len(pred.extra)})
