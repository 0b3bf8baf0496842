"""Why ProbCover misses issue 12's bars at 500 and 1,000: an oracle that knows the classes.

ProbCover is the best label-free method on CIFAR-10 (docs/benchmarks.md), +3.3 pp over random
at 500 and +1.7 at 1,000 with the linear probe, against bars of +5 and +3. This script asks
whether any *selection* of this embedding can reach the bars, and what an oracle needs to know:

- ``oracle-balanced``: random images, 10 % per class (the class counts only);
- ``oracle-probcover``: ProbCover run inside each class on its own (n/10 picks, delta by the
  product's rule within the class);
- ``oracle-pure-balls``: the product's ProbCover over the whole pool (its delta, its k), but each
  ball keeps only the members of the centre's class, so a pick no longer gains by covering the
  edges of two classes at once;
- label-free stand-ins for that purity, the same greedy with balls pruned by
  ``kmeans-balls:K`` (members of the centre's spherical k-means cluster), ``snn-balls:T``
  (shared-nearest-neighbour share of the 20-NN lists >= T) and ``mutual-balls`` (mutual 64-NN);
- the default model's own ImageNet head as that stand-in (given ``LOGITS.npy`` from
  ``benchmarks/imagenet_logits.py``): ``inet-top1-balls`` (members whose ImageNet top-1
  class is the centre's) and ``inet-bc-balls:T`` (Bhattacharyya coefficient of the two
  ImageNet class distributions >= T);
- a soft coverage instead of balls: ``maxherding:S``, greedy facility location (MaxHerding,
  Bae et al., ECCV 2024) with the Gaussian kernel exp(-(d / (S delta))^2) over the same 64
  nearest neighbours: each pick maximises the summed kernel gain over its neighbours. It has
  no tie-breaks to speak of, so its picks hardly change with the seed: its repeats vary
  only the random picks they are paired with.

Every method gets the linear probe of the table (`--recipe linear`, the same standardisation),
paired by seed with ``random``; the numbers go to a JSON file with the command and CPU flags.

    python benchmarks/probcover_purity_bounds.py EMB_DIR OUT.json [SEEDS] [LOGITS.npy]

EMB_DIR: `labelscout embed` of the CIFAR-10 folder (train/ and test/ ids).
"""
from __future__ import annotations

import json
import sys
import time

import numba
import numpy as np
from scipy import stats

from labelscout.bench.linear import LinearProbe, standardize_features
from labelscout.embed.store import EmbeddingSet
from labelscout.runs.atomic import atomic_write_json
from labelscout.runs.machine import machine_info
from labelscout.space.knn import knn_blocks
from labelscout.strategies.coreset import prepare_metric
from labelscout.strategies.probcover import ProbCoverSelector, _k_cap, auto_delta, greedy_cover

BUDGETS = (500, 1000)
METHODS = ("random", "probcover", "oracle-balanced", "oracle-probcover", "oracle-pure-balls",
           "kmeans-balls:100", "snn-balls:0.1", "mutual-balls", "maxherding:0.6", "maxherding:0.7", "maxherding:1.0")
LOGIT_METHODS = ("inet-top1-balls", "inet-bc-balls:0.3", "inet-bc-balls:0.5")


@numba.njit(cache=True)
def _facility_location(nbr, w, n, rank):
    """n greedy picks maximising sum_i max_pick w(pick, i) over the rows' neighbour lists
    ``nbr`` (self in column 0) with kernel weights ``w``; lazy: gains only fall."""
    N, K = nbr.shape
    best = np.zeros(N)  # each row's largest kernel value to a pick so far
    bound = np.empty(N)
    for c in range(N):
        bound[c] = w[c].sum() + 1e-9 * rank[c]
    picked = np.zeros(N, np.bool_)
    out = np.empty(n, np.int64)
    for p in range(n):
        while True:
            c, top, second = -1, -1.0, -1.0
            for j in range(N):
                if not picked[j]:
                    if bound[j] > top:
                        second, top, c = top, bound[j], j
                    elif bound[j] > second:
                        second = bound[j]
            g = 1e-9 * rank[c]
            for t in range(K):
                g += max(0.0, w[c, t] - best[nbr[c, t]])
            bound[c] = g
            if g >= second:
                break
        picked[c] = True
        out[p] = c
        for t in range(K):
            best[nbr[c, t]] = max(best[nbr[c, t]], w[c, t])
    return out


