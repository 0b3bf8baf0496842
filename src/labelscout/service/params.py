"""Job params -> a validated library config: the ONE place that maps the web API's
``params`` to the keyword arguments of the library call a job makes.

``params`` are the options of the CLI command of the same name (snake_case, the same
defaults), validated here *before* the job is queued: a wrong type, an unknown name or a
value the library refuses is a :class:`ParamError` naming the parameter (HTTP 422), never
a job that fails later. Values that name files on the server (``out``, ``cache_dir``,
precomputed ``embeddings``) are the service's to choose and are not accepted.

Every default is read from the library's typed configs (:mod:`labelscout.config`), so a job
with no params is the CLI command with no options: they cannot drift apart (a service
default of ``coreset`` once made a job pick other samples than ``labelscout select``'s
``auto``). A ``train`` job's params are exactly a :class:`~labelscout.config.TrainConfig`
without ``source`` (the dataset is the source).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Literal, Optional, Union

from dataclasses import MISSING, fields

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import InspectConfig, ModelConfig, SelectConfig, TrainConfig, VideoConfig
from ..errors import ConfigError, InputError

__all__ = ["JOB_KINDS", "ParamError", "job_config", "library_call", "dataset_file", "model_files", "validation_needs_labels",
           "EMBED_PARAMS"]


class ParamError(ValueError):
    """A job parameter is wrong; ``param`` names it (dotted for nested values)."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param, self.message = param, message


def _default(config: type, name: str) -> Any:
    """The default of field ``name`` of the library's config dataclass ``config``."""
    f = {f.name: f for f in fields(config)}[name]
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise KeyError(f"{config.__name__}.{name} has no default")


def _from(config: type, name: str, **constraints: Any) -> Any:
    """A pydantic field whose default is the library config's."""
    f = {f.name: f for f in fields(config)}[name]
    if f.default_factory is not MISSING:
        return Field(default_factory=f.default_factory, **constraints)
    return Field(_default(config, name), **constraints)


class _Embedding(BaseModel):
    """How samples are embedded (the options every embedding command shares)."""

    model_config = ConfigDict(extra="forbid", strict=False)
    model: Optional[str] = _from(ModelConfig, "model")
    arch: Optional[str] = _from(ModelConfig, "arch")
    weights: Optional[str] = _from(ModelConfig, "weights")
    device: str = _from(ModelConfig, "device")
    batch_size: int = _from(ModelConfig, "batch_size", ge=1)
    workers: Optional[int] = _from(ModelConfig, "workers", ge=0)
    fps: Union[float, Literal["all"]] = _from(VideoConfig, "fps")
    sequence_length: int = _from(VideoConfig, "sequence_length", ge=1)
    keyframes_only: bool = _from(VideoConfig, "keyframes_only")


class EmbedParams(_Embedding):
    pass


class SelectParams(_Embedding):
    n: Union[int, float, str]  # required: a job states its budget
    strategy: str = _from(SelectConfig, "strategy")
    metric: Literal["cosine", "l2"] = _from(SelectConfig, "metric")
    space: Optional[Literal["raw", "norm", "pca", "umap"]] = _from(SelectConfig, "space")
    space_dim: Optional[int] = _from(SelectConfig, "space_dim", ge=1)
    seed: int = _from(SelectConfig, "seed", ge=0)
    strategy_params: dict[str, Any] = _from(SelectConfig, "strategy_params")
    exclude: list[str] = Field(default_factory=list)  # the config's None: nothing excluded
    labels: str = _from(SelectConfig, "labels")
    label_column: Optional[str] = _from(SelectConfig, "label_column")
    frame_format: Literal["jpg", "png", "none"] = _from(SelectConfig, "frame_format")
    report: bool = _from(SelectConfig, "report")
    dedupe: bool = _from(SelectConfig, "dedupe")
    near_dup_threshold: Optional[float] = _from(SelectConfig, "near_dup_threshold", ge=0)
    near_dup_ratio: Optional[float] = _from(SelectConfig, "near_dup_ratio")
    # the id of another dataset on the server: the validation images fisher-match / density-match
    # match the pool to (the CLI's --validation folder; the server resolves the id to its folder)
    validation: Optional[str] = Field(_default(SelectConfig, "validation"), min_length=1, max_length=200,
                                      pattern=r"^[A-Za-z0-9_-]+$")
    # a model's class probabilities and features: files of the job's dataset, named by their path in it
    # (e.g. preds.csv beside the images in the uploaded zip; the server resolves it under the dataset)
    predictions: Optional[str] = Field(_default(SelectConfig, "predictions"), min_length=1, max_length=1000)
    logits: bool = _from(SelectConfig, "logits")
    features: Optional[str] = Field(_default(SelectConfig, "features"), min_length=1, max_length=1000)


