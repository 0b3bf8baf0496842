"""Likely label errors: samples whose given label disagrees with what the data says.

Two out-of-sample estimates of each sample's class posterior, from the embeddings alone
(no model trained on the labels is needed):

* ``knn``: the weighted k-nearest-neighbour vote (Deep kNN, Papernot & McDaniel 2018;
  SimiFeat, Zhu et al. 2022). Each of a sample's ``k`` nearest neighbours (cosine
  similarity, the sample itself excluded) votes for its given label with weight
  ``exp(similarity / temperature)``.
* ``logistic``: a multinomial logistic regression on the unit-normalised embeddings,
  predicted out of fold with stratified ``cv_folds``-fold cross-validation (cleanlab's
  recommended way to get out-of-sample probabilities).
* ``ensemble`` (default): the mean of the two.

Ranking: ``score = 1 - p(given label)`` (the "self-confidence" rank of confident
learning): 1 means the data gives the label no support at all.

Flagging: confident learning (Northcutt, Jiang & Chuang, JAIR 2021), the rule cleanlab
uses by default (``prune_by_noise_rate``). Per-class thresholds ``t_j`` are the mean
posterior of class ``j`` over the samples labeled ``j``; a sample labeled ``i`` counts as
confidently class ``j`` when ``p_j >= t_j`` (the largest such ``j``); the counts,
calibrated to the label totals, estimate how many samples labeled ``i`` are really ``j``,
and that many samples labeled ``i`` with the largest margin ``p_j - p_i`` are flagged.
Passing ``threshold`` flags by ``score >= threshold`` instead.
"""
from __future__ import annotations

import logging
import numbers
from typing import Any, ClassVar, Sequence

import numpy as np

from .._validation import Interval, Options
from ..pool import Pool
from ..space.metric import unit_rows
from ..errors import InputError
from ..results import Issues
from ._base import BaseDetector

__all__ = ["LabelErrorDetector", "knn_posterior", "logistic_posterior", "confident_learning_flags", "per_class_thresholds"]

log = logging.getLogger(__name__)


