"""Weighted kNN accuracy against a slow, obviously-correct reference and closed-form cases."""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
import torch

from labelscout.ssl.knn_probe import knn_accuracy, knn_predict
from labelscout.errors import ConfigError, InputError


def knn_reference(train, train_labels, test, k, t, metric):
    """One query at a time: sort all training rows by similarity, vote with exp(sim / t)."""
    preds = []
    for q in test:
        sims = []
        for x, y in zip(train, train_labels):
            if metric == "cosine":
                s = float(np.dot(q, x) / (np.linalg.norm(q) * np.linalg.norm(x)))
            else:
                s = -float(np.linalg.norm(q - x))
            sims.append((s, y))
        sims.sort(key=lambda p: -p[0])
        votes = defaultdict(float)
        for s, y in sims[:k]:
            votes[y] += math.exp(s / t)
        best = max(votes.values())
        preds.append(min(y for y, v in votes.items() if v == best))
    return np.array(preds)


@pytest.mark.parametrize("n_train, n_test, d, n_classes", [(30, 10, 4, 3), (200, 50, 16, 10), (57, 23, 8, 2)])
@pytest.mark.parametrize("k", [1, 5, 20, 200])
@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_predictions_match_reference(n_train, n_test, d, n_classes, k, metric):
    rng = np.random.default_rng(n_train + k)
    train = rng.normal(size=(n_train, d)).astype(np.float32)
    test = rng.normal(size=(n_test, d)).astype(np.float32)
    labels = rng.integers(0, n_classes, n_train)
    # small blocks so the running top-k over several training blocks is exercised
    ours = knn_predict(train, labels, test, k=k, temperature=0.1, metric=metric, query_block=7, train_block=13)
    ref = knn_reference(train, labels, test, min(k, n_train), 0.1, metric)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("query_block, train_block", [(1, 1), (3, 1000), (1000, 5), (1024, 16384)])
def test_block_sizes_do_not_change_predictions(query_block, train_block):
    rng = np.random.default_rng(3)
    train = rng.normal(size=(120, 6)).astype(np.float32)
    test = rng.normal(size=(40, 6)).astype(np.float32)
    labels = rng.integers(0, 4, 120)
    base = knn_predict(train, labels, test, k=15)
    np.testing.assert_array_equal(knn_predict(train, labels, test, k=15, query_block=query_block, train_block=train_block), base)


def test_separated_clusters_give_perfect_accuracy_and_shuffled_labels_do_not():
    rng = np.random.default_rng(0)
    centres = np.eye(5, 16) * 10
    train_labels = np.repeat(np.arange(5), 40)
    test_labels = np.repeat(np.arange(5), 10)
    train = centres[train_labels] + rng.normal(size=(200, 16))
    test = centres[test_labels] + rng.normal(size=(50, 16))
    assert knn_accuracy(train, train_labels, test, test_labels, k=20) == 1.0
    assert knn_accuracy(train, rng.permutation(train_labels), test, test_labels, k=20) < 0.5


def test_string_labels_and_torch_inputs():
    train = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    test = torch.tensor([[1.0, 0.05], [0.05, 1.0]])
    labels = np.array(["cat", "cat", "dog", "dog"])
    np.testing.assert_array_equal(knn_predict(train, labels, test, k=2), ["cat", "dog"])
    assert knn_accuracy(train, labels, test, ["cat", "cat"], k=2) == 0.5


def test_weights_decide_over_counts():
    # 1 very close neighbour of class 1 outweighs 2 far ones of class 0 at a low temperature,
    # and loses to them at a high one (where the vote approaches a plain count)
    train = np.array([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    labels = np.array([1, 0, 0])
    q = np.array([[1.0, 0.3]])
    assert knn_predict(train, labels, q, k=3, temperature=0.05)[0] == 1
    assert knn_predict(train, labels, q, k=3, temperature=100.0)[0] == 0


def test_k_larger_than_bank_uses_every_row():
    rng = np.random.default_rng(1)
    train, test = rng.normal(size=(9, 3)), rng.normal(size=(4, 3))
    labels = rng.integers(0, 3, 9)
    np.testing.assert_array_equal(knn_predict(train, labels, test, k=500), knn_predict(train, labels, test, k=9))


def test_cosine_ignores_scale():
    rng = np.random.default_rng(2)
    train, test = rng.normal(size=(50, 5)), rng.normal(size=(20, 5))
    labels = rng.integers(0, 3, 50)
    scaled = train * rng.uniform(0.1, 10, size=(50, 1))
    np.testing.assert_array_equal(knn_predict(scaled, labels, test), knn_predict(train, labels, test))


@pytest.mark.parametrize("kwargs, fragment", [
    ({"k": 0}, "'k' parameter of knn_predict must be an int in the range [1, inf]. Got 0"),
    ({"temperature": 0}, "'temperature' parameter of knn_predict must be a float in the range (0, inf). Got 0"),
    ({"metric": "cosin"}, "'metric' parameter of knn_predict must be one of {'cosine', 'l2'}. Got 'cosin'"),
])
def test_parameter_errors(kwargs, fragment):
    x = np.ones((3, 2))
    with pytest.raises(ConfigError) as exc:
        knn_accuracy(x, [0, 1, 0], x, [0, 1, 0], **kwargs)
    assert fragment in str(exc.value)


def test_input_errors_carry_shapes():
    x = np.ones((3, 2))
    with pytest.raises(InputError, match=r"shapes \(3, 2\) and \(3, 4\)"):
        knn_accuracy(x, [0, 1, 0], np.ones((3, 4)), [0, 1, 0])
    with pytest.raises(InputError, match=r"train_labels must have shape \(3,\).*got shape \(2,\)"):
        knn_accuracy(x, [0, 1], x, [0, 1, 0])
    bad = x.copy()
    bad[1, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        knn_accuracy(x, [0, 1, 0], bad, [0, 1, 0])


def test_an_uninformative_embedding_scores_chance_not_zero_on_a_small_holdout():
    """The 0.0 % that `labelscout train examples/cifar10-sample --epochs 1` reported: with
    k=200 on a 285-image bank every vote is the bank's majority class, which a holdout
    makes a class without queries. Capping k at the smallest class fixes the bias."""
    from labelscout.ssl.knn_probe import bounded_k

    labels = np.repeat(np.arange(10), 30)  # 300 images, 10 classes, as in examples/cifar10-sample
    emb = np.ones((300, 16))  # a collapsed network after one epoch: every image the same
    accs = {"k200": [], "bounded": []}
    for seed in range(40):
        hold = np.sort(np.random.default_rng(seed).permutation(300)[:15])
        keep = np.setdiff1d(np.arange(300), hold)
        for key, k in (("k200", 200), ("bounded", bounded_k(200, labels[keep]))):
            accs[key].append(knn_accuracy(emb[keep], labels[keep], emb[hold], labels[hold], k=k, temperature=0.1))
    assert np.mean(accs["k200"]) < 0.05  # the bias: below the 10 % chance level (3.2 % measured)
    assert 0.07 < np.mean(accs["bounded"]) < 0.16  # about chance (11.3 % measured)
    assert bounded_k(200, labels) == 30 and bounded_k(5, labels) == 5 and bounded_k(200, [1]) == 1
