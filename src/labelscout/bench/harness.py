"""The probe benchmark: methods x budgets x repeats, each cell one selection and one probe.

The protocol of Englert's thesis (ch. 4):

1. one fixed probe classifier and training recipe for every method (:mod:`.probe`);
2. each method subsamples the training pool **from the images alone** (the strategy sees
   embeddings, never labels);
3. the probe trains on the subset with its true labels and is scored on the fixed test set;
4. repeats with different seeds; the report gives mean, spread, per-class accuracy and the
   paired difference to random with a confidence interval (:mod:`.stats`, :mod:`.report`).

Repeat ``r`` uses seed ``seed + r`` for the selection's own randomness (first centre,
random picks) and for the probe, so every method in one repeat trains under identical
probe noise and differences are paired.

**Resumable.** Every finished cell is one JSON file written atomically under
``OUT/cells/``; a rerun skips the cells that exist, so a killed run loses at most the cell
in progress, and adding methods, budgets or repeats to a finished run computes only the
new cells. Fitted spaces (UMAP) and selections are cached under ``OUT/`` too. A rerun with
a different probe recipe or data refuses to mix its cells with the old ones. Cells run
repeat by repeat, so a run stopped early still has complete paired repeats.
"""
from __future__ import annotations

import hashlib
import json
import logging
import numbers
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .._progress import progress_bar
from .._validation import Interval, validate_params
from ..embed.embedder import Embedder, resolve_device
from ..embed.store import SIDECAR_FILE, EmbeddingSet
from ..errors import ConfigError, InputError
from ..runs.atomic import atomic_save_npy, atomic_write_json
from ..runs.outputs import prepare_run_folder
from ..runs.record import RunRecord
from .data import LabeledImages, load_cifar_like
from .methods import MethodSpec, parse_methods, transform_space
from .linear import LinearProbe, standardize_features
from .probe import Probe, ProbeRecipe, get_recipe

__all__ = ["run_probe_benchmark", "ProbeBenchmarkResult", "load_cells", "stratified_subset", "CONFIG_FILE"]

log = logging.getLogger(__name__)

CONFIG_FILE = "bench.json"
DEFAULT_EMBEDDING = "default"


@dataclass
class ProbeBenchmarkResult:
    out: Path
    cells: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    computed: int  # cells computed by this run (the rest were loaded)
    files: dict[str, Path] = field(default_factory=dict)


def stratified_subset(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Sorted rows of a class-stratified random subset of ``n`` samples (fixed for a seed)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"The 'test_limit' parameter must be an int >= 1. Got {n!r} instead.")
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    take = np.floor(counts * n / len(labels)).astype(int)
    take[np.argsort(-(counts * n / len(labels) - take))[: n - take.sum()]] += 1  # largest remainders get the rest
    rows = [rng.choice(np.flatnonzero(labels == c), t, replace=False) for c, t in zip(classes, take)]
    return np.sort(np.concatenate(rows))


def repeat_pool_rows(n_pool: int, fraction: float | None, seed: int) -> np.ndarray:
    """The pool rows a repeat selects from: all of them, or (``fraction``) a seeded random
    ``round(fraction * n_pool)`` of them, sorted. Drawing a new pool per repeat makes the
    repeats vary what a deterministic method sees, so its interval includes its own spread
    over pools and not only random's (a repeat otherwise only reseeds the strategy)."""
    if fraction is None:
        return np.arange(n_pool)
    k = int(round(fraction * n_pool))
    return np.sort(np.random.default_rng([seed, 7919]).choice(n_pool, k, replace=False))


def _embedding_name(spec: MethodSpec, embeddings: Mapping[str, str]) -> str:
    """The embedding a method uses: its own ``/NAME``, else ``default``, else the only one given."""
    if spec.embedding:
        return spec.embedding
    if DEFAULT_EMBEDDING not in embeddings and len(embeddings) == 1:
        return next(iter(embeddings))
    return DEFAULT_EMBEDDING


