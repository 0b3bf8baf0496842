"""Shared synthetic data of the prediction-based strategy tests: Gaussian classes in an
embedding space, optionally with rare classes (a biased pool)."""
from __future__ import annotations

import numpy as np


def class_blobs(counts, d=16, spread=1.0, sep=3.0, seed=0):
    """(X float32, y ints): ``counts[c]`` samples of class c around a random centre."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(counts), d)) * sep
    y = np.repeat(np.arange(len(counts)), counts)
    X = centres[y] + rng.normal(size=(y.size, d)) * spread
    perm = rng.permutation(y.size)
    return X[perm].astype(np.float32), y[perm]


def random_probabilities(n, c, seed=0, sharp=2.0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, c)) * sharp
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
