"""Typed, serialisable run configs: what a job is, validated in one place.

Every interface builds one of these and hands it to the library: the CLI from its options,
the Python API from keyword arguments, the job service from a request's JSON
(:meth:`SelectConfig.from_dict`), a replay from a finished run (:meth:`SelectConfig.from_run`).
``to_dict()`` is written whole into ``run.json["config"]``, and ``from_dict(to_dict())``
gives the same config back, so ``labelscout select --config RUN/run.json --out NEW``
repeats a run exactly: the excluded ids are stored themselves, not a file name.

``validate()`` checks every value (messages name the field, the rule and the value) and the
combinations (strategy parameters, space, detectors, video options) before anything is
created, embedded or written; it returns the config with values normalised (absolute
paths, "5" fps as 5.0).
"""
from __future__ import annotations

import json
import numbers
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from ._validation import Instance, Interval, Options, validate_params
from .errors import ConfigError, InputError

__all__ = ["ModelConfig", "VideoConfig", "EmbedConfig", "SelectConfig", "InspectConfig", "TrainConfig", "config_from"]

_BUDGET = [Interval(numbers.Integral, 1, None), Interval(numbers.Real, 0, 1, closed="right"), Instance(str)]
_PATH = [Instance(str), None]


class _Config:
    """Shared (de)serialisation and validation of the config dataclasses."""

    _constraints: ClassVar[dict[str, list]] = {}
    #: fields holding filesystem paths (stored absolute, so a replay works from any folder)
    _paths: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; :meth:`from_dict` of it gives this config back."""
        return json.loads(json.dumps(asdict(self)))  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """The config ``data`` describes (nested configs as dicts); an unknown field is an
        error that lists the known ones. Call :meth:`validate` to check the values."""
        if not isinstance(data, dict):
            raise ConfigError(f"A {cls.__name__} must be a JSON object (a dict). Got {type(data).__name__} instead.")
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"{cls.__name__} has no field {unknown[0]!r}; its fields are {', '.join(sorted(known))}.")
        kwargs = {}
        for name, value in data.items():
            sub = _NESTED.get((cls.__name__, name))
            kwargs[name] = sub.from_dict(value) if sub is not None and isinstance(value, dict) else value
        missing = [n for n, f in known.items() if n not in kwargs and f.default is MISSING and f.default_factory is MISSING]
        if missing:
            raise ConfigError(f"{cls.__name__} needs the field(s) {missing}.")
        return cls(**kwargs)

    def replace(self, **changes: Any) -> Any:
        return replace(self, **changes)  # type: ignore[type-var]

    def _check_fields(self) -> None:
        validate_params(type(self).__name__, {f.name: getattr(self, f.name) for f in fields(self)},  # type: ignore[arg-type]
                        self._constraints)

    def _absolute(self) -> Any:
        changes = {p: str(Path(getattr(self, p)).expanduser().absolute()) for p in self._paths
                   if getattr(self, p) not in (None, "", "default")}
        return replace(self, **changes) if changes else self  # type: ignore[type-var]


@dataclass(frozen=True)
class ModelConfig(_Config):
    """Which model embeds the samples, and how it runs (see :class:`labelscout.Embedder`)."""

    model: str | None = None
    arch: str | None = None
    weights: str | None = None
    device: str = "auto"
    batch_size: int = 256
    workers: int | None = None
    cache_dir: str | None = "default"  # "default": $LABELSCOUT_CACHE_DIR or ~/.cache/labelscout; None: no cache

    _constraints = {"model": _PATH, "arch": _PATH, "weights": _PATH, "device": [Instance(str)],
                    "batch_size": [Interval(numbers.Integral, 1, None)], "workers": [Interval(numbers.Integral, 0, None), None],
                    "cache_dir": _PATH}
    _paths = ("weights", "cache_dir")

    def validate(self) -> "ModelConfig":
        self._check_fields()
        out = self._absolute()
        if out.model is not None and Path(out.model).exists():  # a model folder or file, not a registry name
            out = replace(out, model=str(Path(out.model).absolute()))
        return out


@dataclass(frozen=True)
class VideoConfig(_Config):
    """How videos become samples (see :class:`labelscout.sources.video.VideoOptions`)."""

    fps: float | str | None = 5.0
    sequence_length: int = 1
    keyframes_only: bool = False

    def validate(self) -> "VideoConfig":
        from .sources.video import VideoOptions

        opts = VideoOptions(fps=self.fps, sequence_length=self.sequence_length, keyframes_only=self.keyframes_only)
        return replace(self, fps=opts.fps)

    def options(self) -> Any:
        from .sources.video import VideoOptions

        return VideoOptions(fps=self.fps, sequence_length=self.sequence_length, keyframes_only=self.keyframes_only)


@dataclass(frozen=True)
class EmbedConfig(_Config):
    """``labelscout embed``: embed every image and video under ``source``."""

    source: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    video: VideoConfig = field(default_factory=VideoConfig)

    _constraints = {"source": [Instance(str)]}
    _paths = ("source",)

    def validate(self) -> "EmbedConfig":
        self._check_fields()
        if not self.source:
            raise ConfigError("EmbedConfig needs a 'source' (a folder or file of images and videos).")
        return replace(self._absolute(), model=self.model.validate(), video=self.video.validate())


@dataclass(frozen=True)
class SelectConfig(_Config):
    """``labelscout select``: pick ``n`` samples worth labeling (see :func:`labelscout.select`)."""

    source: str | None = None
    n: int | float | str = 1000
    strategy: str = "auto"
    strategy_params: dict[str, Any] = field(default_factory=dict)
    metric: str = "cosine"
    space: str | None = None
    space_dim: int | None = None
    embeddings: str | None = None
    ids: str | None = None
    seed: int = 0
    exclude: list[str] | None = None  # the already-labeled ids themselves (replayable)
    exclude_file: str | None = None  # where they were read from (provenance only)
    labels: str | None = "auto"
    label_column: str | None = None
    place: str | None = None
    dedupe: bool = False
    near_dup_threshold: float | None = None
    near_dup_ratio: float | None = None
    frame_format: str | None = "jpg"
    report: bool = True
    predictions: str | None = None  # a model's class probabilities (prediction-based strategies)
    logits: bool = False  # the predictions are raw scores, soft-maxed
    features: str | None = None  # the model's per-sample features
    validation: str | None = None  # images fisher-match / density-match match the pool to
    model: ModelConfig = field(default_factory=ModelConfig)
    video: VideoConfig = field(default_factory=VideoConfig)

    _constraints = {
        "predictions": _PATH, "logits": [Instance(bool)], "features": _PATH, "validation": _PATH,
        "source": _PATH, "n": _BUDGET, "strategy": [Instance(str)], "strategy_params": [Instance(dict)],
        "metric": [Options({"cosine", "l2"})], "space": [Instance(str), None], "space_dim": [Interval(numbers.Integral, 1, None), None],
        "embeddings": _PATH, "ids": _PATH, "seed": [Interval(numbers.Integral, 0, None)],
        "exclude": [Instance(list), None], "exclude_file": _PATH, "labels": [Instance(str), None], "label_column": _PATH,
        "place": [Options({"copy", "link"}), None], "dedupe": [Instance(bool)],
        "near_dup_threshold": [Interval(numbers.Real, 0, None), None], "near_dup_ratio": [Interval(numbers.Real, 0, 1, closed="right"), None],
        "frame_format": [Instance(str), None], "report": [Instance(bool)],
    }
    _paths = ("source", "embeddings", "ids", "exclude_file", "predictions", "features", "validation")

    def validate(self) -> "SelectConfig":
        """Check every field and their combinations; return the normalised config."""
        self._check_fields()
        if (self.source is None) == (self.embeddings is None):
            raise ConfigError("Give exactly one of 'source' (images, videos or saved embeddings) and 'embeddings' "
                              f"(a precomputed .npy / CSV / parquet file). Got source={self.source!r}, embeddings={self.embeddings!r}.")
        if self.ids is not None and self.embeddings is None:
            raise ConfigError(f"The 'ids' parameter names the rows of precomputed 'embeddings'; none were given. Got ids={self.ids!r}.")
        if self.exclude is not None and not all(isinstance(i, str) for i in self.exclude):
            raise ConfigError("The 'exclude' parameter of SelectConfig must be a list of sample ids (strings).")
        from .runs.frames import FRAME_FORMATS

        if self.frame_format is not None and self.frame_format not in FRAME_FORMATS:
            raise ConfigError(f"The 'frame_format' parameter must be one of {set(FRAME_FORMATS)} or None. Got {self.frame_format!r} instead.")
        _check_n(self.n)
        out = replace(self._absolute(), model=self.model.validate(), video=self.video.validate())
        if out.labels not in (None, "auto", "folders", "none"):
            out = replace(out, labels=str(Path(out.labels).absolute()))
        out.space_spec()
        out.make_selector()._validate_params()  # a bad strategy parameter fails before any embedding
        out.make_dedupers()
        return out

    # --- what the run builds from the config (one place, so a replay builds the same) ---
    def space_spec(self) -> Any:
        from .space.transform import Space, resolve_space

        return Space(resolve_space(self.space, self.metric).name, dim=self.space_dim, seed=self.seed).validate()

    def make_selector(self) -> Any:
        """The strategy with its parameters; ``--seed`` and the metric reach every strategy
        that has such a parameter unless set explicitly. The metric is L2: strategies work on
        the space's vectors, where L2 *is* the chosen geometry."""
        from .strategies import STRATEGIES, get_strategy

        params = dict(self.strategy_params)
        accepted = STRATEGIES[self.strategy]._param_names() if self.strategy in STRATEGIES else []
        for name, value in (("metric", "l2"), ("seed", self.seed)):
            if name in accepted:
                params.setdefault(name, value)
        selector = get_strategy(self.strategy, n=self.n, **params)
        if self.validation is not None:
            from .strategies._validation_set import accepts_validation, attach_validation

            if accepts_validation(selector):  # set from the folder once it is embedded
                attach_validation(selector, validation_vectors=[], validation_labels=[])
        return selector

    def make_dedupers(self) -> dict[str, Any]:
        if not self.dedupe:
            return {}
        from .detectors._runner import make_detectors, option_params

        names = ["exact-duplicates", "near-duplicates"]
        return make_detectors(names, option_params(names, near_dup_threshold=self.near_dup_threshold,
                                                   near_dup_ratio=self.near_dup_ratio))

    @classmethod
    def from_run(cls, run: str | Path) -> "SelectConfig":
        """The config a finished run recorded (``RUN/run.json`` or the folder holding it)."""
        return cls.from_dict(_config_of_run(run, cls))


