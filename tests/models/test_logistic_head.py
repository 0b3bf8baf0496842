"""The logistic head: out-of-fold probabilities for labeled rows equal a plain loop over
the same folds; every other row comes from the head fitted on all labeled rows."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from labelscout.errors import InputError
from labelscout.models.logistic_head import fit_logistic_head, unit_rows


def blobs(n=300, k=3, d=8, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = (rng.normal(size=(k, d))[y] * 3 + rng.normal(size=(n, d))).astype(np.float32)
    return X, y


@pytest.mark.parametrize("folds", [2, 5])
def test_out_of_fold_matches_a_plain_reference(folds):
    X, y = blobs()
    labels = [f"c{v}" if i < 120 else None for i, v in enumerate(y)]
    hp = fit_logistic_head(X, labels, cv_folds=folds, seed=3)
    F = unit_rows(X).astype(np.float64)
    rows = np.arange(120)
    ref = np.zeros((120, 3))
    for tr, ho in StratifiedKFold(folds, shuffle=True, random_state=3).split(F[rows], y[rows]):
        ref[ho] = LogisticRegression(C=1.0, max_iter=300).fit(F[rows][tr], y[rows][tr]).predict_proba(F[rows][ho])
    np.testing.assert_allclose(hp.probabilities[rows], ref, atol=1e-8)
    full = LogisticRegression(C=1.0, max_iter=300).fit(F[rows], y[rows]).predict_proba(F[120:])
    np.testing.assert_allclose(hp.probabilities[120:], full, atol=1e-8)
    assert hp.class_names == ["c0", "c1", "c2"] and hp.labeled.sum() == 120
    assert (hp.labels[:120] == y[:120]).all() and (hp.labels[120:] == -1).all()
    np.testing.assert_allclose(hp.probabilities.sum(axis=1), 1.0)
    assert hp.info["out_of_fold_accuracy"] > 0.9  # separable blobs


def test_a_class_with_one_sample_and_missing_classes_per_fold():
    X, y = blobs(60)
    labels = [None] * 60
    for i in range(10):
        labels[i] = "a" if y[i] != 2 else "b"
    labels[59] = "rare"
    hp = fit_logistic_head(X, labels)
    assert hp.class_names == ["a", "b", "rare"]
    np.testing.assert_allclose(hp.probabilities.sum(axis=1), 1.0)
    assert np.isfinite(hp.probabilities).all()


@pytest.mark.parametrize("labels, match", [
    ([None] * 10, "at least two classes"),
    (["x"] * 3 + [None] * 7, "at least two classes"),
    (["x"] * 3, "3 entries for 10 samples"),
])
def test_bad_labels(labels, match):
    with pytest.raises(InputError, match=match):
        fit_logistic_head(np.ones((10, 3), np.float32), labels)
