"""The public Python API. The CLI, the web service and the workers call these functions
and hold no logic of their own.

>>> import labelscout
>>> result = labelscout.select("images/", n=1000, out="runs/first")   # doctest: +SKIP
>>> result.selection.ids[:3]                                            # doctest: +SKIP
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .config import EmbedConfig, InspectConfig, ModelConfig, SelectConfig, TrainConfig, VideoConfig, config_from
from .detectors._runner import DEFAULT_DETECTORS
from .embed.embedder import EmbedResult
from .embed.store import EmbeddingSet
from .errors import ConfigError
from .pool import Pool
from .reporting import Reporter, as_reporter
from .results import Issues, Selection
from .runs.outputs import write_issues
from .runs.context import RunContext
from .runs.ids import read_id_file
from .runs.record import INSPECT_FILE, RunRecord
from .sources.video import DEFAULT_FPS
from . import pipeline

__all__ = ["select", "embed", "inspect", "train", "report", "run_select", "run_embed", "run_inspect", "run_train",
           "SelectResult", "InspectResult", "read_id_file"]

log = logging.getLogger(__name__)

#: what a run records as its origin when the caller does not say
API_ORIGIN = "python api"


@dataclass
class SelectResult:
    selection: Selection
    embeddings: EmbeddingSet
    record: RunRecord
    issues: Issues = field(default_factory=Issues)
    out: Path | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line: what was selected from what, what was skipped and why, where it went."""
        pool = len(self.embeddings)
        line = f"Selected {len(self.selection)} of {pool} samples with {self.selection.strategy}"
        if "duplicates_dropped" in self.record.counts:
            line += f" ({self.record.counts['duplicates_dropped']} duplicates left out)"
        line += "".join(f"; {note}" for note in self.record.input_notes())
        if self.out is not None:
            line += f" -> {self.out / 'selection.txt'}"
        return line


