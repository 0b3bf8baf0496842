"""The geometry selection works in: metrics, re-embeddings, kNN graphs, geodesic distances."""
from .knn import KnnGraph, knn_graph, measure_recall
from .transform import SPACES, Space, fit_space, resolve_space, transform_space

__all__ = ["KnnGraph", "knn_graph", "measure_recall", "SPACES", "Space", "fit_space", "resolve_space", "transform_space"]
