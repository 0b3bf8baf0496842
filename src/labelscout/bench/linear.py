"""The linear probe: multinomial logistic regression on the frozen embedding.

The CNN probe (:mod:`.probe`) trains a network on the picked images; on two shared CPU
cores one cell costs seconds to minutes, too much for hundreds of cells. A linear probe
on the frozen embedding costs well under a second a cell and is the standard way to read
what a subset teaches when the features are fixed (the embedding is the pretrained
default, which the selection itself also works on).

Recipe (fixed for every method, budget and repeat): unit rows, standardised per
dimension with the mean and spread of the whole *unlabeled* pool (no label, no test
image involved), then L2-regularised multinomial logistic regression (lbfgs, ``C``,
``max_iter``), scored on the whole test set. One BLAS thread: on a CPU shared with
other jobs a team of threads waits for its descheduled member (a 5,000-image fit took
34 s with the default threads and 0.6 s with one, on the same loaded machine).
"""
from __future__ import annotations

import numbers
import time
import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from .._validation import Interval, validate_params
from ..errors import ConfigError, InputError
from .probe import ProbeScore

__all__ = ["LinearRecipe", "LINEAR_RECIPES", "LinearProbe", "standardize_features"]


@dataclass(frozen=True)
class LinearRecipe:
    """Everything that defines the linear probe."""

    name: str = "linear"
    C: float = 0.1  # inverse L2 strength (sklearn's convention: loss summed over samples)
    max_iter: int = 300
    kind: str = "linear"

    _constraints = {
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None)],
    }

    def validate(self) -> "LinearRecipe":
        validate_params(f"LinearRecipe {self.name!r}", {"C": self.C, "max_iter": self.max_iter}, self._constraints)
        return self

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, **overrides: Any) -> "LinearRecipe":
        unknown = sorted(set(overrides) - {"C", "max_iter"})
        if unknown:
            raise ConfigError(f"Unknown linear probe recipe field(s) {unknown}.", hint="Fields: C, max_iter.")
        return replace(self, **overrides).validate()


LINEAR_RECIPES: dict[str, LinearRecipe] = {"linear": LinearRecipe()}


def standardize_features(pool: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unit rows, then (x - mean) / std with the statistics of ``pool`` (all its rows),
    applied to ``pool`` and each of ``others``. Float32."""
    def unit(X):
        X = np.asarray(X, np.float32)
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.where(norms > 0, norms, 1.0)

    P = unit(pool)
    mean = P.mean(axis=0)
    std = P.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0).astype(np.float32)
    return tuple(((unit(X) - mean) / std).astype(np.float32) for X in (pool, *others))


class LinearProbe:
    """Train the linear probe on labeled features and score it.

    Parameters
    ----------
    n_classes : number of classes (labels are ints in [0, n_classes)).
    recipe : a :class:`LinearRecipe` (or the name "linear").
    seed : unused by lbfgs (deterministic); kept so the harness treats both probes alike.
    """

    def __init__(self, n_classes: int, *, recipe: LinearRecipe | str = "linear", seed: int = 0):
        self.n_classes = n_classes
        self.recipe = recipe
        self.seed = seed

    def fit(self, features: np.ndarray, labels: np.ndarray) -> "LinearProbe":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        recipe = LINEAR_RECIPES[self.recipe] if isinstance(self.recipe, str) else self.recipe
        X = np.asarray(features, np.float32)
        y = np.asarray(labels, np.int64)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise InputError(f"The linear probe needs features (n, d) and labels (n,); got {X.shape} and {y.shape}.")
        if X.shape[0] < 2:
            raise InputError(f"The linear probe needs at least 2 training samples; got {X.shape[0]}.")
        t0 = time.perf_counter()
        present = np.unique(y)
        self.model_ = None
        if present.size >= 2:
            with threadpool_limits(1), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is part of the fixed recipe
                self.model_ = LogisticRegression(C=recipe.C, max_iter=recipe.max_iter).fit(X, y)
            n_iter = int(np.max(self.model_.n_iter_))
        else:  # one class only: the probe can only predict it
            n_iter = 0
        self._only = int(present[0])
        self.train_stats_ = {"n_train": int(X.shape[0]), "steps": n_iter, "epochs": n_iter, "images_seen": int(X.shape[0]) * n_iter,
                             "seconds": round(time.perf_counter() - t0, 3), "classes_seen": int(present.size), "device": "cpu"}
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        if not hasattr(self, "train_stats_"):
            raise InputError("This LinearProbe is not fitted yet; call fit(features, labels) first.")
        X = np.asarray(features, np.float32)
        if self.model_ is None:
            return np.full(X.shape[0], self._only, np.int64)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return self.model_.predict(X).astype(np.int64)

    def score(self, features: np.ndarray, labels: np.ndarray) -> ProbeScore:
        labels = np.asarray(labels, dtype=np.int64)
        pred = self.predict(features)
        correct = pred == labels
        per_class = [float(correct[labels == c].mean()) if np.any(labels == c) else float("nan") for c in range(self.n_classes)]
        return ProbeScore(float(correct.mean()), per_class, int(labels.size), pred)
