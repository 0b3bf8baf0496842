"""The fixed probe: one classifier and one training recipe, never changed between methods.

A selection method is judged by how well this probe learns from the subset it picked
(Englert's thesis, ch. 4). The probe has to be cheap enough to train dozens of times per
cell, so it follows the fast small-CIFAR recipes (airbench / hlb-CIFAR10, Keller Jordan
2024): a frozen 2x2 patch-whitening convolution initialised from the training subset's
own images, three conv-pool-BN-GELU groups, label smoothing, a one-cycle learning rate,
SGD with Nesterov momentum, and flip test-time augmentation.

Speed comes from how data moves, not from the net alone: the subset is padded once and
kept on the device as a uint8 tensor; each batch is cropped and flipped there with one
gather (which also yields the channels-last layout the convolutions prefer); the forward
and backward passes run under bf16 autocast, on the CPU too (AVX512-bf16 machines run
them several times faster than float32).

**Training length.** The thesis trained to convergence. Small subsets need many passes
to converge and large ones few, so a recipe fixes the number of images seen, not the
epochs: ``epochs * n`` images, but at least ``min_images`` and at most ``max_images``.
Tiny budgets therefore get many epochs (500 images with ``min_images=100_000`` train for
200 epochs), large budgets get ``epochs`` passes, and the cost of a run is bounded.
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .._progress import progress_bar
from .._validation import Interval, validate_params
from ..embed.embedder import resolve_device
from ..errors import ConfigError, InputError

__all__ = ["ProbeRecipe", "RECIPES", "get_recipe", "ProbeNet", "Probe", "ProbeScore", "augment_batch", "crop_flip", "images_seen"]

#: CIFAR-10 channel statistics; fixed constants so the recipe never looks at the test set
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class ProbeRecipe:
    """Everything that defines the probe. Two results are comparable only under one recipe."""

    name: str = "custom"
    widths: tuple[int, int, int] = (64, 256, 256)
    batch_size: int = 512
    epochs: float = 40.0
    min_images: int = 200_000
    max_images: int = 600_000
    lr: float = 0.2  # peak learning rate (mean loss over the batch)
    momentum: float = 0.9
    weight_decay: float = 5e-4  # on conv / linear weights only
    label_smoothing: float = 0.2
    warmup: float = 0.2  # fraction of steps to reach the peak rate
    pad: int = 2  # random translation of up to `pad` pixels (reflect padding), as in airbench
    flip: bool = True
    tta: bool = True  # average the logits of each test image and its mirror image
    whiten: bool = True
    mean: tuple[float, float, float] = CIFAR_MEAN
    std: tuple[float, float, float] = CIFAR_STD

    _constraints = {
        "batch_size": [Interval(numbers.Integral, 1, None)],
        "epochs": [Interval(numbers.Real, 0, None, closed="neither")],
        "min_images": [Interval(numbers.Integral, 1, None)],
        "max_images": [Interval(numbers.Integral, 1, None)],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None)],
        "label_smoothing": [Interval(numbers.Real, 0, 1, closed="left")],
        "warmup": [Interval(numbers.Real, 0, 1, closed="neither")],
        "pad": [Interval(numbers.Integral, 0, 16)],
    }

    def validate(self) -> "ProbeRecipe":
        validate_params(f"ProbeRecipe {self.name!r}", asdict(self), self._constraints)
        if len(self.widths) != 3 or any((not isinstance(w, int)) or w < 1 for w in self.widths):
            raise ConfigError(f"The 'widths' parameter of ProbeRecipe {self.name!r} must be three ints >= 1. Got {self.widths!r} instead.")
        if self.max_images < self.min_images:
            raise ConfigError(f"ProbeRecipe {self.name!r}: max_images ({self.max_images}) must be >= min_images ({self.min_images}).")
        return self

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["widths"], d["mean"], d["std"] = list(self.widths), list(self.mean), list(self.std)
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ProbeRecipe":
        d = dict(data)
        for k in ("widths", "mean", "std"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


#: Named recipes. "gpu" is the protocol's probe; "cpu" is a narrower net with a shorter
#: schedule that fits a reduced benchmark on a CPU; "smoke" only checks the plumbing.
RECIPES: dict[str, ProbeRecipe] = {
    # the protocol's probe: airbench's widths; 500 / 1,000 images train 200 / 100 epochs, 5,000 and
    # 10,000 train 30. Peak rate scaled from the CPU recipe's 0.2 at batch 128 by sqrt(512 / 128).
    "gpu": ProbeRecipe("gpu", widths=(64, 256, 256), batch_size=512, epochs=30.0, min_images=100_000, max_images=300_000, lr=0.4),
    # measured on 2 shared EPYC cores: 1,000 random CIFAR JPEGs, 20 epochs -> 51% (2,000 test images), ~2 min
    "cpu": ProbeRecipe("cpu", widths=(16, 32, 64), batch_size=128, epochs=20.0, min_images=20_000, max_images=40_000, tta=False),
    "smoke": ProbeRecipe("smoke", widths=(8, 16, 16), batch_size=64, epochs=2.0, min_images=256, max_images=1024, tta=False),
}


def get_recipe(recipe: str | ProbeRecipe, **overrides: Any) -> ProbeRecipe:
    """A named recipe (``gpu``, ``cpu``, ``smoke``; ``linear``: the logistic probe on the
    frozen embedding, :mod:`.linear`) or a given one, with ``overrides`` applied."""
    from .linear import LINEAR_RECIPES, LinearRecipe

    if isinstance(recipe, LinearRecipe) or (isinstance(recipe, str) and recipe in LINEAR_RECIPES):
        base = LINEAR_RECIPES[recipe] if isinstance(recipe, str) else recipe
        return base.with_overrides(**overrides) if overrides else base.validate()
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            names = sorted(set(RECIPES) | set(LINEAR_RECIPES))
            raise ConfigError(f"The 'recipe' parameter must be one of {{{', '.join(repr(r) for r in names)}}}. Got {recipe!r} instead.")
        recipe = RECIPES[recipe]
    if overrides:
        unknown = sorted(set(overrides) - set(ProbeRecipe.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"Unknown probe recipe field(s) {unknown}.", hint=f"Fields: {', '.join(ProbeRecipe.__dataclass_fields__)}.")
        recipe = replace(recipe, **overrides)
    return recipe.validate()


def images_seen(recipe: ProbeRecipe, n: int) -> tuple[int, int, int]:
    """(batch size, optimizer steps, images seen) for a training set of ``n`` images."""
    batch = min(recipe.batch_size, n)
    target = min(max(recipe.epochs * n, recipe.min_images), recipe.max_images)
    steps = max(1, math.ceil(target / batch))
    return batch, steps, steps * batch


# -- the network -------------------------------------------------------------------------

class _ConvGroup(nn.Module):
    """conv3x3 -> max-pool 2 -> BN -> GELU -> conv3x3 -> BN -> GELU (airbench's block)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))


class ProbeNet(nn.Module):
    """Small fast CIFAR classifier: frozen patch whitening, three conv groups, linear head.

    (B, 3, 32, 32) -> whiten 2x2 (B, 24, 31, 31) -> groups (B, w3, 3, 3) -> max-pool
    (B, w3) -> logits (B, n_classes).
    """

    def __init__(self, n_classes: int, widths: tuple[int, int, int] = (64, 256, 256)):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2, bias=True)
        self.whiten.weight.requires_grad_(False)
        self.groups = nn.Sequential(_ConvGroup(24, widths[0]), _ConvGroup(widths[0], widths[1]), _ConvGroup(widths[1], widths[2]))
        self.head = nn.Linear(widths[2], n_classes, bias=False)
        # airbench scales the logits down: with a fresh head the softmax starts near uniform
        self.scale = 1.0 / 9.0

    @torch.no_grad()
    def init_whitening(self, x: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the frozen 2x2 filters to whiten the patches of ``x`` (B, 3, H, W) float.

        Eigenvectors of the patch covariance scaled by 1/sqrt(eigenvalue), and their
        negatives (so the following GELU sees both signs): 12 + 12 = 24 filters."""
        patches = x.float().unfold(2, 2, 1).unfold(3, 2, 1)  # (B, 3, H-1, W-1, 2, 2)
        patches = patches.transpose(1, 3).reshape(-1, 12)  # (B*(H-1)*(W-1), 12)
        cov = patches.T @ patches / patches.shape[0]
        evals, evecs = torch.linalg.eigh(cov.double())
        evals, evecs = evals.flip(0).float(), evecs.T.flip(0).float()  # largest first; rows are eigenvectors
        filters = (evecs / torch.sqrt(evals.clamp_min(0) + eps)[:, None]).reshape(12, 3, 2, 2)  # patch layout (c, kh, kw)
        self.whiten.weight.copy_(torch.cat([filters, -filters]).to(self.whiten.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.whiten(x))
        x = self.groups(x)
        x = torch.amax(x, dim=(2, 3))  # global max-pool: (B, w3, h, w) -> (B, w3)
        return self.head(x) * self.scale


# -- data on the device ------------------------------------------------------------------

def _pad_reflect(images: np.ndarray, pad: int) -> np.ndarray:
    # (N, H, W, 3) uint8 -> (N, H+2p, W+2p, 3); done once per training set, in numpy
    if pad == 0:
        return np.ascontiguousarray(images)
    return np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


def crop_flip(padded: torch.Tensor, idx: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, mirrored: torch.Tensor,
              size: int) -> torch.Tensor:
    """Crop ``padded[idx[b]]`` at offset (dy[b], dx[b]) to ``size`` and mirror where ``mirrored[b]``.

    ``padded``: (N, size+2p, size+2p, 3) uint8. Returns (B, 3, size, size) uint8 in
    channels-last memory layout. One advanced-indexing gather does crop and flip.
    """
    ar = torch.arange(size, device=padded.device)
    rows = dy[:, None] + ar  # (B, size)
    cols = torch.where(mirrored[:, None], dx[:, None] + (size - 1) - ar, dx[:, None] + ar)  # (B, size)
    out = padded[idx[:, None, None], rows[:, :, None], cols[:, None, :]]  # (B, size, size, 3)
    return out.permute(0, 3, 1, 2)  # (B, 3, size, size), strides already channels-last


def augment_batch(padded: torch.Tensor, idx: torch.Tensor, size: int, pad: int, flip: bool,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Random translation by up to ``pad`` pixels and random horizontal flip, on device."""
    b, dev = idx.shape[0], padded.device
    dy = torch.randint(0, 2 * pad + 1, (b,), device=dev, generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), device=dev, generator=generator)
    mirrored = (torch.rand(b, device=dev, generator=generator) < 0.5) if flip else torch.zeros(b, dtype=torch.bool, device=dev)
    return crop_flip(padded, idx, dy, dx, mirrored, size)


