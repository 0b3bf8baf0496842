"""The stages every job is made of, in pipeline order:

    load pool -> embed -> space -> detect -> select -> write

Each stage is one function that takes the run's :class:`~labelscout.runs.context.RunContext`
(record, timings, reporter, folder) and plain inputs, and returns plain data. The jobs in
:mod:`labelscout.api` are these stages in sequence; a job service or a notebook can run
them one by one. Detectors and strategies see the same :class:`~labelscout.pool.Pool`,
in the run's space.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .config import ModelConfig, VideoConfig
from .embed.embedder import Embedder, EmbedResult
from .embed.store import SIDECAR_FILE, EmbeddingSet
from .errors import Cancelled, ConfigError, InputError
from .pool import Pool
from .results import Issues, Selection
from .runs.atomic import atomic_write_text
from .runs.context import RunContext
from .runs.ids import format_id_lines
from .runs.frames import frame_files, write_selected_frames
from .runs.outputs import place_selected_files, write_issues, write_selection
from .sources.collection import Collection, collect
from .sources.labels import resolve_labels
from .sources.precomputed import load_precomputed

__all__ = ["LoadedPool", "OpenedSource", "open_source", "embed_source", "load_pool", "check_model_inputs", "model_inputs", "load_embeddings", "space_of_pool", "pool_labels", "resolve_excluded",
           "detect", "dedupe", "select_from_pool", "write_selection_outputs", "report_of_run"]

log = logging.getLogger(__name__)


@dataclass
class LoadedPool:
    """The embedded pool and what loading it found."""

    embeddings: EmbeddingSet
    skipped: list[dict[str, str]] = field(default_factory=list)
    root: Path | None = None  # where the sample files are (None for precomputed vectors)


def embed_source(ctx: RunContext, source: str | Path | Collection, model: ModelConfig, video: VideoConfig) -> EmbedResult:
    """Stage *embed*: every image and video under ``source``, through the embedding cache."""
    embedder = Embedder(model.model, arch=model.arch, weights=model.weights, device=model.device,
                        batch_size=model.batch_size, workers=model.workers, cache_dir=model.cache_dir,
                        progress=ctx.reporter, video=video.options())
    with ctx.stage("embed"):
        result = embedder.embed(source)
    record = ctx.record
    record.device = result.stats.get("device")
    record.skipped = result.skipped
    record.counts.update({"pool": len(result.embeddings), "skipped": len(result.skipped),
                          "embedded_new": result.stats["embedded_new"], "from_cache": result.stats["from_cache"]})
    record.extra["embedding"] = {**result.stats, "model_id": result.embeddings.model_id,
                                 "fingerprint": result.embeddings.fingerprint, "dim": result.embeddings.dim}
    if result.collection is not None:
        record.extra["collection"] = {"root": str(result.collection.root), **result.collection.summary()}
    return result


@dataclass
class OpenedSource:
    """A job's input, opened but not yet embedded: a scanned :class:`Collection`, or vectors
    (precomputed, a saved embeddings folder, an :class:`EmbeddingSet` given in memory)."""

    value: Collection | EmbeddingSet
    info: dict[str, Any] = field(default_factory=dict)  # provenance for run.json["embedding"]
    keep_copy: bool = True  # whether the run folder stores the vectors (not for a saved folder: the report finds it)

    @property
    def n_images(self) -> int | None:
        """Samples known before embedding (None when videos make it unknown)."""
        if isinstance(self.value, EmbeddingSet):
            return len(self.value)
        return None if self.value.videos else len(self.value.images)


def open_source(source: Any = None, *, embeddings: str | None = None, ids: str | None = None) -> OpenedSource:
    """Stage *load pool*, first half: find the input and read what is cheap to read (the
    scan, precomputed vectors), so a missing path or an impossible budget fails before the
    run folder is created or anything is embedded."""
    if embeddings is not None:
        emb = load_precomputed(embeddings, ids)
        return OpenedSource(emb, {"precomputed": str(embeddings), "ids": str(ids) if ids is not None else None,
                                  "model_id": emb.model_id, "fingerprint": emb.fingerprint, "dim": emb.dim})
    if isinstance(source, EmbeddingSet):
        return OpenedSource(source)
    if isinstance(source, Collection):
        return OpenedSource(source)
    path = Path(source)
    if path.is_dir() and (path / SIDECAR_FILE).is_file():
        emb = EmbeddingSet.load(path)
        return OpenedSource(emb, {"loaded_from": str(path), "model_id": emb.model_id, "fingerprint": emb.fingerprint},
                            keep_copy=False)
    return OpenedSource(collect(path))


def load_pool(ctx: RunContext, opened: OpenedSource, model: ModelConfig, video: VideoConfig) -> LoadedPool:
    """Stage *load pool*, second half: embed a collection (what the cache lacks), record
    where the vectors came from, and keep them in the run folder (the report reads them)."""
    if isinstance(opened.value, Collection):
        result = embed_source(ctx, opened.value, model, video)
        loaded = LoadedPool(result.embeddings, result.skipped, result.collection.root if result.collection is not None else None)
    else:
        if opened.info:
            ctx.record.extra["embedding"] = opened.info
        loaded = LoadedPool(opened.value)
    if len(loaded.embeddings) == 0:
        raise InputError(f"No usable samples in {getattr(ctx.config, 'source', None) or 'the input'}: all {len(loaded.skipped)} files were skipped.",
                         hint="See the skipped list in run.json for each file's reason.")
    if ctx.out is not None and opened.keep_copy:
        loaded.embeddings.save(ctx.out / "embeddings")
    return loaded


def space_of_pool(ctx: RunContext, emb: EmbeddingSet, space: Any) -> np.ndarray:
    """Stage *space*: the pool's vectors in ``space`` (float32; L2 realises the geometry),
    recorded in run.json. raw and norm cost one pass and are not cached; a fitted pca / umap
    space is cached in ``out/space/`` keyed by the embeddings' content."""
    from .space.cache import space_in_run, vectors_fingerprint

    with ctx.stage("space"):
        if space.kind == "raw":
            t = time.perf_counter()
            vectors, info = space_in_run(None, np.asarray(emb.vectors), space, "")
            info.update(file=None, cached=False, fingerprint=None, seconds=round(time.perf_counter() - t, 4))
        else:
            vectors, info = space_in_run(ctx.out, np.asarray(emb.vectors), space, vectors_fingerprint(emb.vectors, emb.ids))
    # the report's space line reads "transform" and "metric"
    ctx.record.extra["space"] = {**info, "transform": None if space.kind == "raw" else info.get("name"), "metric": space.metric}
    return vectors


