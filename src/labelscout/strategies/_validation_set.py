"""A labeled or unlabeled validation set handed to the strategies that take one
(fisher-match, density-match), alone or as components of ``combine``: one mechanism for
``select --validation``, the config and ``labelscout bench active``.

A strategy takes a validation set when it has a ``validation_vectors`` parameter; its
class attribute ``needs_validation_labels`` says whether the set must be labeled.
"""
from __future__ import annotations

from typing import Any

from ..errors import ConfigError

__all__ = ["accepts_validation", "attach_validation", "validation_labels_needed", "validation_strategy_names"]


def _takes_validation(cls: type) -> bool:
    return "validation_vectors" in cls._param_names()


def validation_strategy_names() -> str:
    """The registered strategies that take a validation set, for messages: "a and b"."""
    from . import STRATEGIES

    names = [n for n, cls in STRATEGIES.items() if _takes_validation(cls)]  # registry order
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


def _validation_components(selector: Any) -> list[str]:
    """Components of a combination whose strategy takes a validation set."""
    from . import STRATEGIES

    return [c for c in (getattr(selector, "strategies", None) or {}) if c in STRATEGIES and _takes_validation(STRATEGIES[c])]


def _receivers(selector: Any) -> list[type]:
    """The strategy classes a validation set given to ``selector`` goes to."""
    from . import STRATEGIES

    if hasattr(selector, "validation_vectors"):
        return [type(selector)]
    return [STRATEGIES[c] for c in _validation_components(selector)]


def accepts_validation(selector: Any) -> bool:
    """Whether a validation set has somewhere to go: the strategy itself or a component of
    a combination."""
    return bool(_receivers(selector))


def validation_labels_needed(selector: Any) -> bool:
    """Whether a strategy that gets the validation set needs its labels (fisher-match does;
    density-match does not)."""
    return any(cls.needs_validation_labels for cls in _receivers(selector))


def attach_validation(selector: Any, **params: Any) -> None:
    """Give a validation set (``validation_vectors``, ``validation_labels``,
    ``validation_probabilities``...) to the strategy, or to every component of a
    combination that takes one, so ``--validation`` and the active-learning bench reach a
    component inside ``combine`` the same way as the strategy alone. Each strategy gets the
    parameters it takes (density-match: not the model's probabilities). Parameters a
    combination sets for its component explicitly (e.g. ``validation_ids``) stay and are
    checked with these."""
    from . import STRATEGIES

    def taken(cls) -> dict[str, Any]:
        accepted = cls._param_names()
        return {k: v for k, v in params.items() if k in accepted}

    if hasattr(selector, "validation_vectors"):
        for key, value in taken(type(selector)).items():
            setattr(selector, key, value)
        return
    names = _validation_components(selector)
    if not names:
        raise ConfigError(f"A validation set is used by {validation_strategy_names()}; strategy "
                          f"{getattr(selector, 'name', selector)!r} does not use it.",
                          hint="Use one of those with --strategy, or a combine with one as a component.")
    component_params = {k: dict(v) for k, v in (selector.component_params or {}).items()}
    for c in names:
        component_params[c] = {**component_params.get(c, {}), **taken(STRATEGIES[c])}
    selector.component_params = component_params