@dataclass
class InspectResult:
    issues: Issues  # every detector's rows; ``issues.failures`` lists detectors that failed or could not run
    embeddings: EmbeddingSet
    record: RunRecord
    detectors: dict[str, Any] = field(default_factory=dict)  # name -> fitted detector
    out: Path | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line: what each detector flagged, which failed, where the table went."""
        counts = self.issues.counts()
        parts = []
        for name, det in self.detectors.items():
            if any(f["detector"] == name for f in self.issues.failures):
                continue
            flagged = counts.get(det.issue, {}).get("flagged", 0)
            groups = getattr(det, "groups_", None)
            parts.append(f"{det.issue.replace('_', ' ')}s: {flagged} flagged" + (f" in {len(groups)} group(s)" if groups is not None else ""))
        line = f"Inspected {len(self.embeddings)} samples: " + (", ".join(parts) if parts else "no detector ran")
        if self.issues.failures:
            line += "; " + "; ".join(f"{f['detector']} {'' if f['error'].startswith('skipped') else 'failed: '}{f['error']}"
                                     for f in self.issues.failures)
        line += "".join(f"; {note}" for note in self.record.input_notes())
        if self.out is not None:
            line += f" -> {self.out / 'issues.csv'}"
        return line


def _reporter(reporter: Reporter | None, progress: bool | None) -> Reporter:
    return reporter if reporter is not None else as_reporter(progress)


def report(run_dir: str | Path, *, root: str | Path | None = None, out: str | Path | None = None,
           progress: bool | None = None, reporter: Reporter | None = None) -> Path:
    """Write the HTML report of a finished run folder (``RUN_DIR/report.html`` unless
    ``out`` names another file) and return its path. ``root``: where the sample files
    are, when they moved since the run."""
    from .report.build import write_report

    return write_report(run_dir, out, root=root, progress=_reporter(reporter, progress))


def _model_config(model, arch, weights, device, batch_size, workers, cache_dir) -> ModelConfig:
    return ModelConfig(model=model, arch=arch, weights=str(weights) if weights is not None else None, device=device,
                       batch_size=batch_size, workers=workers, cache_dir=str(cache_dir) if cache_dir is not None else None)


def embed(
    source: str | Path,
    *,
    out: str | Path | None = None,
    model: str | None = None,
    arch: str | None = None,
    weights: str | None = None,
    device: str = "auto",
    batch_size: int = 256,
    workers: int | None = None,
    cache_dir: str | Path | None = "default",
    progress: bool | None = None,
    reporter: Reporter | None = None,
    fps: float | str | None = DEFAULT_FPS,
    sequence_length: int = 1,
    keyframes_only: bool = False,
    origin: str | None = None,
) -> EmbedResult:
    """Embed every image and video under ``source``; with ``out``, save to ``out/embeddings/``
    and write ``out/run.json``. Re-runs embed only new content.

    Videos are decoded in memory at ``fps`` frames per second of video ("all" for every
    frame); ``sequence_length`` > 1 makes each sample a clip of that many sampled frames;
    ``keyframes_only`` decodes keyframes only (fast, coarse). ``reporter``: progress, log
    lines and cancellation (see :mod:`labelscout.reporting`); ``origin``: who started the
    run, recorded in run.json."""
    config = EmbedConfig(source=str(source), model=_model_config(model, arch, weights, device, batch_size, workers, cache_dir),
                         video=VideoConfig(fps=fps, sequence_length=sequence_length, keyframes_only=keyframes_only))
    return run_embed(config, out=out, reporter=_reporter(reporter, progress), origin=origin)


def run_embed(config: EmbedConfig | dict, *, out: str | Path | None = None, reporter: Reporter | None = None,
              origin: str | None = None) -> EmbedResult:
    """The embed job for a config (see :func:`embed`)."""
    cfg = config_from(config, EmbedConfig)
    opened = pipeline.open_source(cfg.source)
    with RunContext(cfg, origin=origin or API_ORIGIN, out=out, reporter=reporter, inputs=[cfg.source]) as ctx:
        result = pipeline.embed_source(ctx, opened.value, cfg.model, cfg.video)
        result.notes = ctx.record.input_notes()  # what the summary line says about skipped / left-out input
        if ctx.out is not None:
            result.embeddings.save(ctx.out / "embeddings")
    return result


def inspect(
    source: str | Path | EmbeddingSet,
    *,
    out: str | Path | None = None,
    detectors: Sequence[str] = DEFAULT_DETECTORS,
    detector_params: dict[str, dict[str, Any]] | None = None,
    labels: str | None = "auto",
    label_column: str | None = None,
    model: str | None = None,
    arch: str | None = None,
    weights: str | None = None,
    device: str = "auto",
    batch_size: int = 256,
    workers: int | None = None,
    cache_dir: str | Path | None = "default",
    progress: bool | None = None,
    reporter: Reporter | None = None,
    fps: float | str | None = DEFAULT_FPS,
    sequence_length: int = 1,
    keyframes_only: bool = False,
    origin: str | None = None,
) -> InspectResult:
    """Find exact duplicates, near-duplicate groups, outliers (and, with labels and
    ``"label-errors"`` among ``detectors``, likely label errors) in ``source``.

    ``source``: as for :func:`select`. ``detector_params``: detector name -> parameters,
    e.g. ``{"near-duplicates": {"threshold": 0.03}}``. A detector that fails is recorded in
    ``result.issues.failures`` and the record, and logged; the others' results stand.
    With ``out``, writes ``issues.csv`` (id, issue, score, flag, evidence as JSON),
    ``embeddings/`` and its own record ``inspect.json`` (a selection's run.json in the same
    folder is left alone).
    """
    in_memory = source if isinstance(source, EmbeddingSet) else None
    config = InspectConfig(source="" if in_memory is not None else str(source), detectors=list(detectors),
                           detector_params=dict(detector_params or {}), labels=labels, label_column=label_column,
                           model=_model_config(model, arch, weights, device, batch_size, workers, cache_dir),
                           video=VideoConfig(fps=fps, sequence_length=sequence_length, keyframes_only=keyframes_only))
    return run_inspect(config, out=out, reporter=_reporter(reporter, progress), origin=origin, pool=in_memory)


def run_inspect(config: InspectConfig | dict, *, out: str | Path | None = None, reporter: Reporter | None = None,
                origin: str | None = None, pool: EmbeddingSet | None = None) -> InspectResult:
    """The inspect job for a config (see :func:`inspect`); ``pool``: vectors in memory
    instead of ``config.source`` (such a run is recorded but cannot be replayed)."""
    cfg = _validated(config, InspectConfig, in_memory=pool is not None)
    dets = cfg.make_detectors()
    opened = pipeline.open_source(pool if pool is not None else cfg.source)
    with RunContext(cfg, origin=origin or API_ORIGIN, out=out, reporter=reporter, record_file=INSPECT_FILE,
                    inputs=[cfg.source]) as ctx:
        loaded = pipeline.load_pool(ctx, opened, cfg.model, cfg.video)
        emb = loaded.embeddings
        labels = None
        if any("labels" in d.required() for d in dets.values()):
            labels = pipeline.pool_labels(ctx, emb, cfg.labels, cfg.label_column)
        issues = pipeline.detect(ctx, dets, Pool.from_embeddings(emb, labels=labels), model_id=emb.model_id)
        if ctx.out is not None:
            with ctx.stage("write"):
                write_issues(ctx.out, issues)
        record = ctx.record
        record.counts.update({"pool": len(emb), "skipped": len(loaded.skipped), "issue_rows": len(issues),
                              **{f"{t}_flagged": c["flagged"] for t, c in issues.counts().items()}})
        record.extra["issues"] = issues.counts()
        record.extra["detector_failures"] = issues.failures
        record.extra["groups"] = {n: len(d.groups_) for n, d in dets.items() if hasattr(d, "groups_")}
    return InspectResult(issues, emb, ctx.record, dets, ctx.out, loaded.skipped)


def _validated(config: Any, cls: type, *, in_memory: bool) -> Any:
    """``config`` validated; a run on vectors given in memory has no source to check."""
    if not in_memory:
        return config_from(config, cls)
    cfg = config if isinstance(config, cls) else cls.from_dict(config)
    if getattr(cfg, "source", None) or getattr(cfg, "embeddings", None):
        raise ConfigError(f"Give either vectors in memory or a source in the {cls.__name__}, not both.")
    placeholder = "<in-memory embeddings>"
    checked = config_from(cfg.replace(source=placeholder), cls)
    return checked.replace(source=None if cls is SelectConfig else "")


def select(
    source: str | Path | EmbeddingSet | None = None,
    n: int | float | str = 1000,
    *,
    out: str | Path | None = None,
    strategy: str = "auto",
    metric: str = "cosine",
    space: str | None = None,
    space_dim: int | None = None,
    embeddings: str | Path | None = None,
    ids: str | Path | None = None,
    seed: int = 0,
    exclude: str | Path | Sequence[str] | None = None,
    labels: str | None = "auto",
    label_column: str | None = None,
    place: str | None = None,
    model: str | None = None,
    arch: str | None = None,
    weights: str | None = None,
    device: str = "auto",
    batch_size: int = 256,
    workers: int | None = None,
    cache_dir: str | Path | None = "default",
    progress: bool | None = None,
    reporter: Reporter | None = None,
    strategy_params: dict[str, Any] | None = None,
    fps: float | str | None = DEFAULT_FPS,
    sequence_length: int = 1,
    keyframes_only: bool = False,
    frame_format: str | None = "jpg",
    report: bool = True,
    dedupe: bool = False,
    near_dup_threshold: float | None = None,
    near_dup_ratio: float | None = None,
    predictions: str | Path | None = None,
    logits: bool = False,
    features: str | Path | None = None,
    validation: str | Path | None = None,
    origin: str | None = None,
) -> SelectResult:
    """Pick ``n`` samples worth labeling from ``source``.

    ``source``: a folder or file of images, a saved embeddings folder, or an
    :class:`EmbeddingSet`. ``n``: a count, a fraction or "P%". ``exclude``: ids already
    labeled (a list, or a file of ids); they are never picked and count as covered.
    ``labels``: "auto" (class folders when present), "folders", "none" or a CSV path.
    ``place``: "copy" or "link" the selected files into ``out/selected/``.
    Videos: decoded in memory at ``fps`` (see :func:`embed`); the selected frames are written
    at full resolution to ``out/frames/`` as ``frame_format`` ("jpg", "png"; None: not written).
    With ``out``, writes the run folder (selection.txt, selection.csv, embeddings/, run.json)
    and, unless ``report=False``, the HTML report (report.html).

    ``space``: the geometry the selection works in: "raw" (L2), "norm" (cosine), "pca" or
    "umap" (unit vectors re-embedded to ``space_dim`` dims); see
    :mod:`labelscout.space.transform`. Precedence: ``space`` wins when given; otherwise
    ``metric`` picks it (cosine -> norm, l2 -> raw). Fitted pca/umap spaces are cached in
    ``out/space/``. ``embeddings`` (+ ``ids``): precomputed vectors (.npy + ids file, or a
    CSV / parquet table; see :func:`labelscout.sources.precomputed.load_precomputed`)
    instead of ``source``; give exactly one of the two.
    ``dedupe``: find exact duplicates and near-duplicate groups first (threshold
    ``near_dup_threshold``, local ratio test ``near_dup_ratio``, see
    :class:`~labelscout.detectors.NearDuplicateDetector`), in the selection's space, and
    leave every non-representative out of the candidates (already-labeled ids are never
    left out); the groups go to ``issues.csv`` so the report shows them.
    ``reporter``: progress, log lines and cancellation (see :mod:`labelscout.reporting`);
    ``origin``: who started the run, recorded in run.json (default "python api").

    Active learning (``uncertainty``, ``badge``, ``fisher-match``; see
    :mod:`labelscout.strategies._predictive`): ``predictions`` is a file of the model's class
    probabilities (``logits=True``: raw scores), ``features`` its per-sample features (see
    :mod:`labelscout.sources.predictions`); without them a logistic head on the embeddings,
    trained on the labeled samples, predicts. ``validation``: a folder of labeled images
    (class folders) that ``fisher-match`` matches the pool to; it is embedded with the
    pool's model.

    The keyword form of :func:`run_select`: the arguments become a :class:`SelectConfig`,
    recorded whole in run.json, so ``labelscout select --config RUN/run.json`` replays it.
    """
    in_memory = source if isinstance(source, EmbeddingSet) else None
    exclude_ids, exclude_file = None, None
    if isinstance(exclude, (str, Path)):
        exclude_ids, exclude_file = read_id_file(exclude, what="--exclude file"), str(exclude)
    elif exclude is not None:
        exclude_ids = [str(i) for i in exclude]
    config = SelectConfig(
        source=None if in_memory is not None or source is None else str(source), n=n, strategy=strategy,
        strategy_params=dict(strategy_params or {}), metric=metric, space=space, space_dim=space_dim,
        embeddings=str(embeddings) if embeddings is not None else None, ids=str(ids) if ids is not None else None,
        seed=seed, exclude=exclude_ids, exclude_file=exclude_file, labels=labels, label_column=label_column, place=place,
        dedupe=dedupe, near_dup_threshold=near_dup_threshold, near_dup_ratio=near_dup_ratio, frame_format=frame_format,
        report=report, model=_model_config(model, arch, weights, device, batch_size, workers, cache_dir),
        video=VideoConfig(fps=fps, sequence_length=sequence_length, keyframes_only=keyframes_only),
        predictions=str(predictions) if predictions is not None else None, logits=logits,
        features=str(features) if features is not None else None,
        validation=str(validation) if validation is not None else None)
    return run_select(config, out=out, reporter=_reporter(reporter, progress), origin=origin, pool=in_memory)


def run_select(config: SelectConfig | dict, *, out: str | Path | None = None, reporter: Reporter | None = None,
               origin: str | None = None, pool: EmbeddingSet | None = None) -> SelectResult:
    """The select job for a config: load pool -> embed -> space -> detect (dedupe) ->
    select -> write -> report. ``pool``: vectors in memory instead of a source (recorded,
    not replayable). Everything is validated before the run folder is created."""
    from ._validation import resolve_n

    cfg = _validated(config, SelectConfig, in_memory=pool is not None)
    selector = cfg.make_selector()
    pipeline.check_model_inputs(selector, cfg)
    dedupers = cfg.make_dedupers()
    space = cfg.space_spec()
    opened = pipeline.open_source(pool if pool is not None else cfg.source, embeddings=cfg.embeddings, ids=cfg.ids)
    if opened.n_images is not None:
        resolve_n(cfg.n, opened.n_images)  # an impossible budget fails before the folder or any embedding
    with RunContext(cfg, origin=origin or API_ORIGIN, out=out, reporter=reporter, seed=cfg.seed,
                    inputs=[cfg.source, cfg.embeddings]) as ctx:
        loaded = pipeline.load_pool(ctx, opened, cfg.model, cfg.video)
        emb = loaded.embeddings
        exclude_ids = pipeline.resolve_excluded(ctx, cfg.exclude, emb.ids)
        labels = pipeline.pool_labels(ctx, emb, cfg.labels, cfg.label_column)
        with ctx.stage("model_inputs"):
            model_inputs = pipeline.model_inputs(ctx, selector, emb, cfg, labels=labels, space=space)
        vectors = pipeline.space_of_pool(ctx, emb, space)
        in_space = Pool.from_embeddings(emb, labels=labels, vectors=vectors, **model_inputs)
        issues, candidates = None, None
        if dedupers:  # in the selection's space: what is a duplicate there is what the strategy would see twice
            # the per-model near-duplicate calibration holds in the model's own space only
            issues, candidates = pipeline.dedupe(ctx, dedupers, in_space, exclude_ids,
                                                 model_id=emb.model_id if space.kind == "raw" else None)
        selection = pipeline.select_from_pool(ctx, selector, in_space, exclude_ids, candidates)
        ctx.record.counts.update({"pool": len(emb), "selected": len(selection), "excluded": len(exclude_ids),
                                  "skipped": len(loaded.skipped)})
        pipeline.write_selection_outputs(ctx, selection, loaded, issues=issues, exclude_ids=exclude_ids, place=cfg.place,
                                         frame_format=cfg.frame_format, workers=cfg.model.workers)
        if ctx.out is not None and cfg.report:
            pipeline.report_of_run(ctx)
    return SelectResult(selection, emb, ctx.record, issues=issues if issues is not None else Issues(), out=ctx.out,
                        skipped=loaded.skipped)


def train(source: str | Path, out: str | Path, *, method: str = "simclr", epochs: int = 100, batch_size: int = 256,
          temporal: dict[str, Any] | None = None, init: str | Path | None = None, progress: bool | None = None, reporter: Reporter | None = None,
          origin: str | None = None, **params: Any) -> Path:
    """Train an embedding model on the images under ``source`` with self-supervision
    (SimCLR, SwAV or an autoencoder) and return the model folder ``out`` (use it with
    ``select(..., model=out)``). Rerunning resumes after the last finished epoch. Other
    keyword arguments are those of :class:`labelscout.ssl.SSLTrainer` (lr, width, blocks,
    embedding_dim, seed, device, monitor, ...); ``temporal``: a dict of fps / max_dt /
    min_gap to train on videos with temporally close frames as positives; ``init``: a
    pretrained model to continue from instead of random weights (``efficientnet-lite0``,
    any package, built-in or hub model, or a model folder)."""
    config = TrainConfig(source=str(source), method=method, epochs=epochs, batch_size=batch_size, params=params,
                         temporal=temporal, init=None if init is None else str(init))
    return run_train(config, out=out, reporter=_reporter(reporter, progress), origin=origin)


def run_train(config: TrainConfig | dict, *, out: str | Path, reporter: Reporter | None = None,
              origin: str | None = None) -> Path:
    """The train job for a config (see :func:`train`); the trainer writes its own record
    (train.json) with the full configuration; ``origin`` is added to it."""
    from .ssl.trainer import train_model

    cfg = config_from(config, TrainConfig)
    model_dir = train_model(cfg.source, out, method=cfg.method, epochs=cfg.epochs, batch_size=cfg.batch_size,
                            temporal=cfg.temporal, init=cfg.init, progress=reporter if reporter is not None else Reporter(),
                            **cfg.params)
    _add_origin(Path(model_dir) / "train.json", cfg, origin or API_ORIGIN)
    return Path(model_dir)


def _add_origin(path: Path, cfg: TrainConfig, origin: str) -> None:
    import json

    from .runs.atomic import atomic_write_json

    if path.is_file():
        record = json.loads(path.read_text(encoding="utf-8"))
        record.update({"origin": origin, "config_type": type(cfg).__name__, "train_config": cfg.to_dict()})
        atomic_write_json(path, record)
