#!/usr/bin/env bash
# Active learning on CIFAR-10 (issue 15): `labelscout bench active` on embeddings of all 60,000 JPEGs.
#
#   benchmarks/bench_active.sh EMBEDDINGS_DIR [OUT_DIR] [REPEATS]
#
# EMBEDDINGS_DIR: a saved embeddings folder (embeddings.npy + embeddings.json) whose ids are
# train/<class>/NNNN.jpg and test/<class>/NNNN.jpg, e.g. from
#   labelscout embed CIFAR_DIR --out DIR   (then DIR/embeddings)
# Bounded to 25 minutes wall at nice 10; the run resumes where it stopped when started again,
# and a larger REPEATS adds repeats to a finished run. Results: OUT_DIR/active.md and active.json.
set -euo pipefail
cd "$(dirname "$0")/.."
EMB="${1:?embeddings folder}"
OUT="${2:-.data/bench-active}"
REPEATS="${3:-3}"
LS=${LABELSCOUT:-labelscout}
mkdir -p "$OUT"
{ date -u; uptime; lscpu | grep -E '^(Model name|CPU\(s\))'; lscpu | grep Flags; } > "$OUT/machine.txt"
timeout 25m nice -n 10 $LS bench active "$EMB" --out "$OUT" --repeats "$REPEATS" \
  --strategies random,uncertainty,badge,fisher-match,vaal --pools imbalanced,balanced \
  --initial 500 --step 500 --rounds 3 --validation-per-class 50 --imbalance 100 --pca-dim 128 --seed 0
{ date -u; uptime; } >> "$OUT/machine.txt"
