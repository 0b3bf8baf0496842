"""The estimator contract every selection strategy follows.

``__init__`` stores keyword parameters only; :meth:`BaseSelector.fit` validates them
(messages name the parameter, the rule and the value), checks the embeddings once and
the pool fields the strategy declares in ``requires``, resolves the budget and hands
over to ``_select(pool, n, excluded)`` with validated input. Learned results
end in ``_``: ``selected_`` (pool indices in pick order), ``scores_`` and ``reasons_``.
"""
from __future__ import annotations

import inspect
import numbers
from dataclasses import replace
from typing import Any, ClassVar, Sequence

import numpy as np

from .._estimator import BaseEstimator
from .._validation import Instance, Interval, check_embeddings, resolve_n, validate_pool_params
from ..errors import InputError
from ..pool import Pool
from ..results import Selection

__all__ = ["BaseSelector", "ComponentScores", "as_index_array", "as_pool", "BUDGET_CONSTRAINT"]

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


class ComponentScores:
    """What a strategy exposes so that :class:`~labelscout.strategies.CombineSelector` can
    weigh it against others: a score per pool row, higher is better.

    values : ndarray of shape (n_samples,), the current scores.
    blocked : rows that must never be picked (e.g. a similarity query), beyond ``exclude``.
    dynamic : whether ``values`` change after every pick (diversity); a combination then
        rescales them again at every step. Static scores are rescaled once.
    """

    dynamic = False

    def __init__(self, values: np.ndarray, blocked: np.ndarray | None = None):
        self.values = np.asarray(values, dtype=np.float64)
        self.blocked = np.empty(0, np.int64) if blocked is None else np.asarray(blocked, np.int64)

    def picked(self, row: int) -> None:
        """Row ``row`` was just picked (static scores: nothing changes)."""


def as_pool(embeddings: Any, *, ids: Sequence[str] | None = None, labels: Sequence[Any] | None = None) -> Pool:
    """``embeddings`` as a :class:`Pool`: a Pool as it is (``labels`` may fill its labels),
    or an (n_samples, n_features) matrix with ``ids`` and ``labels`` beside it."""
    if isinstance(embeddings, Pool):
        if ids is not None and list(ids) != embeddings.ids:
            raise InputError("ids were given with a Pool that has other ids; give the ids in the Pool only.")
        return embeddings if labels is None else replace(embeddings, labels=list(labels))
    return Pool(embeddings, ids, labels)


class BaseSelector(BaseEstimator):
    """Base class of selection strategies. Subclasses implement ``_select``; a strategy
    that can be combined with others also implements ``component_scores``."""

    #: parameters bounded by the pool size, checked in ``fit``: name -> kind of
    #: :data:`labelscout._validation.POOL_BOUNDS` ("neighbours", "clusters")
    _pool_constraints: ClassVar[dict[str, str]] = {}
    #: whether ``fit`` with budget k returns exactly the first k picks of ``fit`` with any
    #: larger budget (same other parameters); the benchmark harness then selects once at
    #: its largest budget and takes prefixes
    prefix_consistent: ClassVar[bool] = False
    #: what ``component_scores`` measures, for help texts (set with ``component_scores``)
    score_description: ClassVar[str] = ""

    selected_: np.ndarray
    scores_: np.ndarray
    reasons_: list[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        select = cls.__dict__.get("_select")
        if select is not None and list(inspect.signature(select).parameters)[1:2] != ["pool"]:
            raise TypeError(f"{cls.__name__}._select must take (self, pool, n, excluded): the pool carries vectors, ids, "
                            "labels and predictions (see labelscout.pool.Pool).")

    @classmethod
    def exposes_scores(cls) -> bool:
        """Whether the strategy can be a component of a combination."""
        return cls.component_scores is not BaseSelector.component_scores

    def fit(
        self,
        embeddings: Any,
        *,
        exclude: Any = None,
        ids: Sequence[str] | None = None,
        labels: Sequence[Any] | None = None,
    ) -> "BaseSelector":
        """Select from a :class:`~labelscout.pool.Pool`, or from ``embeddings`` of shape
        (n_samples, n_features) with ``ids`` and ``labels`` beside them.

        ``exclude``: samples already labeled (bool mask, indices or ids); they are never
        selected, and diversity strategies treat them as existing picks.
        ``labels``: one label per sample, for strategies that use them.
        """
        self._validate_params()
        pool = self._checked_pool(embeddings, ids, labels)
        n_samples = len(pool)
        excluded = as_index_array(exclude, n_samples, pool.ids)
        n = resolve_n(self.n, n_samples, available=n_samples - excluded.size)
        selected, scores, reasons = self._select(pool, n, excluded)
        selected = np.asarray(selected, dtype=np.int64)
        self.selected_ = selected
        self.scores_ = np.asarray(scores, dtype=np.float64)
        self.reasons_ = list(reasons)
        self.n_selected_ = int(selected.size)
        return self

    def _checked_pool(self, embeddings: Any, ids: Sequence[str] | None, labels: Sequence[Any] | None) -> Pool:
        pool = as_pool(embeddings, ids=ids, labels=labels)
        X = check_embeddings(pool.vectors, ids=pool.ids)
        if X is not pool.vectors:
            pool = pool.with_vectors(X)
        self._check_requirements(pool)
        validate_pool_params(type(self).__name__, self.get_params(), self._pool_constraints, len(pool),
                             defaults={p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()})
        return pool

    def _select(self, pool: Pool, n: int, excluded: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Input already validated (``pool.vectors`` checked, requirements present, ``n``
        resolved, ``excluded`` sorted unique indices). Return (indices in pick order,
        scores, reasons)."""
        raise NotImplementedError

    def component_scores(self, pool: Pool, excluded: np.ndarray) -> ComponentScores:
        """Scores of every row for a combination (input already validated)."""
        raise NotImplementedError(f"{type(self).__name__} exposes no scores to combine")

    def scores(self, embeddings: Any, *, exclude: Any = None, ids: Sequence[str] | None = None,
               labels: Sequence[Any] | None = None) -> ComponentScores:
        """Validate the input and return :meth:`component_scores` (for combinations)."""
        self._validate_params()
        pool = self._checked_pool(embeddings, ids, labels)
        return self.component_scores(pool, as_index_array(exclude, len(pool), pool.ids))

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

    def fit_select(self, embeddings: Any, ids: Sequence[str] | None = None, **kwargs: Any) -> Selection:
        pool = as_pool(embeddings, ids=ids, labels=kwargs.pop("labels", None))
        return self.fit(pool, **kwargs).to_selection(pool.ids)


def _plain(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool, list, tuple, dict))
