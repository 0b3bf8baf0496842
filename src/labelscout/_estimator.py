"""The estimator contract shared by strategies and detectors (scikit-learn style).

``__init__`` stores keyword parameters only. :class:`BaseEstimator` gives every strategy
and detector the same parameter plumbing (names from the constructor signature,
``get_params``, ``repr``, declarative validation) and the same way of declaring what it
needs from the :class:`~labelscout.pool.Pool` beyond vectors and ids::

    class UncertaintySelector(BaseSelector):
        requires = frozenset({"predictions"})

``requires`` holds names from :data:`labelscout.pool.REQUIREMENTS`; ``fit`` checks them
and says which is missing and how to provide it, and the registries and the CLI list them.
"""
from __future__ import annotations

import inspect
from typing import Any, ClassVar

from ._validation import validate_params
from .pool import REQUIREMENTS, Pool, check_requirements

__all__ = ["BaseEstimator"]


class BaseEstimator:
    """Parameters, validation and declared requirements of a strategy or detector."""

    #: registry name, e.g. "coreset", "near-duplicates"
    name: ClassVar[str] = ""
    #: parameter name -> accepted rules (see :func:`labelscout._validation.validate_params`)
    _parameter_constraints: ClassVar[dict[str, list]] = {}
    #: optional Pool fields ``fit`` needs (keys of :data:`labelscout.pool.REQUIREMENTS`)
    requires: ClassVar[frozenset[str]] = frozenset()
    #: derived from ``requires`` (kept for callers that ask one flag)
    requires_labels: ClassVar[bool] = False
    requires_hashes: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        req = set(cls.requires)
        # a subclass may still say ``requires_labels = True``; both spellings mean one thing
        if cls.__dict__.get("requires_labels"):
            req.add("labels")
        if cls.__dict__.get("requires_hashes"):
            req.add("content_hashes")
        unknown = req - set(REQUIREMENTS)
        if unknown:
            raise TypeError(f"{cls.__name__}.requires names unknown pool fields {sorted(unknown)}; known: {sorted(REQUIREMENTS)}")
        cls.requires = frozenset(req)
        cls.requires_labels = "labels" in req
        cls.requires_hashes = "content_hashes" in req

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

    def required(self) -> frozenset[str]:
        """The pool fields this instance needs (a combination: its components' needs)."""
        return type(self).requires

    def _check_requirements(self, pool: Pool) -> None:
        check_requirements(type(self).__name__, self.required(), pool)