@numba.njit(parallel=True, cache=True)
def _shared_share(sets, edges, kk):
    """For each edge (i, edges[i, t]): |NN_kk(i) & NN_kk(j)| / kk (sets: sorted kk-NN lists)."""
    n, k = edges.shape
    out = np.zeros((n, k), np.float32)
    for i in numba.prange(n):
        for t in range(k):
            j = edges[i, t]
            p = q = c = 0
            while p < kk and q < kk:
                if sets[i, p] == sets[j, q]:
                    c += 1
                    p += 1
                    q += 1
                elif sets[i, p] < sets[j, q]:
                    p += 1
                else:
                    q += 1
            out[i, t] = c / kk
    return out


def main() -> None:
    emb_dir, out = sys.argv[1:3]
    seeds = range(int(sys.argv[3]) if len(sys.argv) > 3 else 5)
    logits = np.load(sys.argv[4]).astype(np.float32) if len(sys.argv) > 4 else None
    t_start = time.perf_counter()
    emb = EmbeddingSet.load(emb_dir)
    ids = list(emb.ids)
    V = np.asarray(emb.vectors, np.float32)
    tr = np.array([i.startswith("train/") for i in ids])
    te = np.array([i.startswith("test/") for i in ids])
    classes = sorted({i.split("/")[1] for i in ids})
    y = np.searchsorted(classes, [i.split("/")[1] for i in ids])
    Xtr, ytr, yte = V[tr], y[tr], y[te]
    methods = METHODS
    if logits is not None:
        if logits.shape[0] != int(tr.sum()):
            sys.exit(f"{sys.argv[4]} holds {logits.shape[0]} rows, the embeddings {int(tr.sum())} train/ ids: "
                     "make it with benchmarks/imagenet_logits.py from the same embeddings.")
        methods = METHODS + LOGIT_METHODS
    Fp, Ft = standardize_features(Xtr, V[te])
    Xm = prepare_metric(Xtr, "cosine")
    N = Xm.shape[0]
    k = _k_cap(Xm.shape[1])  # the product's ball cap (64 for 128-d)
    I = np.empty((N, k), np.int64)
    D = np.empty((N, k), np.float32)
    for s, bi, bd in knn_blocks(Xm, k, method="exact"):
        I[s:s + len(bi)], D[s:s + len(bi)] = bi, bd
    same_class = ytr[I] == ytr[:, None]
    self_nbr = np.concatenate([np.arange(N)[:, None], I], 1)
    self_dist = np.concatenate([np.zeros((N, 1), np.float32), D], 1).astype(np.float64)
    if logits is not None:
        prob = np.exp(logits - logits.max(1, keepdims=True))
        root = np.sqrt(prob / prob.sum(1, keepdims=True)).astype(np.float32)  # unit rows
        inet_bc = np.concatenate([np.einsum("nd,nkd->nk", root[s:s + 2000], root[I[s:s + 2000]])
                                  for s in range(0, N, 2000)])  # Bhattacharyya coefficient of each edge
        inet_same = logits.argmax(1)[I] == logits.argmax(1)[:, None]

    def probe(rows):
        sc = LinearProbe(len(classes)).fit(Fp[rows], ytr[rows]).score(Ft, yte)
        return 100 * sc.accuracy, [100 * a for a in sc.per_class]

    def pruned_cover(keep, n, seed):
        """The product's greedy max coverage, on balls cut to ``keep`` (N, k) members."""
        nbr = np.where(keep, I, -1).astype(np.int32)
        nbr = np.take_along_axis(nbr, np.argsort(~keep, axis=1, kind="stable"), 1)
        return greedy_cover(np.ascontiguousarray(nbr), n, np.array([], np.int64), seed=seed)[0]

    sets20 = np.sort(I[:, :20], axis=1)
    snn = _shared_share(sets20, I, 20)
    keys = np.sort(np.repeat(np.arange(N, dtype=np.int64), k) * N + I.ravel())
    rev = I.ravel() * N + np.repeat(np.arange(N, dtype=np.int64), k)
    mutual = (keys[np.minimum(np.searchsorted(keys, rev), keys.size - 1)] == rev).reshape(N, k)
    kmeans_cache: dict = {}

    def kmeans(K, seed):
        import faiss
        if (K, seed) not in kmeans_cache:
            km = faiss.Kmeans(Xm.shape[1], K, niter=25, seed=seed + 1, verbose=False, spherical=True)
            km.train(Xm)
            kmeans_cache[(K, seed)] = km.index.search(Xm, 1)[1][:, 0]
        return kmeans_cache[(K, seed)]

    res: dict = {"command": "python benchmarks/probcover_purity_bounds.py " + " ".join(sys.argv[1:]),
                 "machine": machine_info(), "model_id": emb.model_id, "dim": int(V.shape[1]), "n_pool": N,
                 "ball_cap_k": k, "seeds": list(seeds), "budgets": {}}
    if logits is not None:
        edge_same = same_class[:, :20]
        res["edge_purity_20nn"] = {"all": float(edge_same.mean()),
                                   "same_imagenet_top1": float(edge_same[inet_same[:, :20]].mean()),
                                   "share_same_imagenet_top1": float(inet_same[:, :20].mean())}
    for b in BUDGETS:
        delta, _ = auto_delta(Xm, b, k=k, seed=0)
        within = D <= delta
        cell: dict = {"delta": float(delta), "methods": {}}
        for m in methods:
            accs, per_class, purity, counts = [], [], [], []
            for s in seeds:
                rng = np.random.default_rng(s)
                if m == "random":
                    rows = rng.choice(N, b, replace=False)
                elif m == "probcover":
                    rows = ProbCoverSelector(b, seed=s).fit(Xtr).selected_
                elif m == "oracle-balanced":
                    rows = np.concatenate([rng.choice(np.flatnonzero(ytr == c), b // 10, replace=False) for c in range(10)])
                elif m == "oracle-probcover":
                    parts = []
                    for c in range(10):
                        r_ = np.flatnonzero(ytr == c)
                        parts.append(r_[ProbCoverSelector(b // 10, seed=s).fit(Xtr[r_]).selected_])
                    rows = np.concatenate(parts)
                elif m == "oracle-pure-balls":
                    rows = pruned_cover(within & same_class, b, s)
                elif m.startswith("kmeans-balls"):
                    lab = kmeans(int(m.split(":")[1]), s)
                    rows = pruned_cover(within & (lab[I] == lab[:, None]), b, s)
                elif m.startswith("snn-balls"):
                    rows = pruned_cover(within & (snn >= float(m.split(":")[1])), b, s)
                elif m == "mutual-balls":
                    rows = pruned_cover(within & mutual, b, s)
                elif m.startswith("maxherding"):
                    w = np.exp(-(self_dist / (float(m.split(":")[1]) * delta)) ** 2)
                    rows = _facility_location(self_nbr, w, b, rng.permutation(N) / N)
                elif m == "inet-top1-balls":
                    rows = pruned_cover(within & inet_same, b, s)
                elif m.startswith("inet-bc-balls"):
                    rows = pruned_cover(within & (inet_bc >= float(m.split(":")[1])), b, s)
                acc, pc = probe(rows)
                accs.append(acc)
                per_class.append(pc)
                purity.append(float((ytr[I[rows, :20]] == ytr[rows, None]).mean()))  # 20-NN label purity of the picks
                counts.append(np.bincount(ytr[rows], minlength=10).tolist())
            entry = {"accuracy": accs, "mean": float(np.mean(accs)), "per_class_mean": np.mean(per_class, 0).round(2).tolist(),
                     "pick_purity20_mean": float(np.mean(purity)), "class_counts_seed0": counts[0]}
            if m != "random":
                d = np.array(accs) - np.array(cell["methods"]["random"]["accuracy"])
                half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
                entry.update(diff_mean=float(d.mean()), diff_ci=[float(d.mean() - half), float(d.mean() + half)])
            cell["methods"][m] = entry
            print(f"{b:5d} {m:20s} {entry['mean']:6.2f} {entry.get('diff_mean', 0):+6.2f} purity {entry['pick_purity20_mean']:.3f}", flush=True)
        res["budgets"][str(b)] = cell
    res["seconds"] = round(time.perf_counter() - t_start, 1)
    atomic_write_json(out, res)


if __name__ == "__main__":
    main()
