"""Cluster assignments for the strategies that select per cluster (typiclust, divide-and-conquer).

Clusters are numbered by size, largest first (ties by the clusterer's own order), so
"cluster 0" means the same thing in every reason string.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..space.knn import knn_graph

__all__ = ["kmeans_labels", "spectral_labels", "by_size"]

#: full k-means only for small problems; otherwise mini-batch k-means (as TypiClust's code does
#: beyond 50 clusters: full Lloyd iterations over many clusters cost minutes and gain little)
FULL_KMEANS_LIMIT = 20_000
FULL_KMEANS_MAX_CLUSTERS = 50


def by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber cluster labels 0.. by cluster size, largest first; empty clusters vanish."""
    uniq, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    rank = np.lexsort((uniq, -counts))  # cluster positions, largest first
    new = np.empty_like(rank)
    new[rank] = np.arange(rank.size)
    return new[inverse].astype(np.int64)


def kmeans_labels(X: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """k-means cluster of every row (full k-means for small pools and few clusters, mini-batch beyond)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans, kmeans_plusplus
    from sklearn.exceptions import ConvergenceWarning

    n_clusters = int(min(n_clusters, X.shape[0]))
    if n_clusters <= 1:
        return np.zeros(X.shape[0], np.int64)
    with warnings.catch_warnings():
        # duplicate points can leave fewer distinct clusters than asked; by_size drops the empty ones
        warnings.simplefilter("ignore", ConvergenceWarning)
        if X.shape[0] <= FULL_KMEANS_LIMIT and n_clusters <= FULL_KMEANS_MAX_CLUSTERS:
            km = KMeans(n_clusters, n_init=1, random_state=seed)
        else:
            # k-means++ seeding on a float64 sample: sklearn's float32 path upcasts chunk by chunk and
            # spends most of its time there (51 s of 70 for 1,000 clusters)
            rng = np.random.default_rng(seed)
            size = min(X.shape[0], max(3 * n_clusters, 3 * 4096))
            sample = np.asarray(X[np.sort(rng.choice(X.shape[0], size, replace=False))], dtype=np.float64)
            init, _ = kmeans_plusplus(sample, n_clusters, random_state=seed)
            km = MiniBatchKMeans(n_clusters, init=init.astype(X.dtype), n_init=1, random_state=seed,
                                 batch_size=max(4096, 2 * n_clusters), max_no_improvement=10)
        labels = km.fit_predict(X)
    return by_size(labels)


def spectral_labels(X: np.ndarray, n_clusters: int, k: int = 10, seed: int = 0) -> np.ndarray:
    """Spectral clustering of the symmetrised kNN graph (connectivity affinities)."""
    import scipy.sparse as sp
    from sklearn.cluster import SpectralClustering

    n = X.shape[0]
    n_clusters = int(min(n_clusters, n))
    if n_clusters <= 1 or n < 3:
        return np.zeros(n, np.int64)
    g = knn_graph(X, min(k, n - 1), seed=seed)
    rows = np.repeat(np.arange(n), g.k)
    cols = g.indices.ravel()
    ok = cols >= 0
    A = sp.csr_matrix((np.ones(int(ok.sum())), (rows[ok], cols[ok])), shape=(n, n))
    A = ((A + A.T) > 0).astype(np.float64)
    if n <= 2000:  # ARPACK cannot return as many eigenvectors as a tiny graph has nodes; dense eigh can
        A = A.toarray()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "graph is not fully connected": components become clusters
        warnings.filterwarnings("ignore", message="k >= N")  # tiny graphs: sklearn falls back to dense eigh itself
        labels = SpectralClustering(n_clusters, affinity="precomputed", random_state=seed,
                                    assign_labels="cluster_qr").fit_predict(A)
    return by_size(labels)
