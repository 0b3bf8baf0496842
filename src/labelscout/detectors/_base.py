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
from dataclasses import replace
from typing import Any, ClassVar, Sequence

import numpy as np

from .._estimator import BaseEstimator
from .._validation import check_embeddings
from ..errors import InputError
from ..pool import Pool
from ..results import Issues

__all__ = ["BaseDetector"]


class BaseDetector(BaseEstimator):
    """Base class of detectors. Subclasses implement ``_fit(pool)``.

    What a detector needs beyond vectors and ids is declared in ``requires`` (shared with
    strategies, see :class:`labelscout._estimator.BaseEstimator`): ``{"labels"}``,
    ``{"content_hashes"}``, ``{"predictions"}``...
    """

    #: issue type written in the ``issue`` column of issues.csv: "near_duplicate"
    issue: ClassVar[str] = ""
    #: one sentence for help texts and the report
    description: ClassVar[str] = ""
    #: whether ``_fit`` takes its kNN graph from ``_knn_graph`` (the run's shared cache)
    shares_knn_graph: ClassVar[bool] = False
    #: whether ``fit`` sets ``groups_`` (list of row arrays, representative first)
    finds_groups: ClassVar[bool] = False

    issues_: Issues

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fit = cls.__dict__.get("_fit")
        if fit is not None and list(inspect.signature(fit).parameters)[1:] != ["pool"]:
            raise TypeError(f"{cls.__name__}._fit must take (self, pool): the pool carries vectors, ids, hashes, labels "
                            "and predictions (see labelscout.pool.Pool).")

    def fit(self, embeddings: Any, *, ids: Sequence[str] | None = None, hashes: Sequence[str | None] | None = None,
            labels: Sequence[Any] | None = None, knn_cache: Any = None) -> "BaseDetector":
        """Find issues in a :class:`~labelscout.pool.Pool`, or among ``embeddings`` of shape
        (n_samples, n_features) with these beside them:

        ``ids``: one sample id per row (default: the row numbers as strings).
        ``hashes``: content hash per row (None for a sample without one, e.g. a video frame).
        ``labels``: one label per row, for detectors that use them.
        ``knn_cache``: a :class:`labelscout.space.knn.KnnCache` shared with the other
        detectors of the run, so the pool's kNN graph is built once.
        """
        self._validate_params()
        if isinstance(embeddings, Pool):
            if ids is not None and list(ids) != embeddings.ids:
                raise InputError("ids were given with a Pool that has other ids; give the ids in the Pool only.")
            pool = embeddings
            if labels is not None or hashes is not None:
                pool = replace(pool, labels=pool.labels if labels is None else list(labels),
                               content_hashes=pool.content_hashes if hashes is None else list(hashes))
        else:
            pool = Pool(embeddings, ids, labels, hashes)
        X = check_embeddings(pool.vectors, ids=pool.ids)
        if X is not pool.vectors:
            pool = pool.with_vectors(X)
        self._check_requirements(pool)
        self._knn_cache = knn_cache
        try:
            self._fit(pool)
        finally:
            del self._knn_cache  # run state, not a parameter or a result
        return self

    def _knn_graph(self, Z: np.ndarray, k: int, method: str, key: str):
        """The kNN graph of ``Z`` (vectors prepared as ``key`` says), from the run's shared
        cache when there is one."""
        from ..space.knn import knn_graph

        cache = getattr(self, "_knn_cache", None)
        return knn_graph(Z, k, method=method) if cache is None else cache.graph(key, Z, k, method=method)

    def _fit(self, pool: Pool) -> None:
        """Input already validated (vectors checked, requirements present): set
        ``issues_`` and the detector's own results."""
        raise NotImplementedError

    def fit_issues(self, embeddings: Any, **kwargs: Any) -> Issues:
        return self.fit(embeddings, **kwargs).issues_