def pool_labels(ctx: RunContext, emb: EmbeddingSet, labels: str | None, label_column: str | None) -> list | None:
    """The pool's labels from ``labels`` ("auto", "folders", "none" or a CSV), recorded."""
    values, ctx.record.extra["labels_source"] = resolve_labels(labels, emb.ids, label_column)
    return values


def resolve_excluded(ctx: RunContext, exclude: Sequence[str] | None, pool_ids: Sequence[str]) -> list[str]:
    """The already-labeled ids that are in the pool (the others are logged and counted)."""
    given = list(exclude or [])
    known = set(pool_ids)
    unknown = [i for i in given if i not in known]
    if unknown:
        log.warning("%d excluded id(s) are not in the pool and are ignored, e.g. %s", len(unknown), unknown[:3])
    ctx.record.counts["excluded_not_in_pool"] = len(unknown)
    return [i for i in given if i in known]


def detect(ctx: RunContext, detectors: dict[str, Any], pool: Pool, *, stage: str = "detect",
           model_id: str | None = None) -> Issues:
    """Stage *detect*: every detector on ``pool``; failures are recorded, not raised.
    ``model_id``: the model whose embedding ``pool.vectors`` are (None when they are in another
    space, e.g. PCA): detectors with a per-model calibration left unset (the near-duplicate
    threshold) use the one of that model."""
    from .detectors._runner import run_detectors

    for det in detectors.values():
        if model_id is not None and hasattr(det, "use_calibration_of"):
            det.use_calibration_of(model_id)
    with ctx.stage(stage):
        return run_detectors(detectors, pool, timings=ctx.record.timings, reporter=ctx.reporter)


def dedupe(ctx: RunContext, dedupers: dict[str, Any], pool: Pool, keep_ids: Sequence[str], *,
           model_id: str | None = None) -> tuple[Issues, np.ndarray]:
    """Duplicate detectors on ``pool`` (in the run's space, as the strategy will see it);
    return their issues and the rows left as candidates (every row but the flagged
    non-representatives; ``keep_ids``, the labeled ones, stay). A failing detector is
    recorded: a selection without de-duplication is still a selection."""
    from .detectors._runner import duplicates_to_drop

    issues = detect(ctx, dedupers, pool, stage="dedupe", model_id=model_id)
    drop = set(duplicates_to_drop(issues, keep=keep_ids))
    candidates = np.array([i for i, sid in enumerate(pool.ids) if sid not in drop], dtype=np.int64)
    ctx.record.counts["duplicates_dropped"] = len(drop)
    ctx.record.extra["dedupe"] = {"issues": issues.counts(), "failures": issues.failures,
                                  "groups": {n: len(d.groups_) for n, d in dedupers.items() if hasattr(d, "groups_")}}
    for f in issues.failures:
        log.warning("--dedupe: %s did not run (%s)", f["detector"], f["error"])
    return issues, candidates