class InspectParams(_Embedding):
    detectors: list[str] = _from(InspectConfig, "detectors")
    near_dup_threshold: Optional[float] = Field(None, ge=0)  # the CLI's options, turned into detector_params
    near_dup_ratio: Optional[float] = None
    contamination: Optional[float] = Field(None, ge=0, le=0.5)
    labels: str = _from(InspectConfig, "labels")
    label_column: Optional[str] = _from(InspectConfig, "label_column")


class ReportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job: str = Field(..., description="The finished select job whose run folder the report explains.")


_MODELS: dict[str, type[BaseModel]] = {"embed": EmbedParams, "select": SelectParams, "inspect": InspectParams,
                                       "report": ReportParams}
#: job kinds and whether they run on a dataset (a report runs on a finished job)
JOB_KINDS: dict[str, bool] = {"embed": True, "select": True, "inspect": True, "train": True, "report": False}
#: TrainConfig's fields a train job may set (the dataset is its source)
TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig) if f.name != "source")
EMBED_PARAMS = tuple(_Embedding.model_fields)

_PARAM_IN_MESSAGE = re.compile(r"'(\w+)' parameter")
_NESTED_IN_MESSAGE = re.compile(r"TrainConfig\.(\w+) has no [\w ]*?'(\w+)'")


def job_config(kind: str, params: dict[str, Any], *, pool_size: int | None = None) -> dict[str, Any]:
    """Validate ``params`` of a ``kind`` job; return the config (JSON-safe, every
    default filled in) that :func:`library_call` turns into the library call.

    ``pool_size``: files in the dataset, to refuse an impossible budget ``n`` now."""
    if kind not in JOB_KINDS:
        raise ParamError("kind", f"must be one of {sorted(JOB_KINDS)}; got {kind!r}.")
    if not isinstance(params, dict):
        raise ParamError("params", f"must be an object; got {type(params).__name__}.")
    if kind == "train":
        return _train_config(params)
    try:
        model = _MODELS[kind].model_validate(params)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or "params"
        msg = "is not a parameter of a {} job (allowed: {})".format(kind, ", ".join(sorted(_MODELS[kind].model_fields))) \
            if err["type"] == "extra_forbidden" else f"{err['msg']} (got {err.get('input')!r})"
        raise ParamError(name, msg) from None
    config = model.model_dump(mode="json")
    try:
        _library_checks(kind, config, pool_size)
    except (ConfigError, InputError) as exc:
        found = _PARAM_IN_MESSAGE.search(exc.message)
        raise ParamError(found.group(1) if found else "params", str(exc)) from None
    return config


def _train_config(params: dict[str, Any]) -> dict[str, Any]:
    """A train job's params: a TrainConfig without ``source``, checked by the library
    (TrainConfig, then the trainer's own parameter rules) before the job is queued."""
    if "source" in params:
        raise ParamError("source", "is the job's dataset; it is not a parameter of a train job")
    unknown = sorted(set(params) - set(TRAIN_FIELDS))
    if unknown:
        raise ParamError(unknown[0], f"is not a parameter of a train job (allowed: {', '.join(TRAIN_FIELDS)})")
    monitor = (params.get("params") or {}).get("monitor", "auto") if isinstance(params.get("params"), dict) else "auto"
    if monitor not in ("auto", "none"):
        raise ParamError("params.monitor", f"must be 'auto' or 'none' in a job (a folder names files on the server); got {monitor!r}")
    try:
        cfg = TrainConfig.from_dict({**params, "source": "dataset"}).validate()
        from ..ssl.trainer import SSLTrainer

        SSLTrainer(cfg.method, epochs=cfg.epochs, batch_size=cfg.batch_size, **cfg.params)._validate()
    except ConfigError as exc:
        nested = _NESTED_IN_MESSAGE.search(exc.message)
        found = _PARAM_IN_MESSAGE.search(exc.message)
        if nested:
            name = f"{nested.group(1)}.{nested.group(2)}"
        elif found:
            name = found.group(1) if found.group(1) in TRAIN_FIELDS else f"params.{found.group(1)}"
        else:
            name = "params"
        raise ParamError(name, str(exc)) from None
    config = cfg.to_dict()
    del config["source"]
    return config