def knn_posterior(X: np.ndarray, y: np.ndarray, n_classes: int, *, k: int = 20, temperature: float = 0.05,
                  graph: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted kNN class posterior of every sample from its neighbours' labels.

    ``X``: (n_samples, n_features) unit vectors; ``y``: (n_samples,) ints in
    [0, n_classes). Returns (posterior of shape (n_samples, n_classes), neighbour indices
    of shape (n_samples, k)). Neighbours exclude the sample itself, so the posterior is
    out of sample. ``graph`` reuses a :class:`labelscout.space.knn.KnnGraph` built on X.
    """
    from ..space.knn import knn_graph

    g = graph if graph is not None else knn_graph(X, k)
    idx, dist = g.indices[:, :k], g.distances[:, :k]
    valid = idx >= 0
    sim = 1.0 - 0.5 * np.square(np.where(valid, dist, 2.0))  # unit vectors: |a-b|^2 = 2 - 2 cos
    # subtract each row's best similarity before exp: the weights' ratios are unchanged and nothing overflows
    logits = sim / temperature
    logits -= np.max(np.where(valid, logits, -np.inf), axis=1, keepdims=True)
    w = np.where(valid, np.exp(logits), 0.0)  # (n, k)
    nbr_labels = y[np.where(valid, idx, 0)]  # (n, k); entries of invalid slots carry weight 0
    post = np.stack([(w * (nbr_labels == c)).sum(axis=1) for c in range(n_classes)], axis=1)  # (n, n_classes)
    total = post.sum(axis=1, keepdims=True)
    post = np.divide(post, total, out=np.full_like(post, 1.0 / n_classes), where=total > 0)
    return post, idx


def logistic_posterior(X: np.ndarray, y: np.ndarray, n_classes: int, *, cv_folds: int = 5, C: float = 1.0,
                       seed: int = 0, max_iter: int = 300) -> np.ndarray:
    """Out-of-fold class probabilities (n_samples, n_classes) from a multinomial logistic
    regression on ``X``, with stratified ``cv_folds``-fold cross-validation."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, StratifiedKFold

    counts = np.bincount(y, minlength=n_classes)
    smallest = counts[counts > 0].min()
    folds = min(cv_folds, int(smallest)) if smallest >= 2 else cv_folds
    splitter = (StratifiedKFold(folds, shuffle=True, random_state=seed) if smallest >= 2
                else KFold(min(cv_folds, len(y)), shuffle=True, random_state=seed))
    post = np.zeros((len(y), n_classes), dtype=np.float64)
    for train, held in splitter.split(X, y):
        clf = LogisticRegression(C=C, max_iter=max_iter)
        clf.fit(X[train], y[train])
        # a class absent from this training fold gets probability 0 for the held-out part
        post[np.ix_(held, clf.classes_)] = clf.predict_proba(X[held])
    return post


def per_class_thresholds(post: np.ndarray, y: np.ndarray) -> np.ndarray:
    """t_j = mean of p_j over samples labeled j (confident learning); 1 for absent classes."""
    n_classes = post.shape[1]
    t = np.ones(n_classes)
    for j in range(n_classes):
        m = y == j
        if m.any():
            t[j] = post[m, j].mean()
    return t


def confident_learning_flags(post: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flags by confident learning's prune-by-noise-rate rule; also the confident joint.

    Returns (flags of shape (n_samples,), calibrated confident joint of shape
    (n_classes, n_classes), rows = given label, columns = estimated true label).
    """
    n, n_classes = post.shape
    t = per_class_thresholds(post, y)
    above = post >= (t[None, :] - 1e-12)  # (n, C): confidently class j
    masked = np.where(above, post, -np.inf)
    true_guess = np.argmax(masked, axis=1)
    counted = above.any(axis=1)
    joint = np.zeros((n_classes, n_classes))
    np.add.at(joint, (y[counted], true_guess[counted]), 1.0)
    # calibrate: each row sums to the number of samples carrying that given label
    label_counts = np.bincount(y, minlength=n_classes).astype(float)
    row = joint.sum(axis=1, keepdims=True)
    joint = np.divide(joint * label_counts[:, None], row, out=np.zeros_like(joint), where=row > 0)
    flags = np.zeros(n, dtype=bool)
    for i in range(n_classes):
        members = np.flatnonzero(y == i)
        if members.size == 0:
            continue
        for j in range(n_classes):
            if i == j:
                continue
            m = int(round(joint[i, j]))
            if m <= 0:
                continue
            margin = post[members, j] - post[members, i]
            flags[members[np.argsort(-margin, kind="stable")[:m]]] = True
    # keep at least one sample per class unflagged: a class cannot be all errors
    for i in range(n_classes):
        members = np.flatnonzero(y == i)
        if members.size and flags[members].all():
            flags[members[np.argmax(post[members, i])]] = False
    return flags, joint


class LabelErrorDetector(BaseDetector):
    """Find samples whose given label is likely wrong, from embeddings and labels.

    Parameters
    ----------
    method : "knn", "logistic" or "ensemble" (mean of both posteriors).
    k : neighbours for the kNN posterior and the evidence.
    temperature : kNN vote weight ``exp(cosine similarity / temperature)``.
    cv_folds : folds of the out-of-sample logistic posterior.
    C : inverse regularisation strength of the logistic regression.
    threshold : flag ``score >= threshold`` instead of the confident-learning rule.
    seed : fold assignment.

    Attributes
    ----------
    classes_ : sorted distinct labels.
    posterior_ : ndarray of shape (n_labeled, n_classes), out-of-sample class posterior.
    scores_ : ndarray of shape (n_labeled,), ``1 - posterior_[i, given_i]`` in [0, 1].
    flags_ : ndarray of shape (n_labeled,), bool.
    suggested_ : most probable label per labeled sample.
    labeled_ : positions (in the input) of the samples that had a label.
    confident_joint_ : calibrated counts (given label x estimated true label).
    issues_ : :class:`labelscout.results.Issues` with one ``label_error`` row per labeled sample.
    """

    name: ClassVar[str] = "label-errors"
    issue: ClassVar[str] = "label_error"
    description: ClassVar[str] = "The given label disagrees with the sample's neighbours and an out-of-sample probe."
    requires_labels: ClassVar[bool] = True

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "method": [Options({"knn", "logistic", "ensemble"})],
        "k": [Interval(numbers.Integral, 1, None)],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "cv_folds": [Interval(numbers.Integral, 2, None)],
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "threshold": [Interval(numbers.Real, 0, 1), None],
        "seed": [Interval(numbers.Integral, 0, None)],
    }

    def __init__(self, *, method: str = "ensemble", k: int = 20, temperature: float = 0.05, cv_folds: int = 5,
                 C: float = 1.0, threshold: float | None = None, seed: int = 0):
        self.method = method
        self.k = k
        self.temperature = temperature
        self.cv_folds = cv_folds
        self.C = C
        self.threshold = threshold
        self.seed = seed

    def fit(self, embeddings: Any, labels: Sequence[Any] | None = None, ids: Sequence[str] | None = None, *,
            hashes: Sequence[str | None] | None = None, knn_cache: Any = None) -> "LabelErrorDetector":
        """Score every labeled sample. ``labels``: one per sample; None (or "") = unlabeled.

        Takes ``labels`` positionally as well as by keyword (the :class:`BaseDetector`
        form); ``hashes`` are accepted for the common signature and not used."""
        return super().fit(embeddings, ids=ids, hashes=hashes, labels=labels, knn_cache=knn_cache)

    def _fit(self, pool: Pool) -> None:
        X, ids, labels = pool.vectors, pool.ids, pool.labels
        if X.shape[0] < 2:
            raise InputError(f"embeddings has shape {X.shape}: at least 2 sample(s) are needed.")
        labeled = np.array([lab is not None and lab == lab and lab != "" for lab in labels], dtype=bool)  # lab == lab drops NaN
        self.labeled_ = np.flatnonzero(labeled)
        given = [labels[i] for i in self.labeled_]
        self.classes_ = sorted(set(given), key=str)
        if len(self.classes_) < 2:
            raise InputError(f"Label errors need at least two classes among the labeled samples; got {self.classes_}.")
        if self.labeled_.size < 3:
            raise InputError(f"Label errors need at least 3 labeled samples; got {self.labeled_.size}.")
        index = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([index[g] for g in given], dtype=np.int64)
        Xl = unit_rows(np.asarray(X[self.labeled_]))
        n_classes = len(self.classes_)

        from ..space.knn import knn_graph

        k = min(self.k, Xl.shape[0] - 1)
        graph = knn_graph(Xl, k)
        post_knn, nbrs = knn_posterior(Xl, y, n_classes, k=k, temperature=self.temperature, graph=graph)
        if self.method == "knn":
            post = post_knn
        else:
            post_lr = logistic_posterior(Xl, y, n_classes, cv_folds=self.cv_folds, C=self.C, seed=self.seed)
            post = post_lr if self.method == "logistic" else 0.5 * (post_knn + post_lr)
        self.posterior_ = post
        self.scores_ = np.clip(1.0 - post[np.arange(len(y)), y], 0.0, 1.0)
        suggested = np.argmax(post, axis=1)
        self.suggested_ = [self.classes_[s] for s in suggested]
        flags, joint = confident_learning_flags(post, y)
        self.confident_joint_ = joint
        self.flags_ = self.scores_ >= self.threshold if self.threshold is not None else flags
        agree = np.mean(np.where(nbrs >= 0, y[np.where(nbrs >= 0, nbrs, 0)] == y[:, None], False), axis=1)
        lab_ids = [ids[i] for i in self.labeled_]
        evidence = [
            {"given": given[i], "suggested": self.classes_[suggested[i]], "neighbour_agreement": round(float(agree[i]), 4),
             "p_given": round(float(post[i, y[i]]), 4), "p_suggested": round(float(post[i, suggested[i]]), 4),
             "neighbours": [lab_ids[j] for j in nbrs[i, :3] if j >= 0]}
            for i in range(len(y))
        ]
        self.issues_ = Issues.from_rows(self.issue, lab_ids, self.scores_, self.flags_, evidence)
        self.n_unlabeled_ = int((~labeled).sum())