@dataclass(frozen=True)
class InspectConfig(_Config):
    """``labelscout inspect``: find duplicates, outliers and label errors (see :func:`labelscout.inspect`)."""

    source: str = ""
    detectors: list[str] = field(default_factory=lambda: ["exact-duplicates", "near-duplicates", "outliers"])
    detector_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    labels: str | None = "auto"
    label_column: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    video: VideoConfig = field(default_factory=VideoConfig)

    _constraints = {"source": [Instance(str)], "detectors": [Instance(list)], "detector_params": [Instance(dict)],
                    "labels": [Instance(str), None], "label_column": _PATH}
    _paths = ("source",)

    def validate(self) -> "InspectConfig":
        self._check_fields()
        if not self.source:
            raise ConfigError("InspectConfig needs a 'source' (images, videos or saved embeddings).")
        self.make_detectors()
        out = replace(self._absolute(), model=self.model.validate(), video=self.video.validate())
        if out.labels not in (None, "auto", "folders", "none"):
            out = replace(out, labels=str(Path(out.labels).absolute()))
        return out

    def make_detectors(self) -> dict[str, Any]:
        from .detectors._runner import make_detectors

        return make_detectors(list(self.detectors), self.detector_params)

    @classmethod
    def from_run(cls, run: str | Path) -> "InspectConfig":
        return cls.from_dict(_config_of_run(run, cls))


