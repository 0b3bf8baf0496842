"""Benchmark helpers: probes of embedding quality (weighted kNN), and the selection probe
harness (a subset chosen without labels is judged by the test accuracy of a fixed
classifier trained on it, as in Englert's thesis ch. 4) with its statistics and reports,
and the label-error and near-duplicate scorings. The harness modules are imported by name
(``labelscout.bench.harness``...).
"""
from ..ssl.knn_probe import knn_accuracy, knn_predict

__all__ = ["knn_accuracy", "knn_predict"]
