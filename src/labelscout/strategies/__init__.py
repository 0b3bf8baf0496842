"""Selection strategies, one module each; :data:`STRATEGIES` maps CLI names to classes."""
from __future__ import annotations

from ..errors import ConfigError
from ._base import BaseSelector
from .adjacency import AdjacencySelector
from .balance import BalanceSelector
from .combine import CombineSelector
from .coreset import CoresetSelector
from .divide_and_conquer import DivideAndConquerSelector
from .random import RandomSelector
from .similarity import SimilaritySelector
from .typiclust import TypiClustSelector
from .typicality import TypicalitySelector

__all__ = ["BaseSelector", "AdjacencySelector", "BalanceSelector", "CombineSelector", "CoresetSelector",
           "DivideAndConquerSelector", "RandomSelector", "SimilaritySelector", "TypiClustSelector", "TypicalitySelector",
           "STRATEGIES", "get_strategy"]

STRATEGIES: dict[str, type[BaseSelector]] = {
    cls.name: cls
    for cls in (RandomSelector, CoresetSelector, AdjacencySelector, DivideAndConquerSelector, TypicalitySelector,
                TypiClustSelector, SimilaritySelector, BalanceSelector, CombineSelector)
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
