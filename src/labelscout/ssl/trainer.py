"""The self-supervised training loop, from a folder of images to a model folder.

``SSLTrainer(...).fit(data, out_dir)`` (or :func:`train_model`) does, in order:

1. decode the images once into memory at the training resolution (:mod:`.data`), hold out
   a labelled split for the kNN monitor when class folders exist;
2. build the method (:mod:`.simclr`, :mod:`.swav`, :mod:`.autoencoder`) around a
   CifarResNet, or around a pretrained network (``init``, see :mod:`.init`), and train it: views made on the training device (:mod:`.views`), bf16
   autocast on CPUs that support it and AMP on CUDA, SGD / LARS / AdamW with warm-up and
   cosine decay, one atomic checkpoint per finished epoch;
3. after each epoch, optionally measure weighted-kNN accuracy of the backbone features
   on the held-out split;
4. write the embedding network with :func:`labelscout.models.model_dir.save_model_dir`
   into ``out_dir`` (reduced by a PCA folded into its last layer when the features are
   wider than ``embedding_dim``; an EfficientNet-Lite ``init`` gets its square-root /
   PCA-whitening reduction refitted instead), and ``train.json`` with config, versions, seed, device,
   timings and the per-epoch loss and kNN accuracy.

Rerunning with the same ``out_dir`` resumes after the last finished epoch. Every random
choice of an epoch comes from generators seeded by (seed, epoch), so a resumed run ends
with weights identical to an uninterrupted one (on CPU; CUDA kernels may not be
bit-deterministic).
"""
from __future__ import annotations

import contextlib

import copy
import hashlib
import logging
import math
import numbers
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from .. import __version__
from .._progress import progress_bar
from .._validation import Instance, Interval, Options, validate_params
from .._device import resolve_device
from .knn_probe import bounded_k, knn_accuracy
from ..errors import ConfigError, InputError
from ..reporting import Reporter
from ..models.architectures import build_architecture
from ..models.model_dir import ModelSpec, load_model_dir, save_model_dir
from ..runs.atomic import atomic_path, atomic_write_json
from .autoencoder import AutoEncoder
from .data import ImageData, channel_stats, load_image_folder
from .init import FINETUNE_DEFAULTS, InitModel, load_init_model
from .optim import OPTIMIZERS, build_optimizer, lr_at
from .samplers import InstancePairSampler, PairSampler
from .simclr import SimCLR
from .swav import SwAV
from .views import ViewConfig, normalize, to_float

__all__ = ["SSLTrainer", "train_model", "METHODS", "TRAIN_FILE", "CHECKPOINT_FILE", "resolve_device"]

log = logging.getLogger(__name__)

METHODS: dict[str, type] = {"simclr": SimCLR, "swav": SwAV, "autoencoder": AutoEncoder}
TRAIN_FILE = "train.json"
CHECKPOINT_FILE = "checkpoints/last.pt"
_CHECKPOINT_FORMAT = "labelscout-ssl-checkpoint/1"

# Parameters that determine the trained weights: a checkpoint written under different
# values cannot be continued into the requested run.
_RESULT_PARAMS = (
    "method", "epochs", "batch_size", "lr", "optimizer", "weight_decay", "momentum", "warmup_epochs", "width", "blocks",
    "embedding_dim", "reduce", "input_size", "temperature", "method_params", "view_params", "seed", "precision",
    "monitor", "holdout", "max_images", "init", "init_bn",
)


def _cpu_has_bf16() -> bool:
    # bf16 autocast on a CPU without native bf16 instructions is emulated and slower than fp32
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _convolution_backend(device: torch.device, precision: str):
    """oneDNN off for fp32 CPU training on CPUs without AVX-512.

    torch 2.14.1's oneDNN picks ``jit_avx2_1x1_convolution_bwd_weights`` for the weight
    gradient of the 1x1 shortcut convolutions there, and it corrupts the heap (seen on an
    AVX2-only AMD EPYC VM: "double free or corruption" or a segfault in the first backward
    pass; gdb shows that kernel). ATen's own convolution is used instead; AVX-512 machines,
    bf16 and GPUs keep oneDNN / cuDNN.
    """
    if device.type == "cpu" and precision == "fp32" and not torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        return torch.backends.mkldnn.flags(enabled=False)
    return contextlib.nullcontext()


def _resolve_precision(precision: str, device: torch.device, pretrained: bool = False) -> str:
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise ConfigError("precision 'fp16' is not supported on the CPU.", hint="Use --precision bf16 or fp32 there.")
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu":
        # EfficientNet-Lite training steps took 4x longer under CPU bf16 autocast than in fp32
        # (channels-last, 2 AVX-512-bf16 cores, torch 2.14: 6.8 s vs 1.7 s for 32 images at 128 px),
        # the depthwise convolutions having no fast bf16 kernel there
        return "bf16" if _cpu_has_bf16() and not pretrained else "fp32"
    return "fp32"


def _default_threads() -> int:
    """CPU threads for training: the cores this process may use, minus those other processes keep busy.

    Every layer ends in a barrier across torch's threads, so one thread that shares its core
    with another busy process stalls all the others; on a machine where other work is running,
    fewer threads train several times faster than one per core.
    """
    cores = max(1, len(os.sched_getaffinity(0)))
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not available on this platform
        busy = 0.0
    threads = max(1, min(cores, cores - int(round(busy))))
    if threads < cores:
        log.warning("using %d of %d CPU threads: other processes keep about %.1f cores busy (set --threads to override)",
                    threads, cores, busy)
    return threads