def _cell_path(out: Path, spec: MethodSpec, budget: int, repeat: int) -> Path:
    return out / "cells" / spec.slug / f"b{budget:06d}-r{repeat:03d}.json"


def load_cells(out: str | Path) -> list[dict[str, Any]]:
    """Every finished cell under ``out/cells`` (sorted by method, budget, repeat)."""
    cells = []
    for p in sorted(Path(out).glob("cells/*/*.json")):
        try:
            cells.append(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError) as exc:  # written atomically, so this is outside damage
            log.warning("ignoring unreadable cell %s (%s); it will be recomputed", p, exc)
    return sorted(cells, key=lambda c: (c["method"], c["budget"], c["repeat"]))


def _align(emb: EmbeddingSet, pool: LabeledImages, split: str, source: str, prefixed: bool = False) -> np.ndarray:
    """Rows of ``emb`` for each pool image, in pool order (ids may carry the split prefix;
    with ``prefixed`` they must, so a test image never matches a training image of the
    same name)."""
    pos = {sid: i for i, sid in enumerate(emb.ids)}
    rows = np.empty(len(pool), dtype=np.int64)
    missing = []
    for k, sid in enumerate(pool.ids):
        i = pos.get(f"{split}/{sid}") if prefixed else pos.get(f"{split}/{sid}", pos.get(sid))
        if i is None:
            missing.append(sid)
        else:
            rows[k] = i
    if missing:
        raise InputError(f"The embeddings from {source} lack {len(missing)} of the {len(pool)} pool images, e.g. {missing[:3]}.",
                         hint=("The linear probe needs ids train/... and test/...: embed the whole dataset folder, "
                               "labelscout embed DATA --out DIR." if prefixed else
                               f"Embed the pool folder itself: labelscout embed DATA/{split} --out DIR."))
    return rows


def _load_embedding(name: str, source: str, pool_root: Path, pool: LabeledImages, split: str, out: Path,
                    device: str, cache_dir: Any, progress: bool | None) -> tuple[np.ndarray, dict[str, Any]]:
    """(vectors in pool order, provenance) from a saved embeddings folder or a model spec."""
    path = Path(source)
    if path.is_dir() and (path / SIDECAR_FILE).is_file():
        emb = EmbeddingSet.load(path)
        info = {"source": str(source), "kind": "saved", "model_id": emb.model_id, "fingerprint": emb.fingerprint}
    else:
        saved = out / "embeddings" / name
        if (saved / SIDECAR_FILE).is_file():
            emb = EmbeddingSet.load(saved)
        else:
            log.info("embedding the pool with %s", source)
            result = Embedder(source, device=device, cache_dir=cache_dir, progress=progress).embed(pool_root)
            if result.skipped:
                raise InputError(f"{len(result.skipped)} pool images could not be embedded, e.g. {result.skipped[:2]}.")
            emb = result.embeddings
            emb.save(saved)
        info = {"source": str(source), "kind": "model", "model_id": emb.model_id, "fingerprint": emb.fingerprint,
                "saved": str(saved)}
    rows = _align(emb, pool, split, str(source))
    return np.asarray(emb.vectors[rows], dtype=np.float32), info


