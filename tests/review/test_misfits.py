"""The review's order: misfits first, from the embeddings or from a model's predictions."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from labelscout.errors import InputError
from labelscout.review.misfits import Misfits, misfits_from_embeddings, misfits_from_posterior, misfits_from_predictions
from labelscout.sources.precomputed import load_precomputed


def _reference_members(scores, given, cls):
    """Slow and obvious: the class's samples by descending score, unknown last, ties by position."""
    rows = [i for i in range(len(given)) if given[i] == cls]
    return sorted(rows, key=lambda i: (-(scores[i] if np.isfinite(scores[i]) else -1.0), i))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 5).flatmap(lambda c: st.tuples(
    st.just(c), arrays(np.float64, st.tuples(st.integers(3, 30), st.just(c)), elements=st.floats(0.01, 1.0)),
    st.data())))
def test_members_and_elsewhere_match_a_slow_reference(args):
    c, raw, data = args
    n = raw.shape[0]
    post = raw / raw.sum(axis=1, keepdims=True)
    unknown = data.draw(st.lists(st.integers(0, n - 1), max_size=2))
    post[unknown] = np.nan
    classes = [f"k{j}" for j in range(c)]
    given_labels = [classes[data.draw(st.integers(0, c - 1))] for _ in range(n)]
    m = misfits_from_posterior(post, classes, given_labels, "predictions")
    y = np.array([classes.index(g) for g in given_labels])
    for cls in range(c):
        assert m.members(cls).tolist() == _reference_members(m.scores, y, cls)
        other = [i for i in range(n) if m.suggested[i] == cls and y[i] != cls]
        assert m.elsewhere(cls).tolist() == sorted(other, key=lambda i: (-m.confidence[i], i))
    known = np.isfinite(post).all(axis=1)
    assert np.allclose(m.scores[known], 1 - post[known, y[known]])
    assert np.isnan(m.scores[~known]).all() and (m.suggested[~known] == -1).all()
    assert ((m.scores[known] >= 0) & (m.scores[known] <= 1)).all()


def test_embeddings_put_the_mislabeled_images_first(dataset):
    emb = load_precomputed(dataset.embeddings)
    m = misfits_from_embeddings(np.asarray(emb.vectors), dataset.given)
    assert m.source == "embeddings" and m.classes == ["blue", "green", "red"]
    for c, name in enumerate(m.classes):
        first = [dataset.ids[i] for i in m.members(c)[:3]]
        assert set(first) <= dataset.wrong, (name, first)  # the 3 wrong labels of each class open it
        # and the posterior says what they really are
        assert all(m.classes[m.suggested[dataset.ids.index(i)]] == dataset.truth[dataset.ids.index(i)] for i in first)


def test_misfits_round_trip_through_the_cache(dataset, tmp_path):
    m = misfits_from_embeddings(np.asarray(load_precomputed(dataset.embeddings).vectors), dataset.given)
    m.save(tmp_path, "key1")
    back = Misfits.load(tmp_path, "key1")
    assert back.classes == m.classes and back.source == m.source
    for name in ("given", "scores", "suggested", "confidence"):
        np.testing.assert_array_equal(getattr(back, name), getattr(m, name))
    assert Misfits.load(tmp_path, "other key") is None


def _write_predictions(path, ids, probs, classes):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *[f"prob_{c}" for c in classes]])
        for i, p in zip(ids, probs):
            w.writerow([i, *[f"{v:.6f}" for v in p]])


def test_predictions_order_the_class_and_say_what_the_model_believed(dataset, tmp_path):
    classes = ["blue", "green", "red"]
    probs = np.full((len(dataset.ids), 3), 0.05)
    for r, t in enumerate(dataset.truth):
        probs[r, classes.index(t)] = 0.9
    path = tmp_path / "preds.csv"
    _write_predictions(path, dataset.ids, probs, classes)
    m = misfits_from_predictions(path, dataset.ids, dataset.given)
    assert m.source == "predictions" and m.classes == classes
    wrong = [dataset.ids.index(i) for i in dataset.wrong]
    assert np.allclose(m.scores[wrong], 0.95) and np.allclose(np.delete(m.scores, wrong), 0.1)
    assert np.allclose(m.confidence, 0.9)
    assert {dataset.ids[i] for c in range(3) for i in m.members(c)[:3]} == dataset.wrong
    assert {dataset.ids[i] for c in range(3) for i in m.elsewhere(c)} == dataset.wrong


def test_predictions_without_a_label_class_are_refused(dataset, tmp_path):
    path = tmp_path / "preds.csv"
    _write_predictions(path, dataset.ids, np.full((len(dataset.ids), 2), 0.5), ["blue", "green"])
    with pytest.raises(InputError, match="red"):
        misfits_from_predictions(path, dataset.ids, dataset.given)
