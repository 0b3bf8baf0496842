"""The public Python API. The CLI, the web service and the workers call these functions
and hold no logic of their own.

>>> import labelscout
>>> result = labelscout.select("images/", n=1000, out="runs/first")   # doctest: +SKIP
>>> result.selection.ids[:3]                                            # doctest: +SKIP
"""
from __future__ import annotations

import logging
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ._validation import resolve_n
from .embed.embedder import Embedder, EmbedResult
from .detectors._runner import DEFAULT_DETECTORS, duplicates_to_drop, make_detectors, option_params, run_detectors
from .embed.store import SIDECAR_FILE, EmbeddingSet
from .errors import Cancelled, ConfigError, InputError
from .report.build import write_report
from .results import Issues, Selection
from .runs.atomic import atomic_write_text
from .runs.ids import format_id_lines, read_id_file
from .runs.frames import FRAME_FORMATS, frame_files, write_selected_frames
from .runs.outputs import place_selected_files, prepare_run_folder, write_selection
from ._progress import progress_bar
from .reporting import Reporter, forward_logs
from .runs.record import RunRecord
from .sources.collection import Collection, collect
from .sources.video import DEFAULT_FPS, VideoOptions
from .sources.labels import resolve_labels
from .sources.precomputed import load_precomputed
from .space.cache import space_in_run, vectors_fingerprint
from .space.transform import Space, resolve_space
from .strategies import STRATEGIES, get_strategy

__all__ = ["select", "embed", "inspect", "report", "SelectResult", "InspectResult", "read_id_file"]

log = logging.getLogger(__name__)


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


def report(run_dir: str | Path, *, root: str | Path | None = None, out: str | Path | None = None,
           progress: bool | None = None, reporter: Reporter | None = None) -> Path:
    """Write the HTML report of a finished run folder (``RUN_DIR/report.html`` unless
    ``out`` names another file) and return its path. ``root``: where the sample files
    are, when they moved since the run."""
    return write_report(run_dir, out, root=root, progress=reporter if reporter is not None else progress)


def _report_of_run(out: Path, record: RunRecord, progress: bool | None) -> None:
    """The report as the last step of ``select``: it reads the finished run.json, so that
    is written first. A failing report is logged and recorded; the selection stands."""
    record.write(out)
    try:
        with record.timer("report"):
            report(out, progress=progress)
    except Exception as exc:  # noqa: BLE001 - the selection is done; the failure is data in run.json
        log.warning("The report could not be written (%s: %s); run `labelscout report %s` to retry.", type(exc).__name__, exc, out)
        record.extra["report_error"] = f"{type(exc).__name__}: {exc}"


def _input_path(source: Any) -> Path | None:
    """The folder or file a run reads (its run folder may not lie inside it)."""
    if isinstance(source, Collection):
        return source.root
    return Path(source) if isinstance(source, (str, Path)) else None


def _command_line() -> str:
    return " ".join(shlex.quote(a) for a in sys.argv) if sys.argv and sys.argv[0] else "labelscout (python api)"