def _space(out: Path, spec: MethodSpec, emb_name: str, vectors: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """The method's space of the embedding, fitted once and cached under OUT/spaces."""
    path = out / "spaces" / f"{spec.space_key(emb_name)}.npy"
    if path.is_file():
        Z = np.load(path)
        if Z.shape[0] == vectors.shape[0]:
            return Z, 0.0
    t0 = time.perf_counter()
    Z = transform_space(vectors, spec.space, seed=seed, **spec.space_params)
    atomic_save_npy(path, Z)
    return Z, time.perf_counter() - t0


def _selection(out: Path, spec: MethodSpec, Z: np.ndarray | None, rows: np.ndarray, budget: int, max_budget: int,
               seed: int, repeat: int) -> tuple[np.ndarray, float]:
    """Pool rows picked by the method for ``budget`` (cached) from the repeat's ``rows`` of
    the pool. A prefix-consistent strategy is run once per repeat at ``max_budget`` (the
    largest budget that repeat needs) and each budget takes its prefix."""
    from ..strategies import STRATEGIES

    prefix = bool(getattr(STRATEGIES[spec.strategy], "prefix_consistent", False))
    n = max_budget if prefix else budget
    path = out / "selections" / spec.slug / f"r{repeat:03d}-n{n:06d}.npy"
    if path.is_file():
        picks = np.load(path)
        secs = 0.0
    else:
        if Z is None:  # random needs only the pool's size
            X = np.zeros((rows.size, 1), dtype=np.float32)
        else:  # rows are all of Z's or a sorted subset: no copy for the whole pool
            X = Z if rows.size == Z.shape[0] else Z[rows]
        selector = spec.build_strategy(n, seed)
        t0 = time.perf_counter()
        selector.fit(X)  # images only: no labels reach the strategy
        secs = time.perf_counter() - t0
        picks = rows[np.asarray(selector.selected_, dtype=np.int64)].astype(np.int32)  # back to pool rows
        atomic_save_npy(path, picks)
        why = getattr(selector, "choice_", None)  # what a meta-strategy (auto) chose, and why
        if why is not None:
            atomic_write_json(path.with_suffix(".json"), {"budget": n, "seed": seed, "choice": why})
    return picks[:budget].astype(np.int64), secs


def _prefix(spec: MethodSpec) -> bool:
    from ..strategies import STRATEGIES

    return bool(getattr(STRATEGIES[spec.strategy], "prefix_consistent", False))


def _repeats_per_budget(budgets: Sequence[int], repeats: int | Sequence[int]) -> dict[int, int]:
    """Budget -> repeats, from one count or one count per budget."""
    budgets = [int(b) for b in budgets]
    if isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool):
        counts = [int(repeats)] * len(budgets)
    else:
        counts = list(repeats)
        if len(counts) != len(budgets):
            raise ConfigError(f"The 'repeats' parameter must be one count or one per budget ({len(budgets)}). Got {counts!r} instead.")
    return dict(zip(budgets, counts))


def _repeats_text(per_budget: Mapping[int, int]) -> str:
    counts = set(per_budget.values())
    if len(counts) == 1:
        return f"{counts.pop()} repeats"
    return "repeats " + ", ".join(f"{r} at {b:,}" for b, r in sorted(per_budget.items()))


def _probe_features(source: str, data: Path, pool: LabeledImages, test: LabeledImages, train_split: str,
                    test_split: str) -> tuple[np.ndarray, np.ndarray]:
    """The linear probe's (pool, test) features from a saved embeddings folder of the whole
    dataset (ids ``train/...`` and ``test/...``), standardised with the pool's statistics."""
    path = Path(source)
    if not (path.is_dir() and (path / SIDECAR_FILE).is_file()):
        raise ConfigError(f"The linear probe needs saved embeddings (a folder with {SIDECAR_FILE}); got {source!r}.",
                          hint=f"Embed the whole dataset once: labelscout embed {data} --out DIR, then --embedding default=DIR/embeddings.")
    emb = EmbeddingSet.load(path)
    rows_pool = _align(emb, pool, train_split, str(source), prefixed=True)
    rows_test = _align(emb, test, test_split, str(source), prefixed=True)
    vectors = np.asarray(emb.vectors, dtype=np.float32)
    return standardize_features(vectors[rows_pool], vectors[rows_test])


def _config_fingerprint(data: Path, pool: LabeledImages, test: LabeledImages, recipe: ProbeRecipe, seed: int,
                        pool_fraction: float | None = None) -> dict[str, Any]:
    # the test ids are part of the hash, so a different test_limit is a different benchmark
    ids_hash = hashlib.sha256("\n".join(pool.ids + ["|"] + test.ids).encode()).hexdigest()[:16]
    out = {"format": "labelscout-probe-bench/1", "data": str(data), "pool": len(pool), "test": len(test),
           "classes": pool.classes, "ids_sha256": ids_hash, "recipe": recipe.to_json(), "seed": seed}
    if pool_fraction is not None:  # absent for the whole pool, so earlier runs still resume
        out["pool_fraction"] = pool_fraction
    return out


