"""The geometry selection works in: metrics, re-embeddings, kNN graphs, geodesic distances."""
from .knn import KnnGraph, knn_graph

__all__ = ["KnnGraph", "knn_graph"]