@dataclass(frozen=True)
class TrainConfig(_Config):
    """``labelscout train``: a self-supervised embedding model (see :func:`labelscout.train`).

    ``params``: the other keyword arguments of :class:`labelscout.ssl.SSLTrainer` (lr,
    width, blocks, embedding_dim, seed, device, monitor, ...). ``temporal``: None, or the
    temporal-positives options (fps, max_dt, min_gap) to train on videos. ``init``: None
    (train from scratch) or the pretrained model to continue from (a name such as
    ``efficientnet-lite0``, ``torchvision:NAME`` or a model folder; see
    :mod:`labelscout.ssl.init`)."""

    source: str = ""
    method: str = "simclr"
    epochs: int = 100
    batch_size: int = 256
    params: dict[str, Any] = field(default_factory=dict)
    temporal: dict[str, Any] | None = None
    init: str | None = None

    _constraints = {"source": [Instance(str)], "method": [Instance(str)],  # the trainer checks the name
                    "init": [Instance(str), None],  # the trainer loads it (and names what to install when it is missing)
                    "epochs": [Interval(numbers.Integral, 1, None)], "batch_size": [Interval(numbers.Integral, 2, None)],
                    "params": [Instance(dict)], "temporal": [Instance(dict), None]}
    _paths = ("source",)

    def validate(self) -> "TrainConfig":
        self._check_fields()
        if not self.source:
            raise ConfigError("TrainConfig needs a 'source' (a folder of images, or videos with temporal).")
        import inspect as _inspect

        from .ssl.trainer import SSLTrainer

        accepted = set(_inspect.signature(SSLTrainer.__init__).parameters) - {"self", "method", "epochs", "batch_size", "progress",
                                                                              "init"}
        unknown = sorted(set(self.params) - accepted)
        if unknown:
            raise ConfigError(f"TrainConfig.params has no trainer parameter {unknown[0]!r}; they are {', '.join(sorted(accepted))}.")
        bad = sorted(set(self.temporal or {}) - {"fps", "max_dt", "min_gap"})
        if bad:
            raise ConfigError(f"TrainConfig.temporal has no option {bad[0]!r}; they are fps, max_dt, min_gap.")
        if self.init == "":
            raise ConfigError("The 'init' parameter of TrainConfig must be a model name or path, or None. Got '' instead.")
        out = self._absolute()
        if out.init is not None and Path(out.init).exists():  # a model folder, not a registry name
            out = replace(out, init=str(Path(out.init).absolute()))
        return out


