"""Selection strategies, one module each; :data:`STRATEGIES` maps CLI names to classes."""
from __future__ import annotations

from ..errors import ConfigError
from ._base import BaseSelector
from .coreset import CoresetSelector
from .random import RandomSelector

__all__ = ["BaseSelector", "CoresetSelector", "RandomSelector", "STRATEGIES", "get_strategy"]

STRATEGIES: dict[str, type[BaseSelector]] = {
    RandomSelector.name: RandomSelector,
    CoresetSelector.name: CoresetSelector,
}


def get_strategy(name: str, **params) -> BaseSelector:
    """Instantiate the strategy registered as ``name`` with ``params``."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ConfigError(
            f"The 'strategy' parameter must be one of {{{', '.join(repr(s) for s in sorted(STRATEGIES))}}}. Got {name!r} instead."
        ) from None
    return cls(**params)
