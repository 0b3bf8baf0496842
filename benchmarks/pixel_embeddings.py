"""Label-free pixel embeddings of an image folder, for benchmarks run before a trained model exists.

Each image is box-downsampled to 16x16 (768 numbers), and the vectors are centred and
scaled per dimension over the pool. No model and no labels: the weakest sensible
embedding, a floor that a self-supervised model must beat. Saved as a labelscout
embeddings folder (``embeddings.npy`` + ``embeddings.json``), usable anywhere saved
embeddings are (``labelscout bench probe --embedding pixels=DIR``).

    python benchmarks/pixel_embeddings.py /work/data/train .data/emb-pixels
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from labelscout.bench.data import load_split
from labelscout.embed.cache import default_cache_root
from labelscout.embed.store import EmbeddingSet


def pixel_embeddings(root: Path, side: int = 16) -> EmbeddingSet:
    split = load_split(root, cache_dir=default_cache_root(), progress=False)
    n, s = len(split), split.images.shape[1]
    f = s // side
    x = split.images.reshape(n, side, f, side, f, 3).astype(np.float32).mean(axis=(2, 4))  # (n, side, side, 3) box filter
    x = x.reshape(n, -1)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    return EmbeddingSet(x.astype(np.float32), split.ids, model_id=f"pixels-{side}x{side}",
                        fingerprint={"model_id": f"pixels-{side}x{side}", "input_size": s, "standardized_over": str(root)})


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--side", type=int, default=16)
    a = ap.parse_args()
    emb = pixel_embeddings(a.root, a.side)
    emb.save(a.out)
    print(f"{len(emb)} x {emb.dim} pixel embeddings -> {a.out}")