def _library_checks(kind: str, config: dict[str, Any], pool_size: int | None) -> None:
    """The library's own validation of values pydantic cannot know (strategy names and
    their parameters, detector names, video options, the budget)."""
    from ..sources.video import VideoOptions

    if kind in ("embed", "select", "inspect"):
        VideoOptions(fps=None if config["fps"] == "all" else config["fps"], sequence_length=config["sequence_length"],
                     keyframes_only=config["keyframes_only"])
    if kind == "select":
        from .._validation import resolve_n
        from ..space.transform import Space, resolve_space
        from ..strategies import STRATEGIES, get_strategy

        if config["strategy"] not in STRATEGIES:
            raise ConfigError(f"The 'strategy' parameter must be one of {sorted(STRATEGIES)}. Got {config['strategy']!r} instead.")
        Space(resolve_space(config["space"], config["metric"]).name, dim=config["space_dim"], seed=config["seed"]).validate()
        accepted = STRATEGIES[config["strategy"]]._param_names()
        sp = dict(config["strategy_params"])
        for name in ("metric", "seed"):
            if name in accepted:
                sp.setdefault(name, "l2" if name == "metric" else config["seed"])
        bad = [k for k in sp if k not in accepted or k == "n"]
        if bad:
            raise ParamError(f"strategy_params.{bad[0]}", f"is not a parameter of the {config['strategy']} strategy "
                             f"(it has: {', '.join(a for a in accepted if a != 'n')})")
        try:
            selector = get_strategy(config["strategy"], n=config["n"], **sp)
            if config["validation"] is not None:
                _check_validation(selector, config)
            selector._validate_params()
        except ConfigError as exc:
            found = _PARAM_IN_MESSAGE.search(exc.message)
            if found and found.group(1) in config["strategy_params"]:
                raise ParamError(f"strategy_params.{found.group(1)}", str(exc)) from None
            if re.search(r"needs a (labeled )?validation set", exc.message):
                raise ParamError("validation", f"strategy {config['strategy']!r} needs a validation dataset: pass the id "
                                               "of the dataset of validation images") from None
            raise
        _check_model_files(selector, config)
        if pool_size is not None:
            try:
                resolve_n(config["n"], pool_size)
            except (ConfigError, InputError) as exc:
                raise ParamError("n", str(exc)) from None
        if config["labels"] not in ("auto", "folders", "none"):
            raise ConfigError("The 'labels' parameter must be auto, folders or none in a job (a labels CSV is part of "
                              f"the dataset: auto reads class folders). Got {config['labels']!r} instead.")
    if kind == "inspect":
        from ..detectors._runner import make_detectors, option_params

        make_detectors(config["detectors"], option_params(config["detectors"], near_dup_threshold=config["near_dup_threshold"],
                                                          near_dup_ratio=config["near_dup_ratio"],
                                                          contamination=config["contamination"]))


def _check_validation(selector: Any, config: dict[str, Any]) -> None:
    """A validation dataset only for a strategy that takes one, in a space it can be put in
    (the same rules as ``labelscout select --validation``, checked before the job is queued)."""
    from ..space.transform import resolve_space
    from ..strategies._validation_set import accepts_validation, attach_validation, validation_strategy_names

    if not accepts_validation(selector):
        raise ParamError("validation", f"is used by {validation_strategy_names()}; strategy {config['strategy']!r} "
                                       "does not use it (use one of those, or a combine with one as a component)")
    space = resolve_space(config["space"], config["metric"]).name
    if space not in ("raw", "norm"):
        raise ParamError("validation", f"needs a space without a fitted re-embedding (raw or norm); got {space!r}")
    attach_validation(selector, validation_vectors=[], validation_labels=[])  # the vectors come when the task embeds it


