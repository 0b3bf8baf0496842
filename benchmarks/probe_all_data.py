"""The linear probe's ceiling: the `linear` recipe trained on every training image of a
saved embedding of the whole CIFAR-10 folder (ids train/... and test/...), scored on the
test set, with its cost. Writes a JSON file.

    python benchmarks/probe_all_data.py EMB OUT.json
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from labelscout.bench.linear import LinearProbe, standardize_features
from labelscout.embed.store import EmbeddingSet
from labelscout.runs.atomic import atomic_write_json

emb = EmbeddingSet.load(sys.argv[1])
ids = emb.ids
train = np.array([i.startswith("train/") for i in ids])
test = np.array([i.startswith("test/") for i in ids])
names = np.array([i.split("/")[1] for i in ids])
classes = sorted(set(names))
y = np.searchsorted(classes, names)
V = np.asarray(emb.vectors, np.float32)
Ftr, Fte = standardize_features(V[train], V[test])
t0 = time.perf_counter()
probe = LinearProbe(len(classes)).fit(Ftr, y[train])
score = probe.score(Fte, y[test])
res = {"embedding": sys.argv[1], "model_id": emb.model_id, "dim": int(V.shape[1]), "n_train": int(train.sum()),
       "n_test": int(test.sum()), "accuracy": score.accuracy, "per_class": dict(zip(classes, score.per_class)),
       "seconds": round(time.perf_counter() - t0, 2), "probe": probe.train_stats_}
atomic_write_json(sys.argv[2], res)
print(json.dumps({k: res[k] for k in ("model_id", "dim", "accuracy", "seconds")}))
