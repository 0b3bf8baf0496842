"""Selection strategies, one module each; :data:`STRATEGIES` maps CLI names to classes.

Adding a strategy: one module with a :class:`BaseSelector` subclass (``name``,
``_parameter_constraints``, ``requires`` for what it needs from the pool, ``_select(pool,
n, excluded)``, and ``component_scores`` if ``combine`` may use it), one entry in the
tuple below and its test file; tests/strategies/test_registry.py walks them all."""
from __future__ import annotations

from ..errors import ConfigError
from ._base import BaseSelector, ComponentScores
from .adjacency import AdjacencySelector
from .auto import AutoSelector
from .badge import BadgeSelector
from .balance import BalanceSelector
from .combine import CombineSelector
from .coreset import CoresetSelector
from .density_match import DensityMatchSelector
from .divide_and_conquer import DivideAndConquerSelector
from .fisher_match import FisherMatchSelector
from .maxherding import MaxHerdingSelector
from .probcover import ProbCoverSelector
from .random import RandomSelector
from .similarity import SimilaritySelector
from .typiclust import TypiClustSelector
from .typicality import TypicalitySelector
from .uncertainty import UncertaintySelector
from .vaal import VaalSelector

__all__ = ["BaseSelector", "ComponentScores", "AdjacencySelector", "BalanceSelector", "CombineSelector", "CoresetSelector",
           "DensityMatchSelector", "DivideAndConquerSelector", "RandomSelector", "SimilaritySelector", "TypiClustSelector", "TypicalitySelector",
           "UncertaintySelector", "BadgeSelector", "FisherMatchSelector", "VaalSelector", "ProbCoverSelector", "MaxHerdingSelector", "AutoSelector",
           "STRATEGIES", "get_strategy"]

STRATEGIES: dict[str, type[BaseSelector]] = {
    cls.name: cls
    for cls in (RandomSelector, CoresetSelector, AdjacencySelector, DivideAndConquerSelector, TypicalitySelector,
                TypiClustSelector, SimilaritySelector, BalanceSelector, CombineSelector, UncertaintySelector,
                BadgeSelector, FisherMatchSelector, DensityMatchSelector, VaalSelector, ProbCoverSelector,
                MaxHerdingSelector, AutoSelector)
}


def get_strategy(name: str, **params) -> BaseSelector:
    """Instantiate the strategy registered as ``name`` with ``params``."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ConfigError(
            f"The 'strategy' parameter must be one of {{{', '.join(repr(s) for s in sorted(STRATEGIES))}}}. Got {name!r} instead."
        ) from None
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise ConfigError(
            f"Strategy {name!r} has no parameter {unknown[0]!r}; its parameters are {', '.join(sorted(cls._param_names()))}."
        )
    return cls(**params)