def _seed_for(seed: int, epoch: int, stream: int) -> int:
    """Independent 63-bit seeds for (run seed, epoch, stream) from numpy's SeedSequence."""
    return int(np.random.SeedSequence([seed, epoch, stream]).generate_state(2, dtype=np.uint64)[0] >> np.uint64(1))


def _generator(device: torch.device, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def _versions() -> dict[str, str]:
    import PIL

    return {"labelscout": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "pillow": PIL.__version__}


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:  # platform.processor() is often just "x86_64" on Linux; cpuinfo has the model
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _data_fingerprint(data: ImageData) -> str:
    h = hashlib.sha256()
    h.update("\n".join(data.ids).encode())
    h.update(data.images.contiguous().numpy())  # hashed through the buffer, no copy
    return h.hexdigest()[:24]


class SSLTrainer:
    """Train an embedding network with self-supervision on unlabelled images.

    Parameters
    ----------
    method : "simclr", "swav" or "autoencoder".
    epochs : passes over the training images.
    batch_size : pairs per optimizer step (each gives 2 views for SimCLR / SwAV).
    lr : peak learning rate; None uses the method's default scaled by batch_size / 256.
    optimizer : "sgd", "lars" or "adamw"; None uses the method's default.
    weight_decay : None uses the method's default (biases and norms are never decayed).
    momentum : SGD / LARS momentum.
    warmup_epochs : linear warm-up length; None is min(10, epochs // 10).
    width, blocks : CifarResNet width (channels of the first stage) and blocks per stage.
    embedding_dim : the embedding the saved model emits. SimCLR / SwAV: the backbone features
        are reduced to this size when wider (see ``reduce``); autoencoder: the bottleneck.
    reduce : how wider features are reduced: "pca" (fitted after training on the training
        images, folded into the network's last linear layer) or "linear" (a linear layer
        trained with the network, in front of the projection head).
    input_size : training (and inference) resolution; images are resized (shorter side)
        and centre-cropped to it once when decoded. None: 32 from scratch; with ``init``, the
        size the init model's input policy gives most of the images (EfficientNet-Lite: 128
        for thumbnails up to 64 px such as CIFAR's, else 224).
    init : start from this pretrained model (anything ``--model`` accepts that a model
        folder can rebuild: ``efficientnet-lite0``, a model folder, ``torchvision:NAME``,
        ``timm:NAME``) instead of random weights; see :mod:`labelscout.ssl.init`. Its
        normalisation and input policy are used, the projection head is new, and the
        optimizer defaults become AdamW at lr 1e-4, weight decay 0.01. None: a CifarResNet
        from scratch (``width``, ``blocks``).
    init_bn : with ``init``, "frozen" keeps the pretrained BatchNorm statistics (the layers
        run in eval mode, their scale and shift still train) or "train" updates them from
        the training batches.
    temperature : SimCLR / SwAV temperature (None: the method's default).
    method_params : other keyword arguments of the method class (e.g. SwAV's n_prototypes).
    view_params : overrides of :class:`labelscout.ssl.views.ViewConfig` fields.
    seed : everything random (init, order, views, holdout) derives from it.
    device : "auto", "cpu", "cuda", "cuda:N" or "mps".
    precision : "auto" (bf16 on CUDA / bf16-capable CPUs, fp16 on older GPUs, else fp32; fp32
        on CPUs with ``init``, where bf16 was measured 4x slower),
        "fp32", "bf16" or "fp16" (CUDA only).
    threads : CPU threads for torch (None: the cores this process may use minus the load other
        processes put on them, at least 1; see ``_default_threads``).
    monitor : kNN monitor queries: "auto" (hold out ``holdout`` of the images when class
        folders exist), "none", or a folder of labelled images (class folders).
    holdout : fraction of labelled images held out of training for ``monitor="auto"``.
    knn_k, knn_temperature, knn_every : the monitor's weighted kNN and how often it runs
        (every ``knn_every`` epochs, and always after the last).
    weights_dtype : "float32" or "float16" weights in the saved model.
    name : model name written to model.json (default built from the configuration).
    resume : continue from ``out_dir``'s checkpoint when there is one (refused if it was
        written with other parameters); False starts over.
    progress : a :class:`~labelscout.reporting.Reporter` (progress, cancellation), or show bars (True / False; None: unless --quiet / LABELSCOUT_PROGRESS=0).
    progress : show progress bars (None: unless --quiet / LABELSCOUT_PROGRESS=0).

    Attributes set by :meth:`fit`: ``model_dir_``, ``history_`` (one dict per epoch),
    ``record_`` (the train.json content).
    """

    _parameter_constraints = {
        "method": [Options(METHODS)],
        "epochs": [Interval(numbers.Integral, 1, None)],
        "batch_size": [Interval(numbers.Integral, 2, None)],
        "lr": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "optimizer": [Options(OPTIMIZERS), None],
        "weight_decay": [Interval(numbers.Real, 0, None), None],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "warmup_epochs": [Interval(numbers.Integral, 0, None), None],
        "width": [Interval(numbers.Integral, 1, None)],
        "blocks": [Instance(tuple, list)],
        "embedding_dim": [Interval(numbers.Integral, 1, None), None],
        "reduce": [Options({"pca", "linear"})],
        "input_size": [Interval(numbers.Integral, 8, None), None],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "method_params": [Instance(dict), None],
        "view_params": [Instance(dict), None],
        "seed": [Interval(numbers.Integral, 0, None)],
        "device": [Instance(str)],
        "precision": [Options({"auto", "fp32", "bf16", "fp16"})],
        "threads": [Interval(numbers.Integral, 1, None), None],
        "monitor": [Instance(str, Path), None],
        "holdout": [Interval(numbers.Real, 0, 1, closed="neither")],
        "knn_k": [Interval(numbers.Integral, 1, None)],
        "knn_temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "knn_every": [Interval(numbers.Integral, 1, None)],
        "weights_dtype": [Options({"float32", "float16"})],
        "name": [Instance(str), None],
        "resume": [Instance(bool)],
        "max_images": [Interval(numbers.Integral, 1, None), None],
        "init": [Instance(str, Path), None],
        "init_bn": [Options({"frozen", "train"})],
        "progress": [Instance(bool, Reporter), None],  # a reporter carries progress and cancellation
    }

    def __init__(
        self,
        method: str = "simclr",
        *,
        epochs: int = 100,
        batch_size: int = 256,
        lr: float | None = None,
        optimizer: str | None = None,
        weight_decay: float | None = None,
        momentum: float = 0.9,
        warmup_epochs: int | None = None,
        width: int = 32,
        blocks: tuple[int, ...] | list[int] = (1, 1, 1, 1),
        embedding_dim: int | None = 128,
        reduce: str = "pca",
        input_size: int | None = None,
        temperature: float | None = None,
        method_params: dict[str, Any] | None = None,
        view_params: dict[str, Any] | None = None,
        seed: int = 0,
        device: str = "auto",
        precision: str = "auto",
        threads: int | None = None,
        monitor: str | Path | None = "auto",
        holdout: float = 0.05,
        knn_k: int = 200,
        knn_temperature: float = 0.1,
        knn_every: int = 1,
        weights_dtype: str = "float32",
        name: str | None = None,
        resume: bool = True,
        max_images: int | None = None,
        init: str | Path | None = None,
        init_bn: str = "frozen",
        progress: bool | None = None,
    ):
        self.method = method
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.warmup_epochs = warmup_epochs
        self.width = width
        self.blocks = blocks
        self.embedding_dim = embedding_dim
        self.reduce = reduce
        self.input_size = input_size
        self.temperature = temperature
        self.method_params = method_params
        self.view_params = view_params
        self.seed = seed
        self.device = device
        self.precision = precision
        self.threads = threads
        self.monitor = monitor
        self.holdout = holdout
        self.knn_k = knn_k
        self.knn_temperature = knn_temperature
        self.knn_every = knn_every
        self.weights_dtype = weights_dtype
        self.name = name
        self.resume = resume
        self.max_images = max_images
        self.init = init
        self.init_bn = init_bn
        self.progress = progress
        self._init_model: InitModel | None = None
        self._size: int | None = None

    # -- parameters -------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._parameter_constraints}

    def _validate(self) -> None:
        validate_params("SSLTrainer", self.get_params(), self._parameter_constraints)
        if not self.blocks or not all(isinstance(b, numbers.Integral) and not isinstance(b, bool) and b >= 1 for b in self.blocks):
            raise ConfigError(f"The 'blocks' parameter of SSLTrainer must be a non-empty list of ints >= 1. Got {self.blocks!r} instead.")
        if self.method == "autoencoder":
            if self.temperature is not None:
                raise ConfigError("The 'temperature' parameter of SSLTrainer does not apply to method 'autoencoder'. Got "
                                  f"{self.temperature!r} instead of None.")
            if self.embedding_dim is None:
                raise ConfigError("The 'embedding_dim' parameter of SSLTrainer must be an int >= 1 for method 'autoencoder' "
                                  "(it is the bottleneck width). Got None instead.")
            if self.init is not None:
                raise ConfigError("The 'init' parameter of SSLTrainer works with methods 'simclr' and 'swav', not 'autoencoder' "
                                  f"(a pretrained encoder has no decoder). Got init={str(self.init)!r}.")
            if self.input_size is not None and self.input_size % 8:
                raise ConfigError(f"The 'input_size' parameter of SSLTrainer must be divisible by 8 for method 'autoencoder'. "
                                  f"Got {self.input_size!r} instead.")
        if self.init is not None and self.reduce != "pca":
            raise ConfigError(f"The 'reduce' parameter of SSLTrainer must be 'pca' with init (an EfficientNet-Lite init model's "
                              f"reduction is refitted after training). Got {self.reduce!r} instead.")
        if isinstance(self.monitor, str) and self.monitor not in ("auto", "none") and not Path(self.monitor).exists():
            raise ConfigError(f"The 'monitor' parameter of SSLTrainer must be 'auto', 'none' or an existing folder. "
                              f"Got {self.monitor!r} instead.")

    def _result_config(self, method_cls: type, sampler: PairSampler) -> dict[str, Any]:
        cfg = {k: getattr(self, k) for k in _RESULT_PARAMS}
        cfg["input_size"] = self._size
        cfg["blocks"] = list(self.blocks)
        cfg["monitor"] = None if self.monitor is None else str(self.monitor)
        if self._init_model is not None:
            cfg["init"] = str(self.init)
            cfg["init_weights_sha256"] = self._init_model.loaded.weights_sha256  # the same name may hold other weights
            cfg["optimizer"] = self.optimizer or FINETUNE_DEFAULTS["optimizer"]
            cfg["weight_decay"] = self.weight_decay if self.weight_decay is not None else FINETUNE_DEFAULTS["weight_decay"]
            cfg["lr"] = self.lr if self.lr is not None else FINETUNE_DEFAULTS["lr"]
        else:
            cfg["init_bn"] = None  # only meaningful with init (and absent from older checkpoints)
            cfg["optimizer"] = self.optimizer or method_cls.default_optimizer
            cfg["weight_decay"] = self.weight_decay if self.weight_decay is not None else method_cls.default_weight_decay
            cfg["lr"] = self.lr if self.lr is not None else method_cls.default_lr * self.batch_size / 256
        cfg["warmup_epochs"] = self.warmup_epochs if self.warmup_epochs is not None else min(10, self.epochs // 10)
        cfg["sampler"] = sampler.describe()
        return cfg

    # -- building blocks ------------------------------------------------------------------
    def _build_method(self, feature_dim_out: int | None, mean: list[float], std: list[float]) -> nn.Module:
        method_cls = METHODS[self.method]
        if self._init_model is not None:
            backbone = self._init_model.backbone()
        else:
            backbone = build_architecture("cifar_resnet", width=self.width, blocks=list(self.blocks), out_dim=feature_dim_out)
        view_fields = dict(self.view_params or {})
        view_fields.setdefault("size", self._size)
        if self.method == "autoencoder":
            base = ViewConfig.mild(self._size).__dict__
            view = ViewConfig(**{**base, **view_fields})
        else:
            view = ViewConfig(**view_fields)
        kwargs = dict(self.method_params or {})
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        try:
            return method_cls(backbone, view, mean, std, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"The 'method_params' parameter of SSLTrainer has an argument {method_cls.__name__} does not take: {exc}.") from None

    def _trained_out_dim(self) -> int | None:
        """out_dim of the backbone during training (None: the pooled features)."""
        if self._init_model is not None:
            return None  # the pretrained network as it is
        feature_dim = self.width * 2 ** (len(self.blocks) - 1)
        if self.method == "autoencoder":
            return self.embedding_dim
        if self.reduce == "linear" and self.embedding_dim is not None and self.embedding_dim < feature_dim:
            return self.embedding_dim
        return None

    def _prepare_init(self) -> InitModel | None:
        """Load the ``init`` model once, before any image is decoded, so a missing one fails first."""
        if self.init is not None and (self._init_model is None or self._init_model.spec != str(self.init)):
            self._init_model = load_init_model(str(self.init))
        return self._init_model

    def _training_size(self, data: str | Path | ImageData) -> tuple[int, str]:
        """The training resolution and why (see ``input_size``)."""
        if self.input_size is not None:
            return int(self.input_size), "input_size"
        init = self._prepare_init()
        if init is None:
            return 32, "the from-scratch default"
        if isinstance(data, ImageData):
            return int(data.images.shape[-1]), "the size the images were decoded at"
        return init.training_size(_sample_sizes(data, self.max_images))

    def _freeze_bn(self, method: nn.Module) -> None:
        """With init_bn="frozen", run the pretrained BatchNorm layers on their stored statistics."""
        if self._init_model is None or self.init_bn != "frozen":
            return
        for m in method.backbone.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()

    # -- main entry -------------------------------------------------------------------------
    def fit(self, data: str | Path | ImageData, out_dir: str | Path, *, pair_sampler: PairSampler | None = None) -> "SSLTrainer":
        """Train on ``data`` (a folder, or decoded :class:`ImageData`) and write the model to ``out_dir``.

        ``pair_sampler`` replaces instance discrimination by another way of choosing
        positives (it is built for the training images after the holdout is removed).
        """
        self._validate()
        self._prepare_init()
        out_dir = Path(out_dir)
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"--out {out_dir} exists and is not a folder.", hint="Choose another output folder.")
        device = resolve_device(self.device)
        precision = _resolve_precision(self.precision, device, pretrained=self.init is not None)
        old_threads = torch.get_num_threads()
        if device.type == "cpu" or self.threads is not None:
            torch.set_num_threads(self.threads or _default_threads())
        try:
            with _convolution_backend(device, precision):
                return self._fit(data, out_dir, device, precision, pair_sampler)
        finally:
            torch.set_num_threads(old_threads)

    def _fit(self, data, out_dir: Path, device: torch.device, precision: str, pair_sampler: PairSampler | None) -> "SSLTrainer":
        t_start = time.perf_counter()
        timings: dict[str, float] = {}
        method_cls = METHODS[self.method]

        # 1. data ----------------------------------------------------------------------
        t0 = time.perf_counter()
        init = self._init_model
        self._size, size_why = self._training_size(data)
        full = data if isinstance(data, ImageData) else load_image_folder(
            data, self._size, max_images=self.max_images, resample=init.resample if init else "bilinear", progress=self.progress)
        if full.images.shape[-1] != self._size:
            raise InputError(f"The decoded images are {full.images.shape[-1]} pixels wide but input_size is {self._size}.",
                             hint="Decode them with load_image_folder(path, input_size).")
        train, queries, monitor_info = self._split_monitor(full)
        timings["decode_s"] = round(time.perf_counter() - t0, 3)
        sampler = pair_sampler or InstancePairSampler(len(train), self.batch_size)
        cfg = self._result_config(method_cls, sampler)
        data_fp = _data_fingerprint(train)

        # 2. model, optimizer, checkpoint ------------------------------------------------------
        ckpt_path = out_dir / CHECKPOINT_FILE
        ckpt = None
        if self.resume and ckpt_path.is_file():
            ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            self._check_checkpoint(ckpt, cfg, data_fp, ckpt_path)
        if ckpt:
            mean, std = ckpt["mean"], ckpt["std"]
        elif init is not None:
            mean, std = init.mean, init.std  # what the pretrained network was trained with
        else:
            mean, std = channel_stats(train.images)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # initial weights depend on the seed only
            method = self._build_method(self._trained_out_dim(), mean, std)
        method.to(device)
        if device.type in ("cpu", "cuda"):
            method.to(memory_format=torch.channels_last)
        opt = build_optimizer(cfg["optimizer"], method, cfg["lr"], cfg["weight_decay"], self.momentum)
        scaler = torch.amp.GradScaler("cuda", enabled=(precision == "fp16" and device.type == "cuda"))
        history: list[dict[str, Any]] = []
        start_epoch = 0
        train_s_before = 0.0
        if ckpt:
            method.load_state_dict(ckpt["method_state"])
            opt.load_state_dict(ckpt["optimizer_state"])
            if ckpt.get("scaler_state"):
                scaler.load_state_dict(ckpt["scaler_state"])
            history = list(ckpt["history"])
            start_epoch = int(ckpt["epochs_done"])
            train_s_before = float(ckpt.get("train_s", 0.0))
            log.info("resuming %s after epoch %d of %d", out_dir, start_epoch, self.epochs)

        steps_per_epoch = sampler.num_batches()
        total_steps = steps_per_epoch * self.epochs
        warmup_steps = steps_per_epoch * cfg["warmup_epochs"]
        autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        images_dev = train.images.to(device) if device.type == "cuda" else train.images
        record: dict[str, Any] = {
            "format": "labelscout-train/1",
            "status": "running",
            "data": str(getattr(full, "root", "")),
            "config": cfg,
            "method_hparams": method.hparams(),
            "versions": _versions(),
            "seed": self.seed,
            "device": str(device),
            "device_name": _device_name(device),
            "cpu_cores": len(os.sched_getaffinity(0)),
            "precision": precision,
            "threads": torch.get_num_threads(),
            "counts": {"images_found": len(full) + len(full.skipped), "train_images": len(train),
                       "skipped": len(full.skipped), "steps_per_epoch": steps_per_epoch},
            "monitor": monitor_info,
            "normalization": {"mean": mean, "std": std},
            "input_size": {"size": self._size, "why": size_why},
            "init": init.provenance() if init is not None else None,
            "data_fingerprint": data_fp,
            "resumed_from_epoch": start_epoch if ckpt else None,
            "skipped": full.skipped,
            "history": history,
        }

        # 3. epochs --------------------------------------------------------------------------
        remaining = (self.epochs - start_epoch) * steps_per_epoch
        with progress_bar(f"training {self.method}", total=remaining, progress=self.progress, unit="steps") as bar:
            for epoch in range(start_epoch, self.epochs):
                t_ep = time.perf_counter()
                cpu_ep = time.process_time()  # CPU seconds of all threads: comparable on a shared machine
                method.train()
                self._freeze_bn(method)
                order_gen = torch.Generator().manual_seed(_seed_for(self.seed, epoch, 0))
                view_gen = _generator(device, _seed_for(self.seed, epoch, 1))
                # summed on the device: reading each step's loss would stall a GPU every step
                loss_sum = torch.zeros((), dtype=torch.float32, device=device)
                n_steps = 0
                for idx_a, idx_b in sampler.batches(epoch, order_gen):
                    step = epoch * steps_per_epoch + n_steps
                    lr = lr_at(step, total_steps, warmup_steps, cfg["lr"])
                    for g in opt.param_groups:
                        g["lr"] = lr
                    xa = images_dev[idx_a.to(images_dev.device)].to(device, non_blocking=True)
                    xb = xa if idx_b is idx_a else images_dev[idx_b.to(images_dev.device)].to(device, non_blocking=True)
                    with torch.no_grad():
                        views = method.make_views(xa, xb, view_gen)
                    if device.type in ("cpu", "cuda"):
                        views = [v.contiguous(memory_format=torch.channels_last) for v in views]
                    with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
                        loss = method.loss(views, step)
                    opt.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    method.after_backward(step)
                    scaler.step(opt)
                    scaler.update()
                    loss_sum += loss.detach().float()
                    n_steps += 1
                    bar.advance(1)
                mean_loss = float(loss_sum) / max(1, n_steps)
                if not math.isfinite(mean_loss):
                    # raised before this epoch is checkpointed, so a rerun resumes from the last good one
                    raise InputError(
                        f"The training loss became {mean_loss} in epoch {epoch + 1}; the weights diverged.",
                        hint="Lower the learning rate (--lr) or use --precision fp32; rerunning resumes from the last finished epoch.",
                    )
                train_s = time.perf_counter() - t_ep
                entry: dict[str, Any] = {"epoch": epoch + 1, "loss": round(mean_loss, 6),
                                         "lr_end": lr_at((epoch + 1) * steps_per_epoch - 1, total_steps, warmup_steps, cfg["lr"]),
                                         "train_s": round(train_s, 2),
                                         "train_cpu_s": round(time.process_time() - cpu_ep, 2),
                                         "images_per_s": round(n_steps * self.batch_size / train_s, 1) if train_s > 0 else None}
                last = epoch + 1 == self.epochs
                if queries is not None and ((epoch + 1) % self.knn_every == 0 or last):
                    t_knn = time.perf_counter()
                    entry["knn_top1"] = round(self._monitor_knn(method.backbone, train, queries, mean, std, device, autocast_dtype), 5)
                    entry["knn_s"] = round(time.perf_counter() - t_knn, 2)
                history.append(entry)
                train_s_before += train_s
                bar.update(description=f"training {self.method} (epoch {epoch + 1}/{self.epochs}, loss {entry['loss']:.3f}"
                                       + (f", kNN {entry['knn_top1']:.3f}" if "knn_top1" in entry else "") + ")")
                log.info("epoch %d/%d %s", epoch + 1, self.epochs, entry)
                self._save_checkpoint(ckpt_path, method, opt, scaler, epoch + 1, history, cfg, data_fp, mean, std, train_s_before)
                record["history"] = history
                record["timings_s"] = {**timings, "train_s": round(train_s_before, 2)}
                atomic_write_json(out_dir / TRAIN_FILE, record)

        # 4. export ------------------------------------------------------------------------------
        t0 = time.perf_counter()
        embed_net, export_info = self._export_network(method, train, mean, std, device, autocast_dtype)
        training = {"method": self.method, "epochs": self.epochs, "data": record["data"], "seed": self.seed,
                    "train_images": len(train), "record": TRAIN_FILE}
        if init is None:
            name = self.name or f"ssl-{self.method}-cifar-resnet{self.width}-{export_info['embedding_dim']}"
            spec = ModelSpec(name=name, architecture="cifar_resnet", arch_kwargs=export_info["arch_kwargs"],
                             input_size=self._size, mean=list(mean), std=list(std),
                             embedding_dim=export_info["embedding_dim"], training=training)
        else:
            # fed as the init model is (its input size and thumbnail policy), not at the training size only
            name = self.name or f"ssl-{self.method}-{Path(str(self.init)).name}-{export_info['embedding_dim']}"
            training.update(init=init.provenance(), reduction=export_info["reduction"], training_input_size=self._size)
            spec = ModelSpec(name=name, architecture=init.architecture, arch_kwargs=export_info["arch_kwargs"],
                             input_size=int(init.loaded.input_size), mean=list(mean), std=list(std),
                             embedding_dim=export_info["embedding_dim"], resize=init.loaded.resize, training=training,
                             input_policy=init.input_policy())
        save_model_dir(out_dir, embed_net, spec, dtype=torch.float16 if self.weights_dtype == "float16" else None)
        timings["export_s"] = round(time.perf_counter() - t0, 3)
        if queries is not None:
            # the number that matters: the saved model, loaded back as `select --model` would
            t0 = time.perf_counter()
            saved, _, digest = load_model_dir(out_dir)
            export_info["knn_top1"] = round(self._monitor_knn(saved, train, queries, mean, std, torch.device("cpu"), None), 5)
            export_info["weights_sha256"] = digest
            timings["final_knn_s"] = round(time.perf_counter() - t0, 3)
        timings["train_s"] = round(train_s_before, 2)
        timings["total_s_this_run"] = round(time.perf_counter() - t_start, 2)
        record.update(status="finished", export=export_info, timings_s=timings, history=history)
        atomic_write_json(out_dir / TRAIN_FILE, record)
        self.model_dir_ = out_dir
        self.history_ = history
        self.record_ = record
        return self

    # -- pieces of fit --------------------------------------------------------------------------
    def _split_monitor(self, full: ImageData) -> tuple[ImageData, ImageData | None, dict[str, Any]]:
        if self.monitor is None or self.monitor == "none":
            return full, None, {"kind": "none"}
        if self.monitor == "auto":
            if full.labels is None:
                return full, None, {"kind": "none", "why": "no class folders, so no labels for a kNN monitor"}
            n_hold = max(1, int(round(self.holdout * len(full))))
            if len(full) - n_hold < 2:
                raise InputError(f"Holding out {n_hold} of {len(full)} images for the kNN monitor leaves too few to train on.",
                                 hint="Use --monitor none, a smaller --holdout, or more images.")
            perm = np.random.default_rng(self.seed).permutation(len(full))
            hold, keep = np.sort(perm[:n_hold]), np.sort(perm[n_hold:])
            return full.subset(keep), full.subset(hold), {
                "kind": "holdout", "fraction": self.holdout, "queries": int(n_hold), "bank": int(len(keep)),
                "k": bounded_k(self.knn_k, full.subset(keep).labels), "temperature": self.knn_temperature, "metric": "cosine"}
        if full.labels is None:
            raise InputError(
                f"--monitor {self.monitor} needs labels for the training images too (class folders), and the training data has none.",
                hint="Use --monitor none, or arrange the training images in class folders.",
            )
        queries = load_image_folder(self.monitor, self._size, classes=full.classes, progress=self.progress,
                                    resample=self._init_model.resample if self._init_model else "bilinear")
        if queries.labels is None:
            raise InputError(f"The monitor folder {self.monitor} has no class folders, so its images have no labels.",
                             hint="Point --monitor at a folder of class subfolders (like the training data).")
        return full, queries, {"kind": "folder", "path": str(self.monitor), "queries": len(queries), "bank": len(full),
                               "skipped": len(queries.skipped), "k": bounded_k(self.knn_k, full.labels), "temperature": self.knn_temperature,
                               "metric": "cosine"}

    @torch.inference_mode()
    def _embed(self, net: nn.Module, images: torch.Tensor, mean, std, device: torch.device, autocast_dtype, batch: int | None = None) -> torch.Tensor:
        """Clean (un-augmented) embeddings of uint8 (N, 3, S, S) images -> float32 (N, D) on the CPU."""
        # an ImageNet network at 128-224 px holds far larger activations than a CIFAR ResNet at 32
        batch = batch or (128 if self._init_model is not None else 1024)
        was_training = net.training
        net.eval()
        out = []
        for s in range(0, images.shape[0], batch):
            x = normalize(to_float(images[s : s + batch].to(device)), mean, std)
            if device.type in ("cpu", "cuda"):
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
                out.append(net(x).float().cpu())
        net.train(was_training)
        return torch.cat(out)

    def _monitor_knn(self, net, train: ImageData, queries: ImageData, mean, std, device, autocast_dtype) -> float:
        bank = self._embed(net, train.images, mean, std, device, autocast_dtype)
        q = self._embed(net, queries.images, mean, std, device, autocast_dtype)
        return knn_accuracy(bank.numpy(), train.labels, q.numpy(), queries.labels, k=bounded_k(self.knn_k, train.labels),
                            temperature=self.knn_temperature)

    def _export_network(self, method: nn.Module, train: ImageData, mean, std, device, autocast_dtype) -> tuple[nn.Module, dict[str, Any]]:
        backbone = copy.deepcopy(method.backbone).float().to("cpu", memory_format=torch.contiguous_format).eval()
        if self._init_model is not None:
            init = self._init_model
            features = None
            if init.lite and self.embedding_dim is not None:
                probe = copy.deepcopy(backbone)
                probe.flip = bool(getattr(init.loaded.module, "flip", False))  # fitted on what the model will emit
                features = self._embed(probe, train.images, mean, std, torch.device("cpu"), None)  # (N, 1280)
            net, arch_kwargs, reduction = init.export(backbone, features, self.embedding_dim)
            return net, {"feature_dim": int(getattr(backbone, "feature_dim", backbone.embedding_dim)), "arch_kwargs": arch_kwargs,
                         "embedding_dim": int(net.embedding_dim), "reduce": reduction["reduce"], "reduction": reduction}
        feature_dim = backbone.feature_dim
        arch_kwargs: dict[str, Any] = {"width": self.width, "blocks": list(self.blocks), "out_dim": None}
        info: dict[str, Any] = {"feature_dim": feature_dim}
        trained_out = self._trained_out_dim()
        if trained_out is not None:
            arch_kwargs["out_dim"] = trained_out
            info.update(reduce="linear (trained)" if self.method != "autoencoder" else "bottleneck", embedding_dim=trained_out)
            net = build_architecture("cifar_resnet", **arch_kwargs)
            net.load_state_dict(backbone.state_dict())
        elif self.embedding_dim is not None and self.embedding_dim < feature_dim:
            # PCA of the (centred) training features, folded into the `out` layer:
            # out(f) = W (f - mu) = W f - W mu, with W the top principal directions (d, F)
            feats = self._embed(backbone, train.images, mean, std, torch.device("cpu"), None).double()  # (N, F)
            mu = feats.mean(dim=0)
            cov = (feats - mu).T @ (feats - mu) / max(1, feats.shape[0] - 1)  # (F, F)
            evals, evecs = torch.linalg.eigh(cov)  # ascending
            order = torch.argsort(evals, descending=True)[: self.embedding_dim]
            w = evecs[:, order].T  # (d, F)
            # a deterministic sign per direction (eigh's is arbitrary): largest |loading| positive
            signs = torch.sign(w.gather(1, w.abs().argmax(dim=1, keepdim=True)))
            w = w * signs
            arch_kwargs["out_dim"] = self.embedding_dim
            net = build_architecture("cifar_resnet", **arch_kwargs)
            state = {k: v for k, v in backbone.state_dict().items()}
            state["out.weight"] = w.float()
            state["out.bias"] = (-(w @ mu)).float()
            net.load_state_dict(state)
            explained = float(evals[order].sum() / evals.clamp(min=0).sum())
            info.update(reduce="pca", embedding_dim=self.embedding_dim, pca_explained_variance=round(explained, 5))
        else:
            net = backbone
            info.update(reduce="none", embedding_dim=feature_dim)
        info["arch_kwargs"] = arch_kwargs
        return net.eval(), info

    def _check_checkpoint(self, ckpt: dict, cfg: dict, data_fp: str, path: Path) -> None:
        if ckpt.get("format") != _CHECKPOINT_FORMAT:
            raise InputError(f"{path} is not a labelscout training checkpoint.", hint="Use another --out folder, or --no-resume to start over.")
        old = ckpt["config"]
        changed = sorted(k for k in set(old) | set(cfg) if old.get(k) != cfg.get(k))
        if changed:
            detail = ", ".join(f"{k}: {old.get(k)!r} -> {cfg.get(k)!r}" for k in changed[:4])
            raise ConfigError(
                f"{path.parent.parent} holds a training checkpoint made with other parameters ({detail}).",
                hint="Rerun with the same parameters to resume, add --no-resume to start over there, or choose another --out.",
            )
        if ckpt["data_fingerprint"] != data_fp:
            raise InputError(
                f"{path.parent.parent} holds a training checkpoint made on other images (the files or their content changed).",
                hint="Add --no-resume to start over, or choose another --out.",
            )

    def _save_checkpoint(self, path: Path, method, opt, scaler, epochs_done: int, history, cfg, data_fp, mean, std, train_s) -> None:
        state = {
            "format": _CHECKPOINT_FORMAT,
            "epochs_done": epochs_done,
            "config": cfg,
            "data_fingerprint": data_fp,
            "mean": mean,
            "std": std,
            "method_state": {k: v.detach().cpu() for k, v in method.state_dict().items()},
            "optimizer_state": opt.state_dict(),
            "scaler_state": scaler.state_dict() if scaler.is_enabled() else None,
            "history": history,
            "train_s": train_s,
        }
        with atomic_path(path) as tmp:
            torch.save(state, tmp)


def train_model(data: str | Path | ImageData, out_dir: str | Path, method: str = "simclr", *, epochs: int = 100,
                batch_size: int = 256, pair_sampler: PairSampler | None = None,
                temporal: dict[str, Any] | None = None, **params: Any) -> Path:
    """Train an embedding model on the images in ``data`` with self-supervision; return ``out_dir``.

    ``out_dir`` receives model.json + model.safetensors (load with ``labelscout select IMAGES
    --model out_dir``), train.json and checkpoints/. Rerunning resumes after the last
    finished epoch. ``pair_sampler`` chooses the positive pairs (default: two views of the
    same image). ``temporal`` (a dict, possibly empty, of ``fps``, ``max_dt``, ``min_gap``)
    trains on the videos under ``data`` with temporally close frames as positives and batches
    of frames far apart in time. Other keyword arguments are those of :class:`SSLTrainer`.
    """
    trainer = SSLTrainer(method, epochs=epochs, batch_size=batch_size, **params)
    if temporal is not None:
        data, pair_sampler = _temporal_data(data, trainer, temporal)
    return trainer.fit(data, out_dir, pair_sampler=pair_sampler).model_dir_


def _temporal_data(data: str | Path | ImageData, trainer: "SSLTrainer", temporal: dict[str, Any]) -> tuple[ImageData, PairSampler]:
    """Decode the videos under ``data`` at the training size and build the temporal pair
    sampler over their frames (positives within ``max_dt`` s, batches ``min_gap`` s apart)."""
    from ..sources.video_frames import load_video_frames
    from .temporal import TemporalPairSampler

    if isinstance(data, ImageData):
        raise ConfigError("Temporal training decodes videos itself; pass the video folder or file, not decoded images.")
    opts = {"fps": 5.0, "max_dt": 1.0, "min_gap": 10.0, **temporal}
    trainer._validate()
    init = trainer._prepare_init()  # a missing init model fails before the videos are decoded
    # video frames are photos: the init model's input size (its thumbnail rule does not apply)
    size = trainer.input_size or (int(init.loaded.input_size) if init is not None else 32)
    frames = load_video_frames(data, size, fps=opts["fps"], progress=trainer.progress)
    if len(frames) == 0:
        raise InputError(f"No video frames could be decoded from {data}.",
                         hint="Temporal training needs videos; see the skipped list for each file's reason.")
    images = ImageData(frames.root, frames.images, frames.ids, None, [], frames.skipped)
    sampler = TemporalPairSampler(frames.video, frames.timestamps, batch_size=trainer.batch_size,
                                  max_dt=opts["max_dt"], min_gap=opts["min_gap"], seed=trainer.seed)
    return images, sampler


def _sample_sizes(path: str | Path, max_images: int | None, n: int = 64) -> list[tuple[int, int]]:
    """(width, height) of up to ``n`` images spread over the folder (headers only, no decoding)."""
    from PIL import Image

    from ..sources.images import IMAGE_EXTENSIONS
    from ..sources.scan import scan_folder

    scan = scan_folder(path, {"image": IMAGE_EXTENSIONS})
    ids, root = scan.files["image"][:max_images], scan.root
    sizes = []
    for sid in ids[:: max(1, len(ids) // n)][:n]:
        try:
            with Image.open(root / sid) as im:
                sizes.append(im.size)
        except Exception:  # unreadable files are reported when decoding; here they just do not vote
            continue
    return sizes
