"""VAAL: the discriminator learns which part of the pool the labeled set does not cover,
and the picks come from there; training is seeded."""
from __future__ import annotations

import numpy as np
import pytest

from labelscout.errors import InputError
from labelscout.strategies import VaalSelector

from _active import class_blobs

FAST = dict(steps=150, batch_size=32, hidden=32, latent=8, lr=3e-3)


def test_picks_come_from_the_region_no_labeled_sample_covers():
    X, y = class_blobs([120, 120, 120], d=12, sep=4.0, seed=0)
    labeled = np.flatnonzero(y != 2)[:60]  # labeled samples cover clusters 0 and 1 only
    sel = VaalSelector(30, **FAST).fit(X, exclude=labeled)
    share = float(np.mean(y[sel.selected_] == 2))
    assert share > 0.8, share  # random picks would give about 0.36
    assert not set(sel.selected_.tolist()) & set(labeled.tolist())
    again = VaalSelector(30, **FAST).fit(X, exclude=labeled)
    assert again.selected_.tolist() == sel.selected_.tolist()
    assert ((sel.labeled_probability_ >= 0) & (sel.labeled_probability_ <= 1)).all()


def test_needs_a_labeled_set():
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    with pytest.raises(InputError, match="labeled and unlabeled.*--exclude"):
        VaalSelector(3, **FAST).fit(X)
