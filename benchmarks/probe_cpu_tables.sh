#!/usr/bin/env bash
# "Selection vs random" on the CPU: the linear probe on the frozen default embedding, on
# CIFAR-10 and on the repeated-copies pool. Every stage resumes (rerun the same command).
#   benchmarks/probe_cpu_tables.sh EMB [CIFAR_DIR] [WORK] [TAG]
# EMB: saved embeddings of the whole CIFAR-10 folder (ids train/... and test/...) made by the
# default model. The repeated pool's copies are embedded here with the same default model.
set -euo pipefail
EMB=${1:?saved embeddings folder of CIFAR_DIR (train/ and test/)}
CIFAR=${2:-/work/exchange/cifar10}
WORK=${3:-.data/probe-cpu}
TAG=${4:-default}
LS="nice -n 10 python -m labelscout"
METHODS=random,coreset@norm,coreset@umap,typiclust:max_budget=1000,probcover,divide-and-conquer,auto
COMMON="--budgets 500,1000,5000,10000 --repeats 10,10,5,5 --recipe linear --threads 1 --device cpu"
mkdir -p "$WORK" benchmarks/results
lscpu | grep Flags > "$WORK/cpu-flags.txt"

# 1. CIFAR-10: the 50,000 training images as the pool, the 10,000 test images as the test set
$LS bench probe --data "$CIFAR" --methods "$METHODS" $COMMON --embedding default="$EMB" --out "$WORK/cifar"
python benchmarks/probe_results_json.py "$WORK/cifar" "benchmarks/results/probe-linear-cifar10-$TAG.json" \
  --command "benchmarks/probe_cpu_tables.sh $*" --cpu-flags "$WORK/cpu-flags.txt"

# 2. the repeated-copies pool (1,000 training images x 5-30 near-identical copies), same test set
[ -f "$WORK/repeated/repeated.json" ] || $LS bench repeated-pool "$CIFAR" --out "$WORK/repeated" --n-images 1000
[ -f "$WORK/repeated-emb/embeddings/embeddings.json" ] || $LS embed "$WORK/repeated/train" --out "$WORK/repeated-emb" --device cpu
[ -d "$WORK/repeated-joined" ] || $LS bench join-embeddings "$WORK/repeated-emb/embeddings" "$EMB" --out "$WORK/repeated-joined"
$LS bench probe --data "$WORK/repeated" --methods "$METHODS" $COMMON --embedding default="$WORK/repeated-joined" --out "$WORK/repeated-probe"
python benchmarks/probe_results_json.py "$WORK/repeated-probe" "benchmarks/results/probe-linear-repeated-$TAG.json" \
  --command "benchmarks/probe_cpu_tables.sh $*" --cpu-flags "$WORK/cpu-flags.txt"
