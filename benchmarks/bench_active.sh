#!/usr/bin/env bash
# Active learning on CIFAR-10 (issue 15): `labelscout bench active` on embeddings of all 60,000 JPEGs.
#
#   benchmarks/bench_active.sh EMBEDDINGS_DIR [OUT_DIR] [REPEATS]
#
# EMBEDDINGS_DIR: a saved embeddings folder (embeddings.npy + embeddings.json) whose ids are
# train/<class>/NNNN.jpg and test/<class>/NNNN.jpg, e.g. from
#   labelscout embed CIFAR_DIR --out DIR   (then DIR/embeddings)
# Two task models: the plain logistic head on both pools (OUT/plain), and the class-balanced one
# on the imbalanced pool (OUT/class-balanced). Bounded to 25 minutes wall at nice 10; a run
# resumes where it stopped when started again, and a larger REPEATS adds repeats.
set -euo pipefail
cd "$(dirname "$0")/.."
EMB="${1:?embeddings folder}"
OUT="${2:-.data/bench-active}"
REPEATS="${3:-3}"
LS=${LABELSCOUT:-labelscout}
mkdir -p "$OUT"
{ date -u; uptime; lscpu | grep -E '^(Model name|CPU\(s\))'; lscpu | grep Flags; } > "$OUT/machine.txt"
COMMON=(--repeats "$REPEATS" --strategies random,uncertainty,badge,fisher-match,vaal --initial 500 --step 500
        --rounds 3 --validation-per-class 50 --imbalance 100 --pca-dim 128 --seed 0)
timeout 16m nice -n 10 $LS bench active "$EMB" --out "$OUT/plain" --pools imbalanced,balanced --class-weight none "${COMMON[@]}" || true
timeout 9m nice -n 10 $LS bench active "$EMB" --out "$OUT/class-balanced" --pools imbalanced --class-weight balanced "${COMMON[@]}" || true
{ date -u; uptime; } >> "$OUT/machine.txt"
