"""Embeddings on disk: ``embeddings.npy`` (N, D) + ``embeddings.json`` sidecar.

The sidecar holds the sample ids (row order), the model id and its fingerprint (weights
hash, input size, preprocessing), the content hash of every sample and optional
per-sample metadata (video timestamps...), so a selection can always be traced to the
exact vectors it was computed on. Large arrays load memory-mapped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..runs.atomic import atomic_save_npy, atomic_write_json

__all__ = ["EmbeddingSet", "EMBEDDINGS_FILE", "SIDECAR_FILE"]

EMBEDDINGS_FILE = "embeddings.npy"
SIDECAR_FILE = "embeddings.json"
SIDECAR_FORMAT = "labelscout-embeddings/1"


@dataclass
class EmbeddingSet:
    """Vectors with the ids and provenance that make them traceable."""

    vectors: np.ndarray  # (n_samples, n_features) float32 / float16
    ids: list[str]
    model_id: str = "precomputed"
    fingerprint: dict[str, Any] = field(default_factory=dict)
    content_hashes: list[str] | None = None
    sample_meta: dict[str, list[Any]] = field(default_factory=dict)  # column -> values per sample

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2:
            raise InputError(f"embeddings must be 2-D (n_samples, n_features); got shape {self.vectors.shape}.")
        if len(self.ids) != self.vectors.shape[0]:
            raise InputError(f"embeddings have {self.vectors.shape[0]} rows (shape {self.vectors.shape}) but {len(self.ids)} ids.")
        if self.content_hashes is not None and len(self.content_hashes) != len(self.ids):
            raise InputError("content_hashes must have one entry per id.")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def subset(self, rows: np.ndarray) -> "EmbeddingSet":
        rows = np.asarray(rows, dtype=np.int64)
        return EmbeddingSet(
            np.asarray(self.vectors[rows]),
            [self.ids[i] for i in rows],
            self.model_id,
            dict(self.fingerprint),
            [self.content_hashes[i] for i in rows] if self.content_hashes is not None else None,
            {k: [v[i] for i in rows] for k, v in self.sample_meta.items()},
        )

    def save(self, folder: str | Path) -> Path:
        """Write both files atomically (vectors first, so a sidecar always has its array)."""
        folder = Path(folder)
        atomic_save_npy(folder / EMBEDDINGS_FILE, np.ascontiguousarray(self.vectors))
        atomic_write_json(
            folder / SIDECAR_FILE,
            {
                "format": SIDECAR_FORMAT,
                "model_id": self.model_id,
                "fingerprint": self.fingerprint,
                "shape": list(self.vectors.shape),
                "dtype": str(self.vectors.dtype),
                "ids": self.ids,
                "content_hashes": self.content_hashes,
                "sample_meta": self.sample_meta,
            },
        )
        return folder

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True) -> "EmbeddingSet":
        folder = Path(folder)
        side, arr = folder / SIDECAR_FILE, folder / EMBEDDINGS_FILE
        if not side.is_file() or not arr.is_file():
            raise InputError(f"{folder} does not hold saved embeddings ({EMBEDDINGS_FILE} + {SIDECAR_FILE}).",
                             hint="Create them with `labelscout embed PATH --out DIR`.")
        meta = json.loads(side.read_text())
        if meta.get("format") != SIDECAR_FORMAT:
            raise InputError(f"{side} has unknown format {meta.get('format')!r}.")
        vectors = np.load(arr, mmap_mode="r" if mmap else None, allow_pickle=False)
        if list(vectors.shape) != meta["shape"]:
            raise InputError(f"{arr} has shape {vectors.shape} but its sidecar says {tuple(meta['shape'])}; the files do not belong together.")
        return cls(vectors, list(meta["ids"]), meta["model_id"], meta.get("fingerprint", {}),
                   meta.get("content_hashes"), meta.get("sample_meta", {}) or {})
