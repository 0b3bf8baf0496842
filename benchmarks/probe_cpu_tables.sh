#!/usr/bin/env bash
# "Selection vs random" on the CPU: the linear probe on a frozen embedding, on CIFAR-10 and on
# the repeated-copies pool. Every stage resumes (rerun the same command); stages run cheapest
# first, so a run cut short still holds complete, paired small-budget rows.
#   benchmarks/probe_cpu_tables.sh EMB [CIFAR_DIR] [WORK] [TAG] [MODEL]
# EMB: saved embeddings of the whole CIFAR-10 folder (ids train/... and test/...). MODEL: the
# model that made EMB (embeds the repeated pool's copies; default: the default model).
set -euo pipefail
ARGS="$*"  # the script's own arguments, for the results' command field (inside a function $* is the function's)
EMB=${1:?saved embeddings folder of CIFAR_DIR (train/ and test/)}
CIFAR=${2:-/work/exchange/cifar10}
WORK=${3:-.data/probe-cpu}
TAG=${4:-default}
MODEL=${5:-}
STAGES=${STAGES:-cifar repeated}
LS="nice -n 10 python -m labelscout"
CHEAP=random,probcover,maxherding,auto,divide-and-conquer,typiclust:max_budget=1000,coreset@norm
ALL=$CHEAP,coreset@umap
PROBE="--recipe linear --threads 1 --device cpu"
mkdir -p "$WORK" benchmarks/results
lscpu | grep Flags > "$WORK/cpu-flags.txt"
[ -f "benchmarks/results/probe-linear-all-data-$TAG.json" ] || \
  python benchmarks/probe_all_data.py "$EMB" "benchmarks/results/probe-linear-all-data-$TAG.json"

table() {  # DATA EMB OUT RESULT
  $LS bench probe --data "$1" --methods "$CHEAP" --budgets 500,1000 --repeats 10 $PROBE --embedding default="$2" --out "$3"
  $LS bench probe --data "$1" --methods "$CHEAP" --budgets 500,1000,5000,10000 --repeats 10,10,5,5 $PROBE --embedding default="$2" --out "$3"
  $LS bench probe --data "$1" --methods "$ALL" --budgets 500,1000,5000,10000 --repeats 10,10,5,5 $PROBE --embedding default="$2" --out "$3"
}
results() {
  python benchmarks/probe_results_json.py "$1" "$2" --command "${STAGES:+STAGES=\"$STAGES\" }benchmarks/probe_cpu_tables.sh $ARGS" --cpu-flags "$WORK/cpu-flags.txt" --markdown "$1/summary-now.md"
}

for stage in $STAGES; do
  case $stage in
    cifar)  # the 50,000 training images as the pool, the 10,000 test images as the test set
      table "$CIFAR" "$EMB" "$WORK/cifar" || true
      results "$WORK/cifar" "benchmarks/results/probe-linear-cifar10-$TAG.json" ;;
    repeated)  # 1,000 training images x 5-30 near-identical copies; the same test set
      [ -f "$WORK/repeated/repeated.json" ] || $LS bench repeated-pool "$CIFAR" --out "$WORK/repeated" --n-images 1000
      [ -f "$WORK/repeated-emb/embeddings/embeddings.json" ] || \
        $LS embed "$WORK/repeated/train" --out "$WORK/repeated-emb" --device cpu ${MODEL:+--model "$MODEL"}
      [ -d "$WORK/repeated-joined" ] || $LS bench join-embeddings "$WORK/repeated-emb/embeddings" "$EMB" --out "$WORK/repeated-joined"
      table "$WORK/repeated" "$WORK/repeated-joined" "$WORK/repeated-probe" || true
      results "$WORK/repeated-probe" "benchmarks/results/probe-linear-repeated-$TAG.json" ;;
  esac
done