def _normalize(x_u8: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x_u8.float().div_(255.0) - mean) / std


def _autocast(device: torch.device):
    # bf16 on CUDA and on CPUs (oneDNN); other devices run in float32
    if device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    import contextlib

    return contextlib.nullcontext()


@dataclass
class ProbeScore:
    """Test accuracy of a trained probe, overall and per class."""

    accuracy: float
    per_class: list[float]
    n_test: int
    predictions: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.int64))


class Probe:
    """Train the fixed probe on a labeled subset and score it on the test set.

    Parameters
    ----------
    n_classes : number of classes (labels are ints in [0, n_classes)).
    recipe : a name in :data:`RECIPES` or a :class:`ProbeRecipe`.
    device : "auto", "cpu", "cuda", ...
    seed : weight init, batch order and augmentation; keep it equal across methods in one
        repeat so differences between methods are paired.

    Attributes
    ----------
    model_ : the trained :class:`ProbeNet`.
    train_stats_ : steps, epochs, images seen, seconds, final training loss.
    """

    _parameter_constraints = {"n_classes": [Interval(numbers.Integral, 2, None)], "seed": [Interval(numbers.Integral, 0, None)]}

    def __init__(self, n_classes: int, *, recipe: str | ProbeRecipe = "gpu", device: str = "auto", seed: int = 0,
                 progress: bool | None = False):
        self.n_classes = n_classes
        self.recipe = recipe
        self.device = device
        self.seed = seed
        self.progress = progress

    def _setup(self) -> tuple[ProbeRecipe, torch.device]:
        validate_params("Probe", {"n_classes": self.n_classes, "seed": self.seed}, self._parameter_constraints)
        return get_recipe(self.recipe), resolve_device(self.device)

    def fit(self, images: np.ndarray, labels: np.ndarray) -> "Probe":
        """Train on ``images`` (n, H, W, 3) uint8 with int ``labels`` (n,)."""
        recipe, dev = self._setup()
        images = np.asarray(images)
        labels = np.asarray(labels, dtype=np.int64)
        if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8 or images.shape[1] != images.shape[2]:
            raise InputError(f"Probe images must be square uint8 RGB of shape (n, H, W, 3); got {images.shape} {images.dtype}.")
        if labels.shape != (images.shape[0],):
            raise InputError(f"Probe labels must have shape ({images.shape[0]},); got {labels.shape}.")
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise InputError(f"Probe labels must lie in [0, {self.n_classes}); got [{labels.min()}, {labels.max()}].")
        n, size = images.shape[0], images.shape[1]
        if n < 2:
            raise InputError(f"The probe needs at least 2 training images; got {n}.")
        t0 = time.perf_counter()
        torch.manual_seed(self.seed)
        gen = torch.Generator(device=dev).manual_seed(self.seed)
        mean = torch.tensor(recipe.mean, device=dev).view(1, 3, 1, 1)
        std = torch.tensor(recipe.std, device=dev).view(1, 3, 1, 1)
        padded = torch.from_numpy(_pad_reflect(images, recipe.pad)).to(dev)
        y = torch.from_numpy(labels).to(dev)

        model = ProbeNet(self.n_classes, recipe.widths).to(dev)
        if recipe.whiten:  # from the un-augmented training images (at most 5000: plenty for 12x12 statistics)
            plain = torch.from_numpy(images[: min(n, 5000)]).to(dev).permute(0, 3, 1, 2)
            model.init_whitening(_normalize(plain, mean, std))
            del plain
        model = model.to(memory_format=torch.channels_last)
        decay, no_decay = [], []
        for name, prm in model.named_parameters():
            if prm.requires_grad:
                (decay if prm.ndim > 1 else no_decay).append(prm)
        opt = torch.optim.SGD([{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                              lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.momentum > 0)
        batch, steps, seen = images_seen(recipe, n)
        warm = max(1, int(round(recipe.warmup * steps)))
        # one-cycle: linear warm-up from 10% to the peak, then linear decay to 0
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.1 + 0.9 * s / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm)))
        model.train()
        order = torch.empty(0, dtype=torch.long, device=dev)
        loss_sum = torch.zeros((), device=dev)
        with progress_bar("training probe", steps, self.progress, unit="steps") as bar:
            for step in range(steps):
                if order.numel() < batch:  # a fresh permutation each epoch; leftovers go first
                    order = torch.cat([order, torch.randperm(n, device=dev, generator=gen)])
                idx, order = order[:batch], order[batch:]
                xb = _normalize(augment_batch(padded, idx, size, recipe.pad, recipe.flip, gen), mean, std)
                with _autocast(dev):
                    logits = model(xb)
                loss = F.cross_entropy(logits.float(), y[idx], label_smoothing=recipe.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                if step >= steps - 10:
                    loss_sum += loss.detach()
                bar.advance()
        self.model_ = model.eval()
        self._mean, self._std, self._dev, self._recipe = mean, std, dev, recipe
        self.train_stats_ = {
            "n_train": n, "batch_size": batch, "steps": steps, "images_seen": seen, "epochs": round(seen / n, 2),
            "seconds": round(time.perf_counter() - t0, 3), "final_loss": round(float(loss_sum) / min(10, steps), 4),
            "device": str(dev),
        }
        return self

    @torch.no_grad()
    def decision_function(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Logits (n, n_classes) for ``images`` (n, H, W, 3) uint8 (mirror-averaged with TTA)."""
        if not hasattr(self, "model_"):
            raise InputError("This Probe is not fitted yet; call fit(images, labels) first.")
        dev, out = self._dev, []
        for s in range(0, images.shape[0], batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(images[s : s + batch_size])).to(dev)
            xb = _normalize(xb.permute(0, 3, 1, 2), self._mean, self._std).contiguous(memory_format=torch.channels_last)
            with _autocast(dev):
                logits = self.model_(xb).float()
                if self._recipe.tta:
                    logits = 0.5 * (logits + self.model_(xb.flip(3)).float())
            out.append(logits.cpu())
        return torch.cat(out).numpy() if out else np.empty((0, self.n_classes), np.float32)

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.decision_function(images).argmax(axis=1)

    def score(self, images: np.ndarray, labels: np.ndarray) -> ProbeScore:
        """Accuracy on (``images``, ``labels``), overall and per class."""
        labels = np.asarray(labels, dtype=np.int64)
        pred = self.predict(images)
        correct = pred == labels
        per_class = [float(correct[labels == c].mean()) if np.any(labels == c) else float("nan") for c in range(self.n_classes)]
        return ProbeScore(float(correct.mean()), per_class, int(labels.size), pred)