def embed(
    source: str | Path | Collection,
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
    record: RunRecord | None = None,
    fps: float | str | None = DEFAULT_FPS,
    sequence_length: int = 1,
    keyframes_only: bool = False,
) -> EmbedResult:
    """Embed every image and video under ``source``; with ``out``, save to ``out/embeddings/``
    and write ``out/run.json``. Re-runs embed only new content.

    Videos are decoded in memory at ``fps`` frames per second of video ("all" for every
    frame); ``sequence_length`` > 1 makes each sample a clip of that many sampled frames;
    ``keyframes_only`` decodes keyframes only (fast, coarse)."""
    video = VideoOptions(fps=fps, sequence_length=sequence_length, keyframes_only=keyframes_only)
    progress = reporter if reporter is not None else progress
    own_record = record is None
    record = record or RunRecord(command=_command_line())
    record.config.setdefault("embed", {
        "source": str(source.root if isinstance(source, Collection) else source), "model": model or "builtin", "arch": arch, "weights": weights, "device": device,
        "batch_size": batch_size, "workers": workers, "cache_dir": str(cache_dir) if cache_dir else None,
        "video": {"fps": video.fps, "sequence_length": sequence_length, "keyframes_only": keyframes_only},
    })
    embedder = Embedder(model, arch=arch, weights=weights, device=device, batch_size=batch_size, workers=workers,
                        cache_dir=cache_dir, progress=progress, video=video)
    if out is not None:
        out = prepare_run_folder(out, inputs=[_input_path(source)])
    with record.timer("embed"):
        result = embedder.embed(source)
    record.device = result.stats.get("device")
    record.skipped = result.skipped
    record.counts.update({"pool": len(result.embeddings), "skipped": len(result.skipped),
                          "embedded_new": result.stats["embedded_new"], "from_cache": result.stats["from_cache"]})
    record.extra["embedding"] = {**result.stats, "model_id": result.embeddings.model_id,
                                 "fingerprint": result.embeddings.fingerprint, "dim": result.embeddings.dim}
    if result.collection is not None:
        record.extra["collection"] = {"root": str(result.collection.root), **result.collection.summary()}
    if out is not None:
        result.embeddings.save(out / "embeddings")
        if own_record:
            record.status = "finished"
            record.write(out)
    return result


def _load_pool(source: Any, record: RunRecord, out: Path | None, embed_kwargs: dict,
               precheck: Callable[[int], Any] | None = None, embeddings: str | Path | None = None,
               ids: str | Path | None = None) -> tuple[EmbeddingSet, list[dict], Path | None]:
    """Embeddings for the pool: computed from a folder/file, or given (EmbeddingSet / saved
    folder / precomputed ``embeddings`` file with its ``ids``)."""
    if embeddings is not None:
        emb = load_precomputed(embeddings, ids)
        record.extra["embedding"] = {"precomputed": str(embeddings), "ids": str(ids) if ids is not None else None,
                                     "model_id": emb.model_id, "fingerprint": emb.fingerprint, "dim": emb.dim}
        if out is not None:  # the run folder holds the vectors it was computed on (the report reads them)
            emb.save(out / "embeddings")
        return emb, [], None
    if isinstance(source, EmbeddingSet):
        if out is not None:  # the run folder must hold the vectors it was computed on
            source.save(out / "embeddings")
        return source, [], None
    path = Path(source)
    if path.is_dir() and (path / SIDECAR_FILE).is_file():
        emb = EmbeddingSet.load(path)
        record.extra["embedding"] = {"loaded_from": str(path), "model_id": emb.model_id, "fingerprint": emb.fingerprint}
        return emb, [], None
    collection = collect(path)
    if precheck is not None and not collection.videos:
        precheck(len(collection.images))  # fail on an impossible budget before spending time embedding
    result = embed(collection, out=None, record=record, **embed_kwargs)
    if out is not None:
        result.embeddings.save(out / "embeddings")
    root = result.collection.root if result.collection is not None else None
    return result.embeddings, result.skipped, root


