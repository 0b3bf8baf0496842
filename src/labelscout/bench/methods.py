"""Method specs of the probe benchmark: which strategy, in which space, on which embedding.

A method is written ``STRATEGY[@SPACE][/EMBEDDING][:KEY=VALUE...]``, e.g.

* ``random`` - the baseline (no embedding needed);
* ``coreset@raw`` - farthest point with L2 on the raw features (the thesis found it worse
  than random);
* ``coreset@norm`` - cosine geometry (L2 on unit vectors);
* ``coreset@umap/ssl:space_dim=32`` - UMAP re-embedding of the ``ssl`` embedding to 32
  dimensions, then farthest point (the thesis's winning recipe);
* ``typiclust:k=20`` - any registered strategy by name, with its parameters.

Keys starting with ``space_`` configure the space (``space_dim``, ``space_neighbors``,
``space_min_dist``); ``min_budget`` runs the method only at budgets of at least that many
(e.g. ``adjacency:min_budget=5000``, for a strategy meant for large budgets), ``max_budget``
only at budgets of at most that many (``typiclust:max_budget=1000``); all other
keys go to the strategy's constructor. Values are parsed as
int, float, bool (true/false) or text. Strategies come from the registry
(:func:`labelscout.strategies.get_strategy`), so every strategy that is registered later
is usable here by name without changes.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from .._validation import parse_value
from ..errors import ConfigError
from ..space.transform import SPACES, transform_space  # one implementation of the spaces, shared with select

__all__ = ["MethodSpec", "parse_method", "parse_methods", "parse_value", "SPACES", "transform_space", "split_top_level"]

log = logging.getLogger(__name__)

_SPACE_KEYS = {"space_dim": "dim", "space_neighbors": "n_neighbors", "space_min_dist": "min_dist"}
_SPEC_RE = re.compile(r"^(?P<strategy>[A-Za-z_][\w-]*)(?:@(?P<space>\w+))?(?:/(?P<embedding>[\w.-]+))?(?P<params>(?::[^:]+)*)$")


@dataclass(frozen=True)
class MethodSpec:
    """One parsed method: ``strategy`` in ``space`` of ``embedding`` with parameters."""

    strategy: str
    space: str = "norm"
    embedding: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    space_params: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    min_budget: int = 1
    max_budget: int | None = None

    @property
    def needs_embedding(self) -> bool:
        return self.strategy != "random"

    @property
    def label(self) -> str:
        """The canonical name shown in tables (the spec as written, normalised)."""
        return self.text

    @property
    def slug(self) -> str:
        """A file-name-safe unique name for the method's folder."""
        safe = re.sub(r"[^\w.-]+", "_", self.text).strip("_")
        return f"{safe[:60]}-{hashlib.sha256(self.text.encode()).hexdigest()[:6]}"

    def space_key(self, embedding: str) -> str:
        """Identifies the fitted space (same key, same vectors) for caching."""
        blob = json.dumps([embedding, self.space, sorted(self.space_params.items())], default=str)
        return f"{embedding}-{self.space}-{hashlib.sha256(blob.encode()).hexdigest()[:8]}"

    def build_strategy(self, n: int, seed: int):
        """The registered strategy with this spec's parameters for budget ``n``.

        After :func:`transform_space`, L2 *is* the space's geometry, so a strategy that
        has a ``metric`` parameter gets ``metric="l2"`` unless the spec sets it; one with a
        ``seed`` parameter gets the repeat's seed unless the spec fixes it."""
        from ..strategies import STRATEGIES, get_strategy

        params = dict(self.params)
        cls = STRATEGIES.get(self.strategy)
        accepted = set(inspect.signature(cls.__init__).parameters) if cls is not None else set()
        if "metric" in accepted:
            params.setdefault("metric", "l2")
        if "seed" in accepted:
            params.setdefault("seed", seed)
        return get_strategy(self.strategy, n=n, **params)


def parse_method(text: str) -> MethodSpec:
    """Parse one method spec (see the module docs); errors name the spec and the rule."""
    from ..strategies import STRATEGIES

    text = text.strip()
    m = _SPEC_RE.match(text)
    if not m:
        raise ConfigError(f"Cannot parse method {text!r}.",
                          hint="Write STRATEGY[@SPACE][/EMBEDDING][:KEY=VALUE...], e.g. coreset@umap/ssl:space_dim=32.")
    strategy = m.group("strategy")
    if strategy not in STRATEGIES:
        raise ConfigError(f"Method {text!r}: the strategy must be one of {{{', '.join(repr(s) for s in sorted(STRATEGIES))}}}. "
                          f"Got {strategy!r} instead.")
    space = m.group("space") or "norm"
    if space not in SPACES:
        raise ConfigError(f"Method {text!r}: the space must be one of {{{', '.join(repr(s) for s in SPACES)}}}. Got {space!r} instead.")
    params: dict[str, Any] = {}
    space_params: dict[str, Any] = {}
    min_budget, max_budget = 1, None
    for item in filter(None, (m.group("params") or "").split(":")):
        if "=" not in item:
            raise ConfigError(f"Method {text!r}: parameter {item!r} must be KEY=VALUE.")
        key, value = item.split("=", 1)
        key = key.strip()
        if key in ("min_budget", "max_budget"):
            mb = parse_value(value.strip())
            if isinstance(mb, bool) or not isinstance(mb, int) or mb < 1:
                raise ConfigError(f"Method {text!r}: {key} must be an int >= 1. Got {value!r} instead.")
            if key == "min_budget":
                min_budget = mb
            else:
                max_budget = mb
        elif key.startswith("space_"):
            if key not in _SPACE_KEYS:
                raise ConfigError(f"Method {text!r}: unknown space parameter {key!r}; use one of {sorted(_SPACE_KEYS)}.")
            space_params[_SPACE_KEYS[key]] = parse_value(value.strip())
        else:
            params[key] = parse_value(value.strip())
    if strategy == "random" and (m.group("space") or m.group("embedding")):
        raise ConfigError(f"Method {text!r}: random selection uses no embedding or space; write just 'random'.")
    spec = MethodSpec(strategy, space, m.group("embedding"), params, space_params, text, min_budget, max_budget)
    # fail now on a bad strategy parameter, not after an hour of probes
    spec.build_strategy(1, 0)._validate_params()
    return spec


def split_top_level(text: str) -> list[str]:
    """Split a comma-separated list of specs."""
    return [p.strip() for p in text.split(",") if p.strip()]


def parse_methods(items: list[str] | str) -> list[MethodSpec]:
    texts = split_top_level(items) if isinstance(items, str) else [t for i in items for t in split_top_level(i)]
    specs = [parse_method(t) for t in texts]
    seen: set[str] = set()
    for s in specs:
        if s.text in seen:
            raise ConfigError(f"Method {s.text!r} is listed twice.")
        seen.add(s.text)
    return specs
