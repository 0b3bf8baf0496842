#!/usr/bin/env bash
# End to end on the 50,000 CIFAR-10 training JPEGs: `labelscout select -n 1000` with the built-in
# model, cold (nothing cached) and warm (embeddings from the cache), and with --dedupe.
#
#   benchmarks/bench_select_cifar.sh [CIFAR_TRAIN_DIR] [OUT_DIR]
#
# Prints the stage timings that each run writes into its run.json.
set -euo pipefail
cd "$(dirname "$0")/.."
TRAIN="${1:-${LABELSCOUT_CIFAR_DIR:-.data/cifar10}/train}"
OUT="${2:-.data/bench-select-cifar}"
if [ ! -d "$TRAIN" ]; then
  mkdir -p .data/cifar10 && tar xzf ../shared/data/cifar10/cifar10-jpeg.tar.gz -C .data/cifar10
  TRAIN=.data/cifar10/train
fi
rm -rf "$OUT" && mkdir -p "$OUT"
export LABELSCOUT_CACHE_DIR="$OUT/cache"
LS=${LABELSCOUT:-labelscout}
uptime | tee "$OUT/load.txt"
$LS --quiet select "$TRAIN" -n 1000 --out "$OUT/cold" --no-report --device cpu
$LS --quiet select "$TRAIN" -n 1000 --out "$OUT/warm" --no-report --device cpu
$LS --quiet select "$TRAIN" -n 1000 --out "$OUT/dedupe" --no-report --device cpu --dedupe
uptime | tee -a "$OUT/load.txt"
python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
for run in ("cold", "warm", "dedupe"):
    r = json.loads((Path(sys.argv[1]) / run / "run.json").read_text())
    t = r["timings_s"]
    print(run, {k: round(v, 2) for k, v in t.items()}, {k: r["counts"].get(k) for k in ("pool", "selected", "embedded_new", "from_cache", "duplicates_dropped")})
PY
