"""The estimator contract every selection strategy follows.

``__init__`` stores keyword parameters only; :meth:`BaseSelector.fit` validates them
(messages name the parameter, the rule and the value), checks the embeddings once,
resolves the budget and hands over to ``_select`` with validated input. Learned results
end in ``_``: ``selected_`` (pool indices in pick order), ``scores_`` and ``reasons_``.
"""
from __future__ import annotations

import inspect
import numbers
from typing import Any, ClassVar, Sequence

import numpy as np

from .._validation import Instance, Interval, check_embeddings, resolve_n, validate_params, validate_pool_params
from ..errors import InputError
from ..results import Selection

__all__ = ["BaseSelector", "as_index_array", "BUDGET_CONSTRAINT"]

#: a count, a fraction in (0, 1] or a string like "10%"
BUDGET_CONSTRAINT = [Interval(numbers.Integral, 1, None), Interval(numbers.Real, 0, 1, closed="right"), Instance(str)]


def as_index_array(exclude: Any, n_samples: int, ids: Sequence[str] | None = None, name: str = "exclude") -> np.ndarray:
    """Normalise ``exclude`` (None, bool mask, int indices or sample ids) to sorted unique int64 indices."""
    if exclude is None:
        return np.empty(0, dtype=np.int64)
    if isinstance(exclude, np.ndarray) and exclude.dtype == bool:
        if exclude.shape != (n_samples,):
            raise InputError(f"{name} as a boolean mask must have shape ({n_samples},); got {exclude.shape}.")
        return np.flatnonzero(exclude).astype(np.int64)
    items = list(exclude)
    if items and isinstance(items[0], str):
        if ids is None:
            raise InputError(f"{name} holds sample ids but no ids were given to match them against.")
        pos = {sid: i for i, sid in enumerate(ids)}
        missing = [s for s in items if s not in pos]
        if missing:
            raise InputError(
                f"{len(missing)} id(s) in {name} are not in the pool, e.g. {missing[:3]}.",
                hint="Ids are paths relative to the dataset root, as in selection.txt.",
            )
        arr = np.array([pos[s] for s in items], dtype=np.int64)
    else:
        arr = np.asarray(items, dtype=np.int64).reshape(-1)
        if arr.size and (arr.min() < 0 or arr.max() >= n_samples):
            raise InputError(f"{name} holds indices outside [0, {n_samples}); got min {arr.min()} max {arr.max()}.")
    return np.unique(arr)


class BaseSelector:
    """Base class of selection strategies. Subclasses implement ``_select``."""

    #: short registry name, e.g. "coreset"
    name: ClassVar[str] = ""
    _parameter_constraints: ClassVar[dict[str, list]] = {}
    #: parameters bounded by the pool size, checked in ``fit``: name -> kind of
    #: :data:`labelscout._validation.POOL_BOUNDS` ("neighbours", "clusters")
    _pool_constraints: ClassVar[dict[str, str]] = {}
    #: whether the strategy needs ``labels`` in ``fit``
    requires_labels: ClassVar[bool] = False
    #: whether ``fit`` with budget k returns exactly the first k picks of ``fit`` with any
    #: larger budget (same other parameters); the benchmark harness then selects once at
    #: its largest budget and takes prefixes
    prefix_consistent: ClassVar[bool] = False

    selected_: np.ndarray
    scores_: np.ndarray
    reasons_: list[str]

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind == p.KEYWORD_ONLY or
                (p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD)]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _validate_params(self) -> None:
        validate_params(type(self).__name__, self.get_params(), self._parameter_constraints)

    def fit(
        self,
        embeddings: Any,
        *,
        exclude: Any = None,
        ids: Sequence[str] | None = None,
        labels: Sequence[Any] | None = None,
    ) -> "BaseSelector":
        """Select from ``embeddings`` of shape (n_samples, n_features).

        ``exclude``: samples already labeled (bool mask, indices or ids); they are never
        selected, and diversity strategies treat them as existing picks.
        ``labels``: one label per sample, for strategies that use them.
        """
        self._validate_params()
        X = check_embeddings(embeddings, ids=ids)
        n_samples = X.shape[0]
        validate_pool_params(type(self).__name__, self.get_params(), self._pool_constraints, n_samples,
                             defaults={p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()})
        excluded = as_index_array(exclude, n_samples, ids)
        if self.requires_labels and labels is None:
            raise InputError(f"{type(self).__name__} needs labels (one per sample); none were given.",
                             hint="Pass labels from class folders or --labels FILE.csv.")
        if labels is not None and len(labels) != n_samples:
            raise InputError(f"labels has {len(labels)} entries for {n_samples} samples; they must match.")
        n = resolve_n(self.n, n_samples, available=n_samples - excluded.size)
        self._ids = ids  # for strategies whose parameters name samples by id (similarity queries)
        selected, scores, reasons = self._select(X, n, excluded, labels=labels)
        selected = np.asarray(selected, dtype=np.int64)
        self.selected_ = selected
        self.scores_ = np.asarray(scores, dtype=np.float64)
        self.reasons_ = list(reasons)
        self.n_selected_ = int(selected.size)
        return self

    def _select(self, X: np.ndarray, n: int, excluded: np.ndarray, *, labels=None) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Input already validated. Return (indices in pick order, scores, reasons)."""
        raise NotImplementedError

    def to_selection(self, ids: Sequence[str]) -> Selection:
        """The fitted result as a :class:`Selection` with sample ids."""
        return Selection(
            ids=[ids[i] for i in self.selected_],
            indices=self.selected_,
            scores=self.scores_,
            reasons=self.reasons_,
            strategy=self.name,
            params={k: v for k, v in self.get_params().items() if _plain(v)},
        )

    def fit_select(self, embeddings: Any, ids: Sequence[str], **kwargs: Any) -> Selection:
        return self.fit(embeddings, ids=ids, **kwargs).to_selection(ids)


def _plain(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool, list, tuple, dict))