def select_from_pool(ctx: RunContext, selector: Any, pool: Pool, exclude_ids: Sequence[str],
                     candidates: np.ndarray | None = None) -> Selection:
    """Stage *select*: fit ``selector`` on ``pool`` (or on the ``candidates`` rows only;
    positions map back to the pool) and return the selection with label and metadata columns."""
    with ctx.stage("select"), ctx.reporter.stage(f"selecting ({selector.name})", total=1) as bar:
        if candidates is None:
            selector.fit(pool, exclude=list(exclude_ids) or None)
            selection = selector.to_selection(pool.ids)
        else:
            sub = pool.subset(candidates)
            selector.fit(sub, exclude=list(exclude_ids) or None)
            selection = selector.to_selection(sub.ids)
            selection.indices = candidates[selection.indices]
        bar.advance(1)
    if pool.labels is not None:
        selection.extra_columns["label"] = [pool.labels[i] for i in selection.indices]
    for col, values in pool.meta.items():
        selection.extra_columns[col] = [values[i] for i in selection.indices]
    ctx.record.extra["selection"] = {"strategy": selector.name, "params": selection.params,
                                     "radius": getattr(selector, "radius_", None),
                                     "choice": getattr(selector, "choice_", None)}
    return selection


def write_selection_outputs(ctx: RunContext, selection: Selection, loaded: LoadedPool, *, issues: Issues | None,
                            exclude_ids: Sequence[str], place: str | None, frame_format: str | None,
                            workers: int | None) -> None:
    """Stage *write*: selection.txt / .csv, issues.csv, excluded.txt, placed files, and the
    selected video frames at full resolution."""
    out, emb, root = ctx.out, loaded.embeddings, loaded.root
    write_frames = (out is not None and root is not None and frame_format is not None
                    and any(emb.sample_meta.get("video", [])))
    if write_frames:
        selection.extra_columns["file"] = frame_files(emb.sample_meta, selection.indices, emb.sample_meta["video"], frame_format)
    if out is None:
        return
    with ctx.stage("write"):
        write_selection(out, selection)
        if issues is not None:
            write_issues(out, issues)
        if exclude_ids:  # the report counts them as covered
            atomic_write_text(out / "excluded.txt", format_id_lines(exclude_ids))
        if place and root is not None:
            ctx.record.counts["placed_files"] = place_selected_files(out, root, selection.ids, place)
    if write_frames:
        with ctx.stage("write_frames"):
            frames = write_selected_frames(out, root, emb.sample_meta, selection.indices, selection.extra_columns["file"],
                                           fmt=frame_format, workers=workers or None, progress=ctx.reporter)
        ctx.record.counts["frames_written"] = frames["frames_written"] + frames["frames_existing"]
        ctx.record.extra["frames"] = frames


def report_of_run(ctx: RunContext) -> None:
    """The report as the last stage: it reads the finished record, so that is written
    first. A failing report is logged and recorded; the run's results stand."""
    from .report.build import write_report

    ctx.finish()
    ctx.write()
    try:
        with ctx.stage("report"):
            write_report(ctx.out, None, progress=ctx.reporter)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - the results are done; the failure is data in the record
        log.warning("The report could not be written (%s: %s); run `labelscout report %s` to retry.", type(exc).__name__, exc, ctx.out)
        ctx.record.extra["report_error"] = f"{type(exc).__name__}: {exc}"


def _uses_predictions(selector: Any) -> bool:
    from .strategies._predictive import uses_predictions

    return uses_predictions(selector)


def check_model_inputs(selector: Any, cfg: Any) -> None:
    """Prediction inputs only for strategies that use them (before anything runs)."""
    from .strategies._validation_set import accepts_validation, validation_strategy_names

    uses = _uses_predictions(selector)
    given = [name for name in ("predictions", "features") if getattr(cfg, name)]
    if cfg.validation is not None and not accepts_validation(selector):
        raise ConfigError(f"--validation is used by {validation_strategy_names()}; strategy {selector.name!r} does not use it.",
                          hint="Use one of those with --strategy, or a combine with one as a component.")
    if given and not uses:
        raise ConfigError(f"--{given[0]} is used by the prediction-based strategies (uncertainty, badge, fisher-match); "
                          f"strategy {selector.name!r} does not use it.", hint="Choose one of those with --strategy, or drop the option.")
    if uses and cfg.logits and cfg.predictions is None:
        raise ConfigError("--logits describes a --predictions file; none was given.")


