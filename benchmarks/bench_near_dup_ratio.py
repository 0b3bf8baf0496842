"""Near-duplicate detector settings on a planted pool: recall, flagged images and largest group
for each (threshold, ratio), fitted on the pool's cached embeddings.

First plant and embed a pool with ``labelscout bench duplicates`` (it writes
OUT/pool.planted.json and fills the embedding cache), then:

    labelscout bench duplicates /work/data/train --n-pool 50000 --n-duplicates 400 --device cpu --out .data/dups50k
    python benchmarks/bench_near_dup_ratio.py .data/dups50k --thresholds 0.04,0.05 --ratios 1,0.7,0.5,0.4,0.3 \\
        --out benchmarks/results/near-dup-ratio-50k.json

"flagged" is what ``select --dedupe`` would leave out (every group member but its
representative); 400 of them are the planted copies when all are found.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from labelscout.bench.duplicates import PlantedDuplicates, pairs_from_groups, score_pairs
from labelscout.detectors.near_duplicates import NearDuplicateDetector
from labelscout.embed.embedder import Embedder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", type=Path, help="the --out folder of `labelscout bench duplicates`")
    ap.add_argument("--thresholds", default="0.04")
    ap.add_argument("--ratios", default="1,0.5")
    ap.add_argument("--cache-dir", default="default", help="embedding cache the pool was embedded into")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    planted = PlantedDuplicates.load(args.root / "pool.planted.json")
    emb = Embedder(None, device="cpu", cache_dir=args.cache_dir, progress=False).embed(planted.root).embeddings
    ids = list(emb.ids)
    rows = []
    for t in (float(x) for x in args.thresholds.split(",")):
        for r in (float(x) for x in args.ratios.split(",")):
            det = NearDuplicateDetector(threshold=t, ratio=r).fit(emb.vectors, ids=ids)
            groups = [[ids[m] for m in g] for g in det.groups_]
            score = score_pairs(sorted(tuple(sorted(p)) for p in pairs_from_groups(groups)), planted)
            row = {"threshold": t, "ratio": r, "recall": round(score["recall"], 4), "recall_by_kind": score.get("recall_by_kind"),
                   "flagged": sum(len(g) - 1 for g in det.groups_), "groups": len(det.groups_),
                   "largest_group": max((len(g) for g in det.groups_), default=0)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {"pool": str(args.root), "images": len(ids), "planted": len(planted.pairs), "model_id": emb.model_id,
              "command": "python benchmarks/bench_near_dup_ratio.py " + " ".join(
                  [str(args.root), "--thresholds", args.thresholds, "--ratios", args.ratios]), "rows": rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print("wrote", args.out)


if __name__ == "__main__":
    main()
