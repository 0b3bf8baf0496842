"""The contract every detector follows (cleanlab Datalab's issue managers, estimator-style).

``__init__`` stores keyword parameters only; :meth:`BaseDetector.fit` validates them
(messages name the parameter, the rule and the value), checks the embeddings once and
hands over to ``_fit`` with validated input. Every detector fills ``issues_``, an
:class:`labelscout.results.Issues` table with one schema (id, issue, score in [0, 1],
flag, evidence), so the report and the CLI render any detector without special cases.
Detector-specific results also end in ``_`` (``groups_``, ``representatives_``...).
"""
from __future__ import annotations

import inspect
from typing import Any, ClassVar, Sequence

import numpy as np

from .._validation import check_embeddings, validate_params
from ..errors import InputError
from ..results import Issues

__all__ = ["BaseDetector", "unit_rows"]


def unit_rows(X: np.ndarray, block: int = 65536) -> np.ndarray:
    """Rows scaled to unit L2 norm as a new float32 array (zero rows stay zero), in blocks
    so a memory-mapped float16 matrix is never converted whole to float64."""
    out = np.empty(X.shape, dtype=np.float32)
    for start in range(0, X.shape[0], block):
        chunk = np.asarray(X[start:start + block], dtype=np.float32)
        norms = np.linalg.norm(chunk, axis=1, keepdims=True)
        out[start:start + block] = chunk / np.where(norms > 0, norms, 1.0)
    return out


class BaseDetector:
    """Base class of detectors. Subclasses implement ``_fit``."""

    #: registry name (kebab-case, as on the command line): "near-duplicates"
    name: ClassVar[str] = ""
    #: issue type written in the ``issue`` column of issues.csv: "near_duplicate"
    issue: ClassVar[str] = ""
    #: one sentence for help texts and the report
    description: ClassVar[str] = ""
    _parameter_constraints: ClassVar[dict[str, list]] = {}
    #: whether ``fit`` needs ``labels`` (one per sample)
    requires_labels: ClassVar[bool] = False
    #: whether ``fit`` needs ``hashes`` (content hash per sample)
    requires_hashes: ClassVar[bool] = False
    #: whether ``_fit`` takes its kNN graph from ``_knn_graph`` (the run's shared cache)
    shares_knn_graph: ClassVar[bool] = False
    #: whether ``fit`` sets ``groups_`` (list of row arrays, representative first)
    finds_groups: ClassVar[bool] = False

    issues_: Issues

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    def _validate_params(self) -> None:
        validate_params(type(self).__name__, self.get_params(), self._parameter_constraints)

    def fit(self, embeddings: Any, *, ids: Sequence[str] | None = None, hashes: Sequence[str | None] | None = None,
            labels: Sequence[Any] | None = None, knn_cache: Any = None) -> "BaseDetector":
        """Find issues among ``embeddings`` of shape (n_samples, n_features).

        ``ids``: one sample id per row (default: the row numbers as strings).
        ``hashes``: content hash per row (None for a sample without one, e.g. a video frame).
        ``labels``: one label per row, for detectors that use them.
        ``knn_cache``: a :class:`labelscout.space.knn.KnnCache` shared with the other
        detectors of the run, so the pool's kNN graph is built once.
        """
        self._validate_params()
        X = check_embeddings(embeddings, ids=ids)
        n = X.shape[0]
        ids = list(ids) if ids is not None else [str(i) for i in range(n)]
        if self.requires_labels and labels is None:
            raise InputError(f"{type(self).__name__} needs labels (one per sample); none were given.",
                             hint="Pass labels from class folders or --labels FILE.csv.")
        if labels is not None and len(labels) != n:
            raise InputError(f"labels has {len(labels)} entries for {n} samples; they must match.")
        if self.requires_hashes and hashes is None:
            raise InputError(f"{type(self).__name__} needs content hashes (one per sample); none were given.",
                             hint="Embed files with labelscout (the embeddings sidecar keeps their content hashes).")
        if hashes is not None and len(hashes) != n:
            raise InputError(f"hashes has {len(hashes)} entries for {n} samples (embeddings shape {X.shape}); they must match.")
        self._knn_cache = knn_cache
        try:
            self._fit(X, ids, hashes=None if hashes is None else list(hashes), labels=labels)
        finally:
            del self._knn_cache  # run state, not a parameter or a result
        return self

    def _knn_graph(self, Z: np.ndarray, k: int, method: str, key: str):
        """The kNN graph of ``Z`` (vectors prepared as ``key`` says), from the run's shared
        cache when there is one."""
        from ..space.knn import knn_graph

        cache = getattr(self, "_knn_cache", None)
        return knn_graph(Z, k, method=method) if cache is None else cache.graph(key, Z, k, method=method)

    def _fit(self, X: np.ndarray, ids: list[str], *, hashes: list[str | None] | None, labels: Sequence[Any] | None) -> None:
        """Input already validated: set ``issues_`` and the detector's own results."""
        raise NotImplementedError

    def fit_issues(self, embeddings: Any, **kwargs: Any) -> Issues:
        return self.fit(embeddings, **kwargs).issues_
