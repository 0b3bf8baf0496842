"""Input and parameter validation shared by every strategy, detector and API function.

Parameters are declared once per class (``_parameter_constraints``) and checked by
:func:`validate_params`; messages name the parameter, state the rule and echo the value:

    The 'metric' parameter of CoresetSelector must be one of {'l2', 'cosine'}. Got 'cosin' instead.

:func:`check_embeddings` is the one place that checks an embedding matrix (shape, dtype,
finiteness, id count), and its messages carry the shapes.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import ConfigError, InputError

__all__ = [
    "Interval",
    "Options",
    "Instance",
    "Callable_",
    "validate_params",
    "check_embeddings",
    "resolve_n",
    "nonfinite_rows",
    "zero_rows",
    "validate_pool_params",
    "parse_value",
]


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` (``numbers.Integral`` or ``numbers.Real``) within bounds."""

    kind: type
    left: float | None = None
    right: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if isinstance(value, float) and not np.isfinite(value):
            return False
        lo_ok = self.left is None or (value >= self.left if self.closed in ("both", "left") else value > self.left)
        hi_ok = self.right is None or (value <= self.right if self.closed in ("both", "right") else value < self.right)
        return lo_ok and hi_ok

    def describe(self) -> str:
        kind = "an int" if self.kind is numbers.Integral else "a float"
        lb = "[" if self.closed in ("both", "left") else "("
        rb = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.left is None else repr(self.left)
        hi = "inf" if self.right is None else repr(self.right)
        return f"{kind} in the range {lb}{lo}, {hi}{rb}"


@dataclass(frozen=True)
class Options:
    values: frozenset

    def __init__(self, values: Iterable):
        object.__setattr__(self, "values", frozenset(values))

    def accepts(self, value: Any) -> bool:
        try:
            return value in self.values
        except TypeError:
            return False

    def describe(self) -> str:
        return "one of {" + ", ".join(repr(v) for v in sorted(self.values, key=repr)) + "}"


@dataclass(frozen=True)
class Instance:
    types: tuple

    def __init__(self, *types: type):
        object.__setattr__(self, "types", types)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types) and not (isinstance(value, bool) and bool not in self.types)

    def describe(self) -> str:
        return "an instance of " + " or ".join(f"'{t.__name__}'" for t in self.types)


class Callable_:
    def accepts(self, value: Any) -> bool:
        return callable(value)

    def describe(self) -> str:
        return "a callable"


def validate_params(owner: str, params: dict[str, Any], constraints: dict[str, Sequence[Any]]) -> None:
    """Check every entry of ``params`` against its list of ``constraints`` (any may match).

    ``None`` in a constraint list means the value ``None`` is allowed.
    """
    for name, rules in constraints.items():
        if name not in params:
            continue
        value = params[name]
        if value is None and None in rules:
            continue
        real_rules = [r for r in rules if r is not None]
        if any(r.accepts(value) for r in real_rules):
            continue
        described = [r.describe() for r in real_rules] + (["None"] if None in rules else [])
        rule = described[0] if len(described) == 1 else ", ".join(described[:-1]) + " or " + described[-1]
        raise ConfigError(f"The {name!r} parameter of {owner} must be {rule}. Got {value!r} instead.")


#: pool-bounded parameters: kind -> (largest value for a pool of n samples, the rule in words)
POOL_BOUNDS = {
    "neighbours": (lambda n: n - 1, "less than the number of samples ({n}): a sample has at most {m} neighbours"),
    "clusters": (lambda n: n, "at most the number of samples ({n})"),
}


def validate_pool_params(owner: str, params: dict[str, Any], bounds: dict[str, str], n_samples: int,
                         defaults: dict[str, Any] | None = None) -> None:
    """Check parameters whose range depends on the pool size (known only at ``fit``).

    ``bounds`` maps a parameter name to a kind of :data:`POOL_BOUNDS`: ``k`` nearest
    neighbours must be fewer than the samples, clusters at most as many. A value out of
    range is an error rather than silently clamped: the run would not be the one asked for.
    A value equal to its entry in ``defaults`` was not asked for and is left to the
    estimator, which lowers it to what a small pool allows.
    """
    for name, kind in bounds.items():
        value = params.get(name)
        if value is None or isinstance(value, bool) or not isinstance(value, numbers.Integral):
            continue
        if defaults is not None and name in defaults and value == defaults[name]:
            continue
        largest, rule = POOL_BOUNDS[kind]
        m = largest(n_samples)
        if value > m:
            raise ConfigError(f"The {name!r} parameter of {owner} must be {rule.format(n=n_samples, m=m)}. Got {value!r} instead.",
                              hint=f"Give {name} at most {m} for this pool of {n_samples} samples.")