def _check_model_files(selector: Any, config: dict[str, Any]) -> None:
    """``predictions`` / ``features`` name files inside the dataset (relative, no ``..``), and
    only for a prediction-based strategy (the rules of ``labelscout select --predictions``)."""
    from ..strategies._predictive import uses_predictions
    from .uploads import UploadRefused, safe_relative

    for name in ("predictions", "features"):
        value = config[name]
        if value is None:
            continue
        try:
            safe_relative(value, name)  # the rule uploaded archive members follow
        except UploadRefused:
            raise ParamError(name, f"must be the path of a file inside the job's dataset (e.g. preds.csv); got {value!r}") from None
        if not uses_predictions(selector):
            raise ParamError(name, f"is used by the prediction-based strategies (uncertainty, badge, fisher-match); "
                                   f"strategy {config['strategy']!r} does not use it")
    if config["logits"] and config["predictions"] is None:
        raise ParamError("logits", "describes a predictions file; none was given")


def dataset_file(root: "Path", rel: str) -> "Path | None":
    """``rel`` resolved under the dataset ``root``, or None when it is not a file there
    (symbolic links that lead out of the dataset included)."""
    from pathlib import Path

    base = Path(root).resolve()
    path = (base / rel.replace("\\", "/")).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


def model_files(config: dict[str, Any]) -> dict[str, str]:
    """The params of a select job that name files of its dataset -> their paths in it."""
    return {name: config[name] for name in ("predictions", "features") if config.get(name) is not None}


def validation_needs_labels(config: dict[str, Any]) -> bool:
    """Whether a select job's strategy needs class folders in its validation dataset
    (fisher-match does; density-match does not)."""
    from ..strategies import STRATEGIES, get_strategy
    from ..strategies._validation_set import validation_labels_needed

    accepted = STRATEGIES[config["strategy"]]._param_names()
    sp = {k: v for k, v in config["strategy_params"].items() if k in accepted}
    return validation_labels_needed(get_strategy(config["strategy"], n=config["n"], **sp))


def _embed_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    kw = {k: config[k] for k in EMBED_PARAMS}
    kw["fps"] = None if kw["fps"] == "all" else kw["fps"]
    return kw


def library_call(kind: str, config: dict[str, Any]) -> Callable[..., Any]:
    """The library call a job of ``kind`` makes, as ``call(source, out=..., cache_dir=...,
    reporter=...)`` (``reporter``: a :class:`labelscout.reporting.Reporter` for its progress;
    silent when not given). A select job's ``validation``, ``predictions`` and ``features``
    must be paths by then: the task resolves the stored dataset id and the paths inside the
    dataset (see :func:`model_files`)."""
    from .. import api

    if kind == "embed":
        return lambda source, **io: api.embed(source, **_embed_kwargs(config), progress=False, **io)
    if kind == "select":
        c = config
        return lambda source, **io: api.select(
            source, c["n"], strategy=c["strategy"], metric=c["metric"], space=c["space"], space_dim=c["space_dim"],
            seed=c["seed"], strategy_params=c["strategy_params"], exclude=c["exclude"], labels=c["labels"],
            label_column=c["label_column"], frame_format=None if c["frame_format"] == "none" else c["frame_format"],
            report=c["report"], dedupe=c["dedupe"], near_dup_threshold=c["near_dup_threshold"],
            near_dup_ratio=c["near_dup_ratio"], validation=c.get("validation"), predictions=c.get("predictions"),
            logits=c.get("logits", False), features=c.get("features"), progress=False, **_embed_kwargs(c), **io)
    if kind == "inspect":
        from ..detectors._runner import option_params

        c = config
        det_params = option_params(c["detectors"], near_dup_threshold=c["near_dup_threshold"],
                                   near_dup_ratio=c["near_dup_ratio"], contamination=c["contamination"])
        return lambda source, **io: api.inspect(source, detectors=c["detectors"], detector_params=det_params,
                                                labels=c["labels"], label_column=c["label_column"], progress=False,
                                                **_embed_kwargs(c), **io)
    if kind == "report":
        return lambda run_dir, out, reporter=None, **_: api.report(run_dir, out=out / "report.html", progress=False,
                                                                   reporter=reporter)
    if kind == "train":
        # no embedding cache: training reads the images themselves
        return lambda source, out, cache_dir=None, **io: api.run_train(TrainConfig.from_dict({**config, "source": str(source)}),
                                                                       out=out, **io)
    raise ParamError("kind", f"unknown job kind {kind!r}")
