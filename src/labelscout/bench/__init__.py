"""Benchmark helpers: probes of embedding quality (weighted kNN) and their harness."""
from .knn import knn_accuracy, knn_predict

__all__ = ["knn_accuracy", "knn_predict"]