def check_embeddings(
    embeddings: Any,
    *,
    ids: Sequence[str] | None = None,
    name: str = "embeddings",
    min_samples: int = 1,
    allow_nan: bool = False,
    dtype: tuple = (np.float32, np.float64, np.float16),
) -> np.ndarray:
    """Validate an embedding matrix of shape (n_samples, n_features); return it as an array.

    Memory-mapped arrays are returned as they are (no copy). float16 is accepted for
    storage; callers that compute convert blocks themselves.
    """
    if not isinstance(embeddings, np.ndarray):
        try:
            embeddings = np.asarray(embeddings)
        except Exception as exc:  # pragma: no cover - numpy's own message is clear
            raise InputError(f"{name} cannot be converted to an array: {exc}") from exc
    if embeddings.ndim != 2:
        raise InputError(
            f"{name} must be a 2-D array of shape (n_samples, n_features); got shape {embeddings.shape}.",
            hint="Reshape a single vector with x.reshape(1, -1).",
        )
    if embeddings.dtype not in dtype:
        if np.issubdtype(embeddings.dtype, np.number):
            embeddings = embeddings.astype(np.float32)
        else:
            raise InputError(f"{name} must hold numbers; got dtype {embeddings.dtype}.")
    n, d = embeddings.shape
    if d == 0:
        raise InputError(f"{name} has shape {embeddings.shape}: zero features per sample.")
    if n < min_samples:
        raise InputError(f"{name} has shape {embeddings.shape}: at least {min_samples} sample(s) are needed.")
    if ids is not None and len(ids) != n:
        raise InputError(f"{name} has {n} rows (shape {embeddings.shape}) but {len(ids)} ids were given; they must match.")
    if not allow_nan:
        bad = nonfinite_rows(embeddings)
        if bad.size:
            where = ", ".join((repr(ids[i]) if ids is not None else str(i)) for i in bad[:5])
            raise InputError(
                f"{name} (shape {embeddings.shape}) has {bad.size} row(s) with NaN or infinite values, e.g. {where}.",
                hint="Drop or re-embed those samples (labelscout embed skips them automatically).",
            )
    return embeddings


def nonfinite_rows(embeddings: np.ndarray, block: int = 65536) -> np.ndarray:
    """Indices of rows holding NaN or inf, checked in blocks (memory-mapped friendly)."""
    bad = []
    for start in range(0, embeddings.shape[0], block):
        chunk = np.asarray(embeddings[start : start + block])
        rows = np.flatnonzero(~np.isfinite(chunk).all(axis=1))
        if rows.size:
            bad.append(rows + start)
    return np.concatenate(bad) if bad else np.empty(0, dtype=np.int64)


def zero_rows(embeddings: np.ndarray, block: int = 65536) -> np.ndarray:
    """Indices of all-zero rows (no direction: cosine distances to them are undefined), in blocks."""
    bad = []
    for start in range(0, embeddings.shape[0], block):
        chunk = np.asarray(embeddings[start : start + block])
        rows = np.flatnonzero(~(chunk != 0).any(axis=1))
        if rows.size:
            bad.append(rows + start)
    return np.concatenate(bad) if bad else np.empty(0, dtype=np.int64)


def resolve_n(n: int | float | str, pool: int, *, name: str = "n", available: int | None = None) -> int:
    """Turn a budget (count, fraction in (0, 1], or 'P%') into a sample count.

    ``available`` is how many samples can still be picked (pool minus excluded); a budget
    larger than that is an error naming both numbers.
    """
    available = pool if available is None else available
    raw = n
    if isinstance(n, str):
        s = n.strip()
        try:
            if s.endswith("%"):
                pct = float(s[:-1])
            elif "." in s or "e" in s.lower():
                n = float(s)
            else:
                n = int(s)
        except ValueError:
            raise ConfigError(
                f"The {name!r} parameter must be a count (1000), a fraction (0.1) or a percentage (10%). Got {raw!r} instead."
            ) from None
        if s.endswith("%"):
            if not (0 < pct <= 100) or not np.isfinite(pct):
                raise ConfigError(f"The {name!r} parameter as a percentage must be in the range (0%, 100%]. Got {raw!r} instead.",
                                  hint=f"Use -n 100% for the whole pool, or a count such as -n {pool}.")
            n = pct / 100.0
    if isinstance(n, bool) or not isinstance(n, numbers.Real):
        raise ConfigError(f"The {name!r} parameter must be a count, a fraction or a percentage. Got {raw!r} instead.")
    if isinstance(n, numbers.Integral):
        count = int(n)
    else:
        if not (0 < n <= 1):
            raise ConfigError(
                f"The {name!r} parameter as a fraction must be in the range (0, 1]. Got {raw!r} instead.",
                hint="Use an integer for a count, e.g. -n 500.",
            )
        count = max(1, int(round(float(n) * pool)))
    if count <= 0:
        raise ConfigError(f"The {name!r} parameter must be at least 1. Got {raw!r} instead.")
    if available <= 0:
        raise InputError(f"Cannot select {count} samples: all {pool} samples of the pool are already labeled/excluded, "
                         "so nothing is left to select.",
                         hint="Exclude fewer ids (--exclude), or add new samples to the pool.")
    if count > available:
        excluded = pool - available
        what = f"the pool has {pool} samples" + (f", {excluded} of them already labeled/excluded" if excluded else "")
        # a percentage or fraction is of the whole pool, so only a count can name what is left
        hint = f"Use -n {available} or less" + (" (or -n 100% for everything)." if not excluded else
                                                f" (the {available} samples not excluded).")
        raise InputError(f"Cannot select {count} samples: {what}, so at most {available} can be selected.", hint=hint)
    return count


def parse_value(text: str) -> Any:
    """A parameter value given as text (``-p KEY=VALUE``, a method spec) as int, float,
    bool (true/false), None (none/null) or the text itself."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