def _check_config(out: Path, config: dict[str, Any]) -> None:
    path = out / CONFIG_FILE
    if path.is_file():
        old = json.loads(path.read_text())
        keys = ("pool", "test", "classes", "ids_sha256", "recipe", "seed", "pool_fraction")
        diff = [k for k in keys if old.get(k) != config.get(k)]
        if diff:
            raise ConfigError(
                f"{out} holds results of a different benchmark configuration (differs in: {', '.join(diff)}); "
                "cells from different probes or data must not be mixed.",
                hint="Use a new --out folder, or rerun with the same --recipe, --seed, --pool-fraction and data.",
            )
    else:
        atomic_write_json(path, config)


_CONSTRAINTS = {
    "repeats": [Interval(numbers.Integral, 1, None)],
    "seed": [Interval(numbers.Integral, 0, None)],
    "confidence": [Interval(numbers.Real, 0, 1, closed="neither")],
    "pool_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
}


def run_probe_benchmark(
    data: str | Path,
    *,
    budgets: Sequence[int],
    methods: Sequence[str] | str,
    out: str | Path,
    repeats: int | Sequence[int] = 5,
    embeddings: Mapping[str, str] | None = None,
    recipe: str | ProbeRecipe = "gpu",
    recipe_overrides: Mapping[str, Any] | None = None,
    device: str = "auto",
    seed: int = 0,
    train_split: str = "train",
    test_split: str = "test",
    baseline: str = "random",
    confidence: float = 0.95,
    test_limit: int | None = None,
    threads: int | None = None,
    cache_dir: str | Path | None = "default",
    progress: bool | None = None,
    probe_embedding: str | None = None,
    pool_fraction: float | None = None,
) -> ProbeBenchmarkResult:
    """Run (or resume) the probe benchmark and write its report into ``out``.

    ``data``: a folder with ``train/<class>/`` (the pool) and ``test/<class>/`` images.
    ``methods``: method specs (see :mod:`.methods`). ``embeddings``: name -> saved
    embeddings folder or model spec (built-in name, ``labelscout train`` folder, ...);
    methods without ``/NAME`` use the one named ``default`` (or the only one given).
    ``repeats``: repeats per budget, one count for all or one per budget (in the order of
    ``budgets``), e.g. 10 at the small budgets where the probe is cheap, 5 at the large.
    ``recipe``: probe recipe name or object (see :data:`.probe.RECIPES`); ``linear`` is the
    logistic probe on the frozen embedding ``probe_embedding`` (default: the ``default``
    one), which must hold the test images too (:mod:`.linear`).
    ``test_limit``: score on a fixed class-stratified subset of this many test images
    (the same for every cell; for cheap CPU runs), instead of the whole test set.
    ``pool_fraction``: every repeat selects from its own seeded random fraction of the pool
    (the baseline and every method of a repeat from the same rows), so deterministic methods
    vary between repeats too and the paired intervals include their spread over pools.
    ``threads``: torch CPU threads for this process (``torch.set_num_threads``); on a
    machine shared with other jobs 1 thread can be several times faster than 2, because
    an OpenMP team waits for its slowest, descheduled thread.
    Writes ``cells/``, ``results.csv``, ``summary.csv``, ``summary.md``, ``accuracy.png``
    and ``run.json``.
    """
    from ..embed.cache import default_cache_root
    from . import report

    if not list(budgets) or min(int(b) for b in budgets) < 1:
        raise ConfigError(f"The 'budgets' parameter must hold counts >= 1. Got {list(budgets)!r} instead.")
    per_budget = _repeats_per_budget(budgets, repeats)
    for r in per_budget.values():
        validate_params("run_probe_benchmark", {"repeats": r, "seed": seed, "confidence": confidence,
                                                "pool_fraction": pool_fraction}, _CONSTRAINTS)
    budgets = sorted(per_budget)
    repeats = max(per_budget.values())
    specs = parse_methods(list(methods) if not isinstance(methods, str) else methods)
    embeddings = dict(embeddings or {})
    for spec in specs:
        if spec.needs_embedding:
            name = _embedding_name(spec, embeddings)
            if name not in embeddings:
                raise ConfigError(f"Method {spec.text!r} needs the embedding {name!r}, which was not given.",
                                  hint=f"Pass --embedding {name}=DIR (saved embeddings or a model); given: {sorted(embeddings) or 'none'}.")
    rec = get_recipe(recipe, **dict(recipe_overrides or {}))
    linear = getattr(rec, "kind", "cnn") == "linear"
    if linear:
        probe_embedding = probe_embedding or (DEFAULT_EMBEDDING if DEFAULT_EMBEDDING in embeddings or len(embeddings) != 1
                                              else next(iter(embeddings)))
        if probe_embedding not in embeddings:
            raise ConfigError(f"The linear probe reads the embedding {probe_embedding!r}, which was not given.",
                              hint=f"Pass --embedding {probe_embedding}=DIR (saved embeddings of train/ and test/); given: {sorted(embeddings) or 'none'}.")
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"The 'threads' parameter must be an int >= 1 or None. Got {threads!r} instead.")
        import torch

        torch.set_num_threads(threads)
    data = Path(data)
    out = prepare_run_folder(out)
    cache_root = default_cache_root() if cache_dir == "default" else cache_dir
    record = RunRecord(command="labelscout bench probe", seed=seed)
    record.config = {"data": str(data), "budgets": budgets, "methods": [s.text for s in specs],
                     "repeats": {str(b): r for b, r in per_budget.items()}, "probe_embedding": probe_embedding if linear else None,
                     "embeddings": embeddings, "recipe": rec.to_json(), "device": device, "seed": seed,
                     "baseline": baseline, "confidence": confidence, "test_limit": test_limit,
                     "threads": threads, "pool_fraction": pool_fraction}
    t_start = time.perf_counter()
    with record.timer("load_data"):
        pool, test = load_cifar_like(data, train=train_split, test=test_split, cache_dir=cache_root, progress=progress,
                                     decode=not linear)
    if test_limit is not None:
        test = test.subset(stratified_subset(test.labels, test_limit, seed=0))
    if budgets[-1] > len(pool):
        raise InputError(f"The largest budget {budgets[-1]} exceeds the pool of {len(pool)} images in {data / train_split}.",
                         hint=f"Use budgets of at most {len(pool)}.")
    if pool_fraction is not None and budgets[-1] > repeat_pool_rows(len(pool), pool_fraction, seed).size:
        k = repeat_pool_rows(len(pool), pool_fraction, seed).size
        raise InputError(f"The largest budget {budgets[-1]} exceeds a repeat's pool of {k} images "
                         f"({pool_fraction:g} of {len(pool)}).", hint=f"Use budgets of at most {k}, or a larger --pool-fraction.")
    _check_config(out, _config_fingerprint(data, pool, test, rec, seed, pool_fraction))
    record.write(out)

    planned = [(r, b, s) for r in range(repeats) for b in budgets for s in specs
               if b >= s.min_budget and (s.max_budget is None or b <= s.max_budget) and r < per_budget[b]]
    todo = [(r, b, s) for r, b, s in planned if not _cell_path(out, s, b, r).is_file()]
    # a prefix-consistent method selects once per repeat, at the largest budget that repeat needs
    top_budget = {}
    for r, b, s in planned:
        top_budget[(s.text, r)] = max(b, top_budget.get((s.text, r), 0))
    emb_cache: dict[str, np.ndarray] = {}
    emb_info: dict[str, Any] = {}
    space_cache: dict[str, np.ndarray] = {}
    features = None  # (pool, test) features of the linear probe, loaded with the first cell
    computed = 0
    record.status = "failed"  # until the last cell is stored
    try:
        with progress_bar("probe cells", len(todo), progress, unit="cells") as bar:
            for r, budget, spec in todo:
                cell_seed = seed + r
                Z = None
                if spec.needs_embedding:
                    name = _embedding_name(spec, embeddings)
                    if name not in emb_cache:
                        with record.timer("embed"):
                            emb_cache[name], emb_info[name] = _load_embedding(
                                name, embeddings[name], data / train_split, pool, train_split, out, device, cache_dir, progress)
                    key = spec.space_key(name)
                    if key not in space_cache:
                        with record.timer("space"):
                            space_cache[key], secs = _space(out, spec, name, emb_cache[name], seed)
                        if secs:
                            log.info("fitted space %s in %.1f s", key, secs)
                    Z = space_cache[key]
                rows = repeat_pool_rows(len(pool), pool_fraction, seed + r)
                picks, sel_secs = _selection(out, spec, Z, rows, budget, top_budget[(spec.text, r)], cell_seed, r)
                if len(np.unique(picks)) != len(picks) or len(picks) != budget:
                    raise InputError(f"Method {spec.text!r} returned {len(picks)} picks ({len(np.unique(picks))} unique) "
                                     f"for a budget of {budget}; a benchmark needs exactly the budget.")
                if linear:
                    if features is None:
                        with record.timer("probe_features"):
                            features = _probe_features(embeddings[probe_embedding], data, pool, test, train_split, test_split)
                    probe = LinearProbe(len(pool.classes), recipe=rec, seed=cell_seed)
                    probe.fit(features[0][picks], pool.labels[picks])
                    score = probe.score(features[1], test.labels)
                else:
                    probe = Probe(len(pool.classes), recipe=rec, device=device, seed=cell_seed)
                    probe.fit(pool.images[picks], pool.labels[picks])
                    score = probe.score(test.images, test.labels)
                cell = {
                    "method": spec.text, "budget": budget, "repeat": r, "seed": cell_seed,
                    "accuracy": score.accuracy, "per_class": dict(zip(pool.classes, score.per_class)), "n_test": score.n_test,
                    "selection": {"sha256": hashlib.sha256(np.sort(picks).astype(np.int64).tobytes()).hexdigest()[:16],
                                  "class_counts": dict(zip(pool.classes, np.bincount(pool.labels[picks], minlength=len(pool.classes)).tolist())),
                                  "seconds": round(sel_secs, 3), "pool_rows": int(rows.size)},
                    "probe": {"recipe": rec.name, **probe.train_stats_},
                }
                atomic_write_json(_cell_path(out, spec, budget, r), cell)
                computed += 1
                log.info("%s b=%d r=%d: %.2f%% (probe %.1fs)", spec.text, budget, r, 100 * score.accuracy, probe.train_stats_["seconds"])
                choice = out / "selections" / spec.slug / f"r{r:03d}-n{(top_budget[(spec.text, r)] if _prefix(spec) else budget):06d}.json"
                if choice.is_file():  # keep what auto chose beside the cell
                    cell["selection"]["choice"] = json.loads(choice.read_text())["choice"]
                    atomic_write_json(_cell_path(out, spec, budget, r), cell)
                bar.advance()
        record.status = "finished"
    except BaseException as exc:
        record.extra["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        record.counts.update({"cells_computed": computed, "cells_planned": len(planned)})
        record.extra["embeddings"] = emb_info
        record.timings["total"] = round(time.perf_counter() - t_start, 3)
        record.device = str(resolve_device(device))
        record.write(out)

    wanted = {(s.text, b, r) for r, b, s in planned}
    cells = [c for c in load_cells(out) if (c["method"], c["budget"], c["repeat"]) in wanted]
    summary = report.summarize(cells, baseline=baseline, confidence=confidence, method_order=[s.text for s in specs])
    files = report.write_report(out, cells, summary, baseline=baseline, confidence=confidence,
                                title=f"Probe benchmark: {len(pool)}-image pool, recipe {rec.name}, {_repeats_text(per_budget)}")
    record.extra["report"] = {k: str(v) for k, v in files.items()}
    record.write(out)
    return ProbeBenchmarkResult(out, cells, summary, computed, files)