def model_inputs(ctx: RunContext, selector: Any, emb: EmbeddingSet, cfg: Any, *, labels: list | None,
                 space: Any) -> dict[str, Any]:
    """Stage *model inputs*: what a prediction-based strategy gets beside the vectors, as
    Pool fields: the loaded predictions and features (aligned to the pool); a validation
    folder is embedded with the pool's model and set as the validation parameters of the
    strategy that takes one (fisher-match, density-match). Recorded in run.json."""
    from .sources.predictions import load_features, load_predictions
    from .strategies._validation_set import accepts_validation

    record = ctx.record
    out: dict[str, Any] = {}
    if _uses_predictions(selector):
        class_names = sorted({str(v) for v in labels if v is not None and v == v and v != ""}) if labels is not None else None
        if cfg.predictions is not None:
            pred = load_predictions(cfg.predictions, emb.ids, logits=cfg.logits, class_names=class_names or None)
            out["predictions"] = pred
            record.extra["predictions"] = {**pred.source, "matched": int(pred.present.sum()), "missing": len(pred.missing),
                                           "extra": len(pred.extra), "classes": pred.class_names}
        if cfg.features is not None:
            feats = load_features(cfg.features, emb.ids)
            out["features"] = feats.features
            record.extra["features"] = {**{k: v for k, v in feats.source.items() if k in ("file", "sha256", "shape")},
                                        "missing": len(feats.missing)}
    if cfg.validation is not None and accepts_validation(selector):  # fisher-match, density-match, or a combine of them
        record.extra["validation"] = _attach_validation_folder(ctx, selector, cfg, space)
    return out


def _attach_validation_folder(ctx: RunContext, selector: Any, cfg: Any, space: Any) -> dict[str, Any]:
    """Embed the ``--validation`` folder with the pool's model and give it to the strategy
    (or its components) that takes it; its record for run.json."""
    from .sources.labels import labels_from_folders
    from .sources.predictions import load_predictions
    from .space.metric import unit_rows
    from .strategies._validation_set import attach_validation, validation_labels_needed

    if space.kind not in ("raw", "norm"):
        raise ConfigError(f"--validation needs a space without a fitted re-embedding (raw or norm); got {space.name!r}.",
                          hint="Drop --space, or use --space norm.")
    val = embed_source(_Sub(ctx), collect(Path(cfg.validation)), cfg.model, cfg.video).embeddings
    val_labels = labels_from_folders(val.ids)
    if val_labels is None and validation_labels_needed(selector):
        raise InputError(f"The validation folder {cfg.validation} needs class folders (<class>/<image>), with at least two classes.",
                         hint="Put every validation image in a folder named by its class.")
    V = np.asarray(val.vectors, dtype=np.float32)
    if space.kind == "norm":
        V = unit_rows(V)
    Pv = None  # without --predictions the strategy's own head predicts the validation images
    if cfg.predictions is not None:  # the model's view of the validation images, from the same file when it has them
        try:
            Pv = load_predictions(cfg.predictions, val.ids, logits=cfg.logits).probabilities
        except InputError:
            pass  # fisher-match then says what is missing
    attach_validation(selector, validation_vectors=V, validation_labels=val_labels, validation_probabilities=Pv)
    return {"source": str(cfg.validation), "samples": len(val),
            "classes": sorted(set(val_labels)) if val_labels is not None else None}


class _RecordOnly:
    """A stand-in context for a stage run outside a job's folder: a reporter and a record
    to fill, nothing written (a side input such as the validation folder, or a caller such
    as the review app that keeps its own record)."""

    def __init__(self, reporter: Any = None, record: Any = None):
        from .reporting import Reporter
        from .runs.record import RunRecord

        self.reporter = reporter if reporter is not None else Reporter()
        self.record = record if record is not None else RunRecord(command="")
        self.out = None
        self.config = None

    def stage(self, name: str) -> Any:
        return self.record.timer(name)


def _Sub(ctx: RunContext) -> _RecordOnly:
    """Same reporter, a scratch record: the pool's counts stay the pool's."""
    return _RecordOnly(ctx.reporter)


def load_embeddings(source: Any = None, *, embeddings: str | Path | None = None, ids: str | Path | None = None,
                    model: ModelConfig | None = None, video: VideoConfig | None = None, record: Any = None,
                    reporter: Any = None) -> LoadedPool:
    """The pool's vectors outside a job (no run folder): :func:`open_source` then
    :func:`load_pool`, recording into ``record``."""
    opened = open_source(source, embeddings=str(embeddings) if embeddings is not None else None,
                         ids=str(ids) if ids is not None else None)
    return load_pool(_RecordOnly(reporter, record), opened, model or ModelConfig(), video or VideoConfig())  # type: ignore[arg-type]
