#!/usr/bin/env bash
# Reproduce the built-in model ls-cifar-resnet-simclr-128 and measure it.
#
#   benchmarks/train_builtin_model.sh [CIFAR_DIR] [RUN_DIR]
#
# CIFAR_DIR holds the CIFAR-10 JPEGs as train/<class>/*.jpg and test/<class>/*.jpg
# (default $LABELSCOUT_CIFAR_DIR or /work/data). Training uses the train images only,
# without their labels; the test images (with labels) feed the kNN monitor, whose bank
# is the train images with their class-folder labels. RUN_DIR (default
# runs/ls-cifar-resnet-simclr-128) receives the model, train.json and checkpoints;
# rerunning the script resumes an interrupted training.
set -euo pipefail
cd "$(dirname "$0")/.."
CIFAR="${1:-${LABELSCOUT_CIFAR_DIR:-/work/data}}"
RUN="${2:-runs/ls-cifar-resnet-simclr-128}"
NAME=ls-cifar-resnet-simclr-128
DEST=src/labelscout/models/weights/$NAME

labelscout train "$CIFAR/train" --out "$RUN" --name "$NAME" \
  --method simclr --temperature 0.2 --epochs 30 --batch-size 256 --lr 0.12 --warmup-epochs 2 \
  --width 16 --blocks 1,1,1,1 --embedding-dim 128 --input-size 32 --seed 0 \
  --monitor "$CIFAR/test" --knn-every 5 --weights-dtype float16 ${THREADS:+--threads "$THREADS"}

mkdir -p "$DEST"
cp "$RUN/model.json" "$RUN/model.safetensors" "$DEST/"
cp "$RUN/train.json" benchmarks/results/train_builtin_model.json
python benchmarks/knn_builtin.py "$DEST" --data "$CIFAR" --out benchmarks/results/knn_builtin.json
