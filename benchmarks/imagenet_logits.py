"""The default model's own ImageNet head on a folder of images: (N, 1000) float16 logits.

A label-free semantic signal beside the embedding (the 1,000 ImageNet classes the
pretrained EfficientNet-Lite2 was trained on), for `probcover_purity_bounds.py`, which
asks whether it makes ProbCover's balls purer. The images go through the model exactly
as `labelscout embed` sends thumbnails (bicubic upscale to the small input size, the
TF-Lite normalisation); the ids are those of the saved embeddings, in their order.

    python benchmarks/imagenet_logits.py DATA_ROOT EMB_DIR OUT.npy [PREFIX]

PREFIX (default "train/") keeps the ids that start with it. Cost on 2 CPU cores: about
14 minutes for the 50,000 CIFAR-10 training JPEGs (torch eager, batch 200).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from labelscout.embed.store import EmbeddingSet
from labelscout.models.package_models import MEAN, SMALL_INPUT, STD, build_lite_embedding
from labelscout.runs.atomic import atomic_save_npy


def main() -> None:
    root, emb_dir, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    prefix = sys.argv[4] if len(sys.argv) > 4 else "train/"
    ids = [i for i in EmbeddingSet.load(emb_dir).ids if i.startswith(prefix)]
    model, _, _, _ = build_lite_embedding("efficientnet-lite2")
    net = model.backbone.eval()
    mean = torch.tensor(MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD).view(1, 3, 1, 1) * 255
    logits = np.empty((len(ids), 1000), np.float16)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for s in range(0, len(ids), 200):
            batch = [np.asarray(Image.open(root / i).convert("RGB").resize((SMALL_INPUT, SMALL_INPUT), Image.BICUBIC),
                                np.float32) for i in ids[s:s + 200]]
            x = (torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2) - mean) / std  # (B, 3, H, W)
            logits[s:s + len(batch)] = net(x.contiguous(memory_format=torch.channels_last)).numpy()
            print(f"{s + len(batch)}/{len(ids)} images, {time.perf_counter() - t0:.0f} s", flush=True)
    atomic_save_npy(out, logits)
    out.with_suffix(".ids.txt").write_text("\n".join(ids) + "\n")


if __name__ == "__main__":
    main()
