"""Weighted k-nearest-neighbour classification, the standard probe of self-supervised embeddings.

As in InstDisc (Wu et al. 2018) and the SimCLR / lightly CIFAR benchmarks: each test
sample takes its ``k`` most similar training samples, each neighbour votes for its label
with weight ``exp(similarity / temperature)``, and the label with the largest total wins.
Similarities are computed in blocks (a block of queries against a block of the training
set, keeping a running top-k), so memory stays bounded for any N and M.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from .._validation import Interval, Options, check_embeddings, validate_params
from ..errors import InputError

__all__ = ["knn_predict", "knn_accuracy", "bounded_k"]

_CONSTRAINTS = {
    "k": [Interval(numbers.Integral, 1, None)],
    "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
    "metric": [Options({"cosine", "l2"})],
    "query_block": [Interval(numbers.Integral, 1, None)],
    "train_block": [Interval(numbers.Integral, 1, None)],
}


def _as_array(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float32).numpy()
    return x


def _as_tensor(x: np.ndarray) -> torch.Tensor:
    # one float32 copy for the matrix products (float16 matmuls are slow on CPUs)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _labels(labels: Any, n: int, name: str) -> np.ndarray:
    arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"{name} must have shape ({n},) to match its embeddings; got shape {arr.shape}.")
    return arr


def _similarity(q: torch.Tensor, x: torch.Tensor, metric: str) -> torch.Tensor:
    # (b_q, D) x (b_x, D) -> (b_q, b_x); larger is more similar
    if metric == "cosine":
        return q @ x.T
    return -torch.cdist(q, x)


def knn_predict(
    train_emb: Any,
    train_labels: Any,
    test_emb: Any,
    *,
    k: int = 200,
    temperature: float = 0.1,
    metric: str = "cosine",
    query_block: int = 1024,
    train_block: int = 16384,
) -> np.ndarray:
    """Predicted label of each test row by weighted kNN over the training rows.

    train_emb : array of shape (n_train, n_features); train_labels : shape (n_train,), any
    hashable values; test_emb : array of shape (n_test, n_features).
    metric : "cosine" (similarity = cosine) or "l2" (similarity = minus Euclidean distance).
    ``k`` larger than n_train uses every training row. Ties between labels go to the label
    that sorts first. Returns an array of shape (n_test,) with values from ``train_labels``.
    """
    validate_params("knn_predict", {"k": k, "temperature": temperature, "metric": metric,
                                    "query_block": query_block, "train_block": train_block}, _CONSTRAINTS)
    train = _as_tensor(check_embeddings(_as_array(train_emb), name="train_emb"))
    test = _as_tensor(check_embeddings(_as_array(test_emb), name="test_emb"))
    if train.shape[1] != test.shape[1]:
        raise InputError(
            f"train_emb and test_emb must have the same number of features; got shapes {tuple(train.shape)} and {tuple(test.shape)}."
        )
    labels = _labels(train_labels, train.shape[0], "train_labels")
    classes, codes = np.unique(labels, return_inverse=True)
    codes_t = torch.from_numpy(codes.astype(np.int64))
    n_classes = len(classes)
    if metric == "cosine":
        train = torch.nn.functional.normalize(train, dim=1)
        test = torch.nn.functional.normalize(test, dim=1)
    k = min(int(k), train.shape[0])
    out = np.empty(test.shape[0], dtype=np.int64)
    for qs in range(0, test.shape[0], query_block):
        q = test[qs : qs + query_block]  # (b_q, D)
        best_sim = torch.full((q.shape[0], 0), float("-inf"))
        best_idx = torch.zeros((q.shape[0], 0), dtype=torch.int64)
        for ts in range(0, train.shape[0], train_block):
            sim = _similarity(q, train[ts : ts + train_block], metric)  # (b_q, b_t)
            kk = min(k, sim.shape[1])
            s, i = sim.topk(kk, dim=1)
            # running top-k over the blocks seen so far: (b_q, k + kk) -> (b_q, k)
            cat_sim = torch.cat([best_sim, s], dim=1)
            cat_idx = torch.cat([best_idx, i + ts], dim=1)
            keep = min(k, cat_sim.shape[1])
            best_sim, pos = cat_sim.topk(keep, dim=1)
            best_idx = cat_idx.gather(1, pos)
        # subtract each row's best similarity before exp: the weights' ratios (and so the
        # vote) are unchanged, and exp cannot overflow for l2 or a small temperature
        weights = torch.exp((best_sim - best_sim[:, :1]) / temperature)  # (b_q, k)
        votes = torch.zeros(q.shape[0], n_classes, dtype=torch.float64)
        votes.scatter_add_(1, codes_t[best_idx], weights.double())  # (b_q, n_classes)
        out[qs : qs + q.shape[0]] = votes.argmax(dim=1).numpy()
    return classes[out]


def bounded_k(k: int, train_labels: Any) -> int:
    """``k`` capped at the smallest class's size in the bank (at least 1).

    With k near the bank size every query's neighbours are most of the bank, so the vote is
    the bank's majority class whatever the embedding. A held-out query's class has lost that
    query from the bank, so the majority is a class with *no* queries: on a small bank
    (300 images, 15 held out, k=200) the monitor then reads 0 %, below chance. Capped at
    the smallest class, an uninformative embedding scores about chance, as it should."""
    _, counts = np.unique(np.asarray(train_labels), return_counts=True)
    return int(max(1, min(int(k), int(counts.min()) if counts.size else 1)))


def knn_accuracy(
    train_emb: Any,
    train_labels: Any,
    test_emb: Any,
    test_labels: Any,
    k: int = 200,
    temperature: float = 0.1,
    metric: str = "cosine",
    *,
    query_block: int = 1024,
    train_block: int = 16384,
) -> float:
    """Top-1 accuracy of weighted kNN (see :func:`knn_predict`) on the test set, in [0, 1]."""
    test_n = len(test_emb)
    truth = _labels(test_labels, test_n, "test_labels")
    pred = knn_predict(train_emb, train_labels, test_emb, k=k, temperature=temperature, metric=metric,
                       query_block=query_block, train_block=train_block)
    if truth.shape[0] == 0:
        raise InputError("test_emb has no rows; at least one test sample is needed for an accuracy.")
    return float(np.mean(pred == truth))
