#!/usr/bin/env bash
# Coreset (farthest point) on a CUDA GPU: the H100 targets. NOT RUN YET: the
# development machine has no GPU. Run from the repository root on the GPU machine:
#   bash benchmarks/bench_coreset_gpu.sh
# Targets: 10M x 64, k = 100k in < 30 s; 1M x 64, k = 10k below the naive bandwidth floor
# (measured naive torch: 2.6 s fp32, 2.0 s fp16). The torch kernel is one blockwise
# matrix-vector pass per pick (no pruning yet), so expect about that floor, not below it.
set -euo pipefail
python benchmarks/bench_coreset.py --device cuda --n 1000000 --d 64 --k 10000 \
  --methods torch,torch-fp16,numba --data mixture,uniform --out benchmarks/results/coreset-gpu-1m.json
python benchmarks/bench_coreset.py --device cuda --n 10000000 --d 64 --k 100000 \
  --methods torch,torch-fp16 --data mixture,uniform --out benchmarks/results/coreset-gpu-10m.json