_NESTED: dict[tuple[str, str], type[_Config]] = {
    (c, f): sub for c in ("EmbedConfig", "SelectConfig", "InspectConfig") for f, sub in (("model", ModelConfig), ("video", VideoConfig))
}


def _check_n(n: Any) -> None:
    from ._validation import resolve_n

    resolve_n(n, 1 << 62)  # the form only; the pool size is checked once it is known


def _config_of_run(run: str | Path, cls: type) -> dict[str, Any]:
    from .runs.record import RUN_FILE

    path = Path(run)
    if path.is_dir():  # inspect keeps its own record beside a selection's
        path = path / ("inspect.json" if cls is InspectConfig else RUN_FILE)
    if not path.is_file():
        raise InputError(f"{path} does not exist.", hint="Give a run folder (or its run.json) written by labelscout.")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{path} is not valid JSON ({exc}).") from None
    cfg = record.get("config")
    kind = record.get("config_type")
    if not isinstance(cfg, dict) or kind != cls.__name__:
        raise InputError(f"{path} holds no {cls.__name__} (config_type {kind!r}).",
                         hint="Runs written before typed configs cannot be replayed; give a run made by this version.")
    return cfg


def config_from(value: Any, cls: type) -> Any:
    """``value`` as a validated ``cls``: a config as it is, or a dict."""
    if isinstance(value, cls):
        return value.validate()
    if isinstance(value, dict):
        return cls.from_dict(value).validate()
    raise ConfigError(f"Expected a {cls.__name__} or a dict. Got {type(value).__name__} instead.")