def _space_of_pool(emb: EmbeddingSet, space: Space, out: Path | None, record: RunRecord) -> np.ndarray:
    """The pool in ``space`` (float32, L2 realises the geometry), recorded in run.json.
    raw and norm cost one pass over the vectors and are not cached; a fitted pca / umap
    space is cached in ``out/space/`` keyed by the embeddings' content."""
    if space.kind == "raw":
        t = time.perf_counter()
        vectors, info = space_in_run(None, np.asarray(emb.vectors), space, "")
        info.update(file=None, cached=False, fingerprint=None, seconds=round(time.perf_counter() - t, 4))
    else:
        vectors, info = space_in_run(out, np.asarray(emb.vectors), space, vectors_fingerprint(emb.vectors, emb.ids))
    # the report's space line reads "transform"
    record.extra["space"] = {**info, "transform": None if space.kind == "raw" else info.get("name")}
    return vectors


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
) -> InspectResult:
    """Find exact duplicates, near-duplicate groups, outliers (and, with labels and
    ``"label-errors"`` among ``detectors``, likely label errors) in ``source``.

    ``source``: as for :func:`select`. ``detector_params``: detector name -> parameters,
    e.g. ``{"near-duplicates": {"threshold": 0.03}}``. A detector that fails is recorded in
    ``result.issues.failures`` and run.json, and logged; the others' results stand.
    With ``out``, writes ``issues.csv`` (id, issue, score, flag, evidence as JSON),
    ``embeddings/`` and ``run.json``.
    """
    t0 = time.perf_counter()
    progress = reporter if reporter is not None else progress
    dets = make_detectors(list(detectors), detector_params)  # bad names / parameters fail before embedding
    VideoOptions(fps=fps, sequence_length=sequence_length, keyframes_only=keyframes_only)
    record = RunRecord(command=_command_line())
    record.config = {
        "source": str(source) if not isinstance(source, EmbeddingSet) else "<EmbeddingSet>",
        "detectors": {n: d.get_params() for n, d in dets.items()}, "labels": labels, "out": str(out) if out else None,
        "video": {"fps": fps, "sequence_length": sequence_length, "keyframes_only": keyframes_only},
    }
    if out is not None:
        out = prepare_run_folder(out, inputs=[_input_path(source)])
        record.write(out)
    embed_kwargs = dict(model=model, arch=arch, weights=weights, device=device, batch_size=batch_size, workers=workers,
                        cache_dir=cache_dir, progress=progress, fps=fps, sequence_length=sequence_length,
                        keyframes_only=keyframes_only)
    logs = forward_logs(reporter)
    logs.__enter__()  # the caller's reporter sees this run's log lines
    try:
        emb, skipped, _root = _load_pool(source, record, out, embed_kwargs)
        if len(emb) == 0:
            raise InputError(f"No usable samples in {source}: all {len(skipped)} files were skipped.",
                             hint="See the skipped list in run.json for each file's reason.")
        label_values = None
        if any(d.requires_labels for d in dets.values()):
            label_values, record.extra["labels_source"] = resolve_labels(labels, emb.ids, label_column)
        with record.timer("detect"):
            issues = run_detectors(dets, emb.vectors, emb.ids, hashes=emb.content_hashes, labels=label_values,
                                   timings=record.timings)
        if out is not None:
            with record.timer("write"):
                atomic_write_text(out / "issues.csv", issues.to_csv())
        record.counts.update({"pool": len(emb), "skipped": len(skipped), "issue_rows": len(issues),
                              **{f"{t}_flagged": c["flagged"] for t, c in issues.counts().items()}})
        record.extra["issues"] = issues.counts()
        record.extra["detector_failures"] = issues.failures
        record.extra["groups"] = {n: len(d.groups_) for n, d in dets.items() if hasattr(d, "groups_")}
        record.timings["total"] = round(time.perf_counter() - t0, 4)
        record.status = "finished"
        return InspectResult(issues, emb, record, dets, out, skipped)
    except BaseException as exc:
        record.status = ("cancelled" if isinstance(exc, Cancelled) else
                         "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        record.extra["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        logs.__exit__(None, None, None)
        if out is not None:
            record.write(out)


def _dedupe(dedupers: dict[str, Any], emb: EmbeddingSet, keep_ids: Sequence[str], record: RunRecord) -> tuple[Issues, np.ndarray]:
    """Run the duplicate detectors; return their issues and the pool rows left as candidates
    (every row but the flagged non-representatives; ``keep_ids``, the labeled ones, stay).

    Failures are recorded, not raised: a selection without de-duplication is still a
    selection, and run.json says what was not done."""
    issues = run_detectors(dedupers, emb.vectors, emb.ids, hashes=emb.content_hashes, timings=record.timings)
    drop = set(duplicates_to_drop(issues, keep=keep_ids))
    candidates = np.array([i for i, sid in enumerate(emb.ids) if sid not in drop], dtype=np.int64)
    record.counts["duplicates_dropped"] = len(drop)
    record.extra["dedupe"] = {"issues": issues.counts(), "failures": issues.failures,
                              "groups": {n: len(d.groups_) for n, d in dedupers.items() if hasattr(d, "groups_")}}
    for f in issues.failures:
        log.warning("--dedupe: %s did not run (%s)", f["detector"], f["error"])
    return issues, candidates


def _model_inputs(selector: Any, emb: EmbeddingSet, record: RunRecord, *, predictions, logits, features, validation,
                  labels, space: Space, embed_kwargs: dict) -> dict[str, Any]:
    """What a prediction-based strategy gets beside the vectors: the loaded predictions and
    features (aligned to the pool) as ``fit`` arguments; a ``validation`` folder is embedded
    and set as the strategy's validation parameters. Recorded in run.json."""
    from .sources.predictions import load_features, load_predictions

    uses = bool(getattr(selector, "uses_predictions", False))
    given = [name for name, v in (("predictions", predictions), ("features", features), ("validation", validation)) if v]
    if given and not uses:
        raise ConfigError(f"--{given[0]} is used by the prediction-based strategies (uncertainty, badge, fisher-match); "
                          f"strategy {selector.name!r} does not use it.", hint="Choose one of those with --strategy, or drop the option.")
    if not uses:
        return {}
    out: dict[str, Any] = {}
    class_names = sorted({str(v) for v in labels if v is not None and v == v and v != ""}) if labels is not None else None
    if predictions is not None:
        pred = load_predictions(predictions, emb.ids, logits=logits, class_names=class_names or None)
        out["predictions"] = pred
        record.extra["predictions"] = {**pred.source, "matched": int(pred.present.sum()), "missing": len(pred.missing),
                                       "extra": len(pred.extra), "classes": pred.class_names}
    elif logits:
        raise ConfigError("--logits describes a --predictions file; none was given.")
    if features is not None:
        feats = load_features(features, emb.ids)
        out["features"] = feats.features
        record.extra["features"] = {**{k: v for k, v in feats.source.items() if k in ("file", "sha256", "shape")},
                                    "missing": len(feats.missing)}
    if validation is not None:
        if not hasattr(selector, "validation_vectors"):
            raise ConfigError(f"--validation is used by fisher-match; strategy {selector.name!r} does not use it.")
        if space.kind not in ("raw", "norm"):
            raise ConfigError(f"--validation needs a space without a fitted re-embedding (raw or norm); got {space.name!r}.",
                              hint="Drop --space, or use --space norm.")
        from .sources.labels import labels_from_folders

        val = embed(validation, **embed_kwargs).embeddings
        val_labels = labels_from_folders(val.ids)
        if val_labels is None:
            raise InputError(f"The validation folder {validation} needs class folders (<class>/<image>), with at least two classes.",
                             hint="Put every validation image in a folder named by its class.")
        V = np.asarray(val.vectors, dtype=np.float32)
        if space.kind == "norm":
            from .models.logistic_head import unit_rows

            V = unit_rows(V)
        selector.validation_vectors, selector.validation_labels = V, val_labels
        if predictions is not None:  # the model's view of the validation images, from the same file when it has them
            try:
                selector.validation_probabilities = load_predictions(predictions, val.ids, logits=logits).probabilities
            except InputError:
                selector.validation_probabilities = None  # fisher-match then says what is missing
        record.extra["validation"] = {"source": str(validation), "samples": len(val), "classes": sorted(set(val_labels))}
    return out


def _rows(value: Any, rows: np.ndarray) -> Any:
    """Rows of a per-sample input: an array, or loaded predictions (every per-sample field cut)."""
    if hasattr(value, "probabilities"):
        import dataclasses

        return dataclasses.replace(value, probabilities=value.probabilities[rows], present=value.present[rows],
                                   logits=None if value.logits is None else value.logits[rows])
    return np.asarray(value)[rows]


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
    :class:`~labelscout.detectors.NearDuplicateDetector`) and
    leave every non-representative out of the candidates (already-labeled ids are never
    left out); the groups go to ``issues.csv`` so the report shows them.

    Active learning (``uncertainty``, ``badge``, ``fisher-match``; see
    :mod:`labelscout.strategies._predictive`): ``predictions`` is a file of the model's class
    probabilities (``logits=True``: raw scores), ``features`` its per-sample features (see
    :mod:`labelscout.sources.predictions`); without them a logistic head on the embeddings,
    trained on the labeled samples, predicts. ``validation``: a folder of labeled images
    (class folders) that ``fisher-match`` matches the pool to; it is embedded with the
    pool's model.
    """
    t0 = time.perf_counter()
    progress = reporter if reporter is not None else progress
    if (source is None) == (embeddings is None):
        raise ConfigError("Give exactly one of 'source' (images, videos or saved embeddings) and 'embeddings' "
                          f"(a precomputed .npy / CSV / parquet file). Got source={source!r}, embeddings={embeddings!r}.")
    if ids is not None and embeddings is None:
        raise ConfigError(f"The 'ids' parameter names the rows of precomputed 'embeddings'; none were given. Got ids={ids!r}.")
    space_spec = Space(resolve_space(space, metric).name, dim=space_dim, seed=seed).validate()
    # strategies work on the space's vectors, where L2 *is* the chosen geometry
    metric = "l2"
    params = dict(strategy_params or {})
    # --metric and --seed reach every strategy that has such a parameter, unless set explicitly
    accepted = STRATEGIES[strategy]._param_names() if strategy in STRATEGIES else []
    for name, value in (("metric", metric), ("seed", seed)):
        if name in accepted:
            params.setdefault(name, value)
    selector = get_strategy(strategy, n=n, **params)
    if validation is not None and hasattr(selector, "validation_vectors"):
        selector.validation_vectors, selector.validation_labels = [], []  # set from the folder once it is embedded
    selector._validate_params()  # fail on a bad parameter before spending time embedding
    dup_names = ["exact-duplicates", "near-duplicates"]
    dedupers = (make_detectors(dup_names, option_params(dup_names, near_dup_threshold=near_dup_threshold,
                                                        near_dup_ratio=near_dup_ratio))
                if dedupe else {})
    VideoOptions(fps=fps, sequence_length=sequence_length, keyframes_only=keyframes_only)  # fail early on bad values
    if frame_format is not None and frame_format not in FRAME_FORMATS:
        raise ConfigError(f"The 'frame_format' parameter must be one of {set(FRAME_FORMATS)} or None. Got {frame_format!r} instead.")
    record = RunRecord(command=_command_line(), seed=seed)
    record.config = {
        "source": str(source if source is not None else embeddings) if not isinstance(source, EmbeddingSet) else "<EmbeddingSet>",
        "n": n, "strategy": strategy,
        "strategy_params": {k: v for k, v in params.items()},
        "predictions": str(predictions) if predictions else None, "logits": logits,
        "features": str(features) if features else None, "validation": str(validation) if validation else None, "metric": space_spec.metric, "space": space_spec.params(), "seed": seed,
        "exclude": str(exclude) if isinstance(exclude, (str, Path)) else (f"<{len(exclude)} ids>" if exclude else None),
        "labels": labels, "place": place, "out": str(out) if out else None,
        "dedupe": {n: d.get_params() for n, d in dedupers.items()} if dedupe else False,
        "video": {"fps": fps, "sequence_length": sequence_length, "keyframes_only": keyframes_only,
                  "frame_format": frame_format},
    }
    if out is not None:
        out = prepare_run_folder(out, inputs=[_input_path(source)])
        record.write(out)  # a run.json with status "running" marks an unfinished run
    embed_kwargs = dict(model=model, arch=arch, weights=weights, device=device, batch_size=batch_size, workers=workers,
                        cache_dir=cache_dir, progress=progress, fps=fps, sequence_length=sequence_length,
                        keyframes_only=keyframes_only)
    logs = forward_logs(reporter)
    logs.__enter__()  # the caller's reporter sees this run's log lines
    try:
        emb, skipped, root = _load_pool(source, record, out, embed_kwargs, precheck=lambda pool: resolve_n(n, pool),
                                        embeddings=embeddings, ids=ids)
        if len(emb) == 0:
            raise InputError(f"No usable samples in {source}: all {len(skipped)} files were skipped.",
                             hint="See the skipped list in run.json for each file's reason.")
        exclude_ids = read_id_file(exclude, what="--exclude file") if isinstance(exclude, (str, Path)) else list(exclude or [])
        pool_ids = set(emb.ids)
        unknown = [i for i in exclude_ids if i not in pool_ids]
        if unknown:
            log.warning("%d excluded id(s) are not in the pool and are ignored, e.g. %s", len(unknown), unknown[:3])
        exclude_ids = [i for i in exclude_ids if i in pool_ids]
        label_values, label_source = resolve_labels(labels, emb.ids, label_column)
        with record.timer("model_inputs"):
            model_inputs = _model_inputs(selector, emb, record, predictions=predictions, logits=logits, features=features,
                                         validation=validation, labels=label_values, space=space_spec,
                                         embed_kwargs=embed_kwargs)
        issues, candidates = None, None
        if dedupe:
            with record.timer("dedupe"):
                issues, candidates = _dedupe(dedupers, emb, exclude_ids, record)
        with record.timer("space"):
            vectors = _space_of_pool(emb, space_spec, out, record)
        with record.timer("select"), progress_bar(f"selecting ({strategy})", 1, progress) as stage:
            if candidates is None:
                selector.fit(vectors, ids=emb.ids, exclude=exclude_ids or None, labels=label_values, **model_inputs)
                selection = selector.to_selection(emb.ids)
            else:  # select among the candidates only; positions map back to the pool
                cand_ids = [emb.ids[i] for i in candidates]
                selector.fit(vectors[candidates], ids=cand_ids, exclude=exclude_ids or None,
                             labels=[label_values[i] for i in candidates] if label_values is not None else None,
                             **{k: _rows(v, candidates) for k, v in model_inputs.items()})
                selection = selector.to_selection(cand_ids)
                selection.indices = candidates[selection.indices]
            stage.advance(1)
        if label_values is not None:
            selection.extra_columns["label"] = [label_values[i] for i in selection.indices]
        for col, values in emb.sample_meta.items():
            selection.extra_columns[col] = [values[i] for i in selection.indices]
        record.counts.update({
            "pool": len(emb), "selected": len(selection), "excluded": len(exclude_ids),
            "excluded_not_in_pool": len(unknown), "skipped": len(skipped),
        })
        record.extra["labels_source"] = label_source
        record.extra["selection"] = {"strategy": strategy, "params": selection.params,
                                     "radius": getattr(selector, "radius_", None), "choice": getattr(selector, "choice_", None)}
        write_frames = out is not None and root is not None and frame_format is not None and any(emb.sample_meta.get("video", []))
        if write_frames:
            selection.extra_columns["file"] = frame_files(emb.sample_meta, selection.indices, emb.sample_meta["video"], frame_format)
        if out is not None:
            with record.timer("write"):
                write_selection(out, selection)
                if issues is not None:
                    atomic_write_text(out / "issues.csv", issues.to_csv())
                if exclude_ids:  # the report counts them as covered
                    atomic_write_text(out / "excluded.txt", format_id_lines(exclude_ids))
                if place and root is not None:
                    record.counts["placed_files"] = place_selected_files(out, root, selection.ids, place)
            if write_frames:
                with record.timer("write_frames"):
                    frames = write_selected_frames(out, root, emb.sample_meta, selection.indices,
                                                   selection.extra_columns["file"], fmt=frame_format,
                                                   workers=workers or None, progress=progress)
                record.counts["frames_written"] = frames["frames_written"] + frames["frames_existing"]
                record.extra["frames"] = frames
        record.timings["total"] = round(time.perf_counter() - t0, 4)
        record.status = "finished"
        if out is not None and report:
            _report_of_run(out, record, progress)
        return SelectResult(selection, emb, record, issues=issues if issues is not None else Issues(), out=out, skipped=skipped)
    except BaseException as exc:
        record.status = ("cancelled" if isinstance(exc, Cancelled) else
                         "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        record.extra["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        logs.__exit__(None, None, None)
        if out is not None:
            record.write(out)
