"""Benchmarks of selection and detection quality: the probe harness (a subset chosen
without labels is judged by the test accuracy of a fixed classifier trained on it, as in
Englert's thesis ch. 4), its statistics and reports, and the label-error and
near-duplicate scorings. Modules are imported by name (``labelscout.bench.harness``...).
"""
