#!/usr/bin/env bash
# The full selection-vs-random protocol (Englert's thesis ch. 4) on one GPU (written for an H100).
#
#   benchmarks/probe_gpu.sh [CIFAR_DIR] [RUN_DIR]
#
# CIFAR_DIR: CIFAR-10 JPEGs as train/<class>/*.jpg + test/<class>/*.jpg (default $LABELSCOUT_CIFAR_DIR,
# else the archive ../shared/data/cifar10/cifar10-jpeg.tar.gz is unpacked into RUN_DIR/data).
# RUN_DIR (default runs/probe-gpu) receives every stage's output; rerunning the script resumes
# each stage (training, embeddings, benchmark cells) instead of starting over.
#
# Stages (times are estimates for an H100 from CPU measurements and FLOP counts; see
# docs/benchmarks.md, "Selection vs random"):
#   1. self-supervised model on the 50,000 unlabeled training images (the thesis's setup)  ~4 min
#   2. embeddings of the pool with the built-in model and with that model                 <1 min
#   3. probe benchmark: every method x 500/1,000/5,000/10,000 x REPEATS (20)               ~15 min
#   4. label-error benchmark on CIFAR-10N (worse, aggre) and the near-duplicate benchmark  ~2 min
#
# Knobs (environment): REPEATS (20), BUDGETS, SSL_METHOD (simclr; the thesis used swav),
# SSL_EPOCHS (100), SSL_WIDTH (32), EXTRA_METHODS (appended to the method list), SKIP_SSL=1.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${2:-runs/probe-gpu}"
mkdir -p "$RUN"
CIFAR="${1:-${LABELSCOUT_CIFAR_DIR:-}}"
if [ -z "$CIFAR" ]; then
  CIFAR="$RUN/data"
  if [ ! -f "$CIFAR/.complete" ]; then
    mkdir -p "$CIFAR"
    tar xzf ../shared/data/cifar10/cifar10-jpeg.tar.gz -C "$CIFAR"
    touch "$CIFAR/.complete"
  fi
fi
REPEATS="${REPEATS:-20}"
BUDGETS="${BUDGETS:-500,1000,5000,10000}"
SSL_METHOD="${SSL_METHOD:-simclr}"
SSL_EPOCHS="${SSL_EPOCHS:-100}"
SSL_WIDTH="${SSL_WIDTH:-32}"
export LABELSCOUT_CACHE_DIR="${LABELSCOUT_CACHE_DIR:-$RUN/cache}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$RUN/gpu.txt" || true
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a "$RUN/timeline.txt"; }

# 1. the thesis's embedding: a self-supervised model trained on the unlabeled pool (labels unused: --monitor none)
if [ "${SKIP_SSL:-0}" != 1 ]; then
  stamp "train $SSL_METHOD"
  labelscout --quiet train "$CIFAR/train" --out "$RUN/ssl-model" --method "$SSL_METHOD" --epochs "$SSL_EPOCHS" \
    --batch-size 512 --width "$SSL_WIDTH" --blocks 1,1,1,1 --embedding-dim 128 --precision bf16 --monitor none --seed 0
fi

# 2. embeddings of the pool (cached by content; a rerun embeds nothing)
stamp "embed"
labelscout --quiet embed "$CIFAR/train" --out "$RUN/emb-builtin" --device cuda
EMB=(--embedding "default=$RUN/emb-builtin/embeddings")
if [ -d "$RUN/ssl-model" ]; then
  labelscout --quiet embed "$CIFAR/train" --out "$RUN/emb-ssl" --model "$RUN/ssl-model" --device cuda
  EMB+=(--embedding "ssl=$RUN/emb-ssl/embeddings")
fi

# 3. methods: the baseline, farthest point in each space, the thesis's SSL+UMAP+FPS, TypiClust
#    (low budgets), divide-and-conquer and adjacency (large budgets only); each extra method row
#    costs ~1.5 min of GPU
METHODS="random,coreset@raw,coreset@norm,coreset@umap,typiclust,divide-and-conquer@umap,adjacency@umap:min_budget=5000"
if [ -d "$RUN/emb-ssl/embeddings" ]; then
  METHODS="$METHODS,coreset@raw/ssl,coreset@umap/ssl"
fi
METHODS="$METHODS${EXTRA_METHODS:+,$EXTRA_METHODS}"
stamp "probe benchmark: $METHODS"
labelscout bench probe --data "$CIFAR" --budgets "$BUDGETS" --methods "$METHODS" --repeats "$REPEATS" \
  "${EMB[@]}" --recipe gpu --device cuda --out "$RUN/bench"

# 4. detectors with ground truth
stamp "label errors"
labelscout --quiet bench label-errors "$RUN/emb-builtin/embeddings" \
  --labels ../shared/data/cifar10/cifar10n_train_labels.csv --given worse,aggre --out "$RUN/label-errors"
if [ -d "$RUN/emb-ssl" ]; then
  labelscout --quiet bench label-errors "$RUN/emb-ssl/embeddings" \
    --labels ../shared/data/cifar10/cifar10n_train_labels.csv --given worse,aggre --out "$RUN/label-errors-ssl"
fi
stamp "near duplicates"
DETECTOR=$(python -c "from labelscout import detectors as d; r=getattr(d,'DETECTORS',{}); print(next((n for n in r if 'dup' in n), 'knn-threshold'))" 2>/dev/null || echo knn-threshold)
labelscout --quiet bench duplicates "$CIFAR/test" --detector "$DETECTOR" --n-pool 5000 --n-duplicates 400 \
  --device cuda --out "$RUN/duplicates"
stamp "done"
cat "$RUN/bench/summary.md"
