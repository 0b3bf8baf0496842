"""Everything the report shows, computed from a run folder: :class:`ReportData`.

:func:`compute_report_data` reads the run (:mod:`.inputs`), works out the geometry of the
selection (:mod:`.geometry`, :mod:`.layout`) and the thumbnails (:mod:`.thumbs`,
:mod:`.atlas`), and returns plain data; :mod:`.render` turns that into HTML without
computing anything. Slow parts (the kNN graph, the 2-D map, thumbnails) are cached in
``RUN_DIR/report_cache/`` keyed by what they depend on, so a rerun is fast and gives the
same page.
"""
from __future__ import annotations

import base64
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .._progress import progress_bar
from ..space.knn import knn_graph
from ..space.metric import prepare_metric
from .atlas import Atlas, build_atlas, tile_size_for
from .cache import ReportCache, digest
from .geometry import (coverage, histogram, nearest_in, neighbours_of_kept, nn_distance_of, nn_distance_within,
                       pick_kept_examples, sample_rows)
from .inputs import RunInputs, read_run
from .issues import ISSUE_BITS, duplicate_groups, issue_bits, top_outliers
from .layout import MAP_INPUT_DIMS, MAP_NEIGHBOURS, embedding_map, map_input
from .thumbs import ThumbnailStore, parse_frame_id, thumbnails

__all__ = ["ReportData", "Sample", "KeptExample", "Histogram", "Series", "Balance", "DuplicateGroup", "MapData",
           "compute_report_data", "REPORT_CACHE", "STATUS_REMOVED", "STATUS_SELECTED", "STATUS_LABELED"]

log = logging.getLogger(__name__)

REPORT_CACHE = "report_cache"
STATUS_REMOVED, STATUS_SELECTED, STATUS_LABELED = 0, 1, 2
STATUS_NAMES = {STATUS_REMOVED: "not selected", STATUS_SELECTED: "selected", STATUS_LABELED: "already labeled"}
GALLERY_PX = 96
_CACHE_FORMAT = 2


@dataclass
class Sample:
    """One sample as a gallery shows it."""

    index: int
    id: str
    status: str  # "selected", "not selected", "already labeled"
    rank: int | None  # pick order (0-based) when selected
    label: str | None
    timestamp: float | None
    thumb: str | None  # data URI of a small JPEG, None when the file could not be read


@dataclass
class Neighbour:
    sample: Sample
    distance: float
    note: str  # why it was removed, in words


@dataclass
class KeptExample:
    kept: Sample
    stands_for: int  # pool samples whose nearest centre is this one (itself included)
    reason: str  # the strategy's reason for the pick
    neighbours: list[Neighbour]


@dataclass
class Series:
    name: str
    counts: np.ndarray  # (bins,) int
    values: np.ndarray  # the distances counted (for the stats)
    css: str  # colour class

    @property
    def stats(self) -> dict[str, float]:
        v = self.values[np.isfinite(self.values)]
        if v.size == 0:
            return {}
        return {"n": int(v.size), "median": float(np.median(v)), "p95": float(np.percentile(v, 95)), "max": float(v.max())}


@dataclass
class Histogram:
    key: str
    title: str
    description: str
    xlabel: str
    edges: np.ndarray  # (bins + 1,)
    series: list[Series]


@dataclass
class Balance:
    name: str  # "label", "video", a metadata column
    rows: list[tuple[str, int, int]]  # (value, in pool, in selection), largest pool share first
    pool_total: int
    selected_total: int


@dataclass
class DuplicateGroup:
    issue: str  # exact_duplicate / near_duplicate
    members: list[tuple[Sample, float | None]]  # (sample, distance to the group's first member)


@dataclass
class Outlier:
    sample: Sample
    score: float
    flagged: bool
    detail: str


@dataclass
class MapData:
    xy: np.ndarray  # (n, 2) float32
    method: str  # "umap" or "pca"
    why: str  # why PCA, where UMAP was wanted
    status: np.ndarray  # (n,) uint8 STATUS_*
    label_index: np.ndarray  # (n,) int32 into label_names, -1 for none
    label_names: list[str]
    issue_bits: np.ndarray  # (n,) uint8 of ISSUE_BITS
    nearest_centre: np.ndarray  # (n,) int64 pool row of the nearest selected / labeled sample, -1 none
    centre_distance: np.ndarray  # (n,) float32
    rank: np.ndarray  # (n,) int32 pick order, -1 when not selected


@dataclass
class ReportData:
    title: str
    summary: dict[str, Any]
    ids: list[str]
    timestamps: list[float | None] | None
    map: MapData
    atlas: Atlas | None
    kept: list[KeptExample]
    histograms: list[Histogram]
    balance: list[Balance]
    duplicate_groups: list[DuplicateGroup]
    outliers: list[Outlier]
    issue_counts: dict[str, dict[str, int]] | None  # None: the run has no issues.csv
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


class _Clock:
    """Wall and CPU time of named steps, and of everything since it was made."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings
        self.start = (time.perf_counter(), time.process_time())

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        w, c = time.perf_counter(), time.process_time()
        yield
        self.timings[name] = time.perf_counter() - w
        self.timings[f"{name}_cpu"] = time.process_time() - c

    def total(self) -> None:
        self.timings["total"] = time.perf_counter() - self.start[0]
        self.timings["total_cpu"] = time.process_time() - self.start[1]


# -- the slow parts, cached ------------------------------------------------------------
def _geometry(cache: ReportCache, vectors_key: str, Xm: np.ndarray, seed: int) -> tuple[np.ndarray, str, str]:
    """The 2-D map of the pool (from the cache when the vectors are the same)."""
    key = digest(_CACHE_FORMAT, vectors_key, seed, MAP_NEIGHBOURS, MAP_INPUT_DIMS)
    hit = cache.load_arrays("map", key)
    if hit is not None:
        arrays, info = hit
        return arrays["xy"], info["method"], info.get("why", "")
    Xr = map_input(Xm)
    n = Xr.shape[0]
    knn = None
    if n > MAP_NEIGHBOURS + 1:
        # for the picture an approximate graph is enough: on 50,000 samples a light HNSW finds
        # 99% of the exact neighbours for 40% of the exact search's CPU time
        knn = knn_graph(Xr, MAP_NEIGHBOURS, method="exact" if n <= 20_000 else "hnsw", hnsw_m=16, ef_search=48,
                        ef_construction=40, seed=seed)
    xy, method, why = embedding_map(Xr, knn, seed=seed)
    cache.save_arrays("map", key, {"xy": xy}, {"method": method, "why": why})
    return xy, method, why


def _atlas(cache: ReportCache, jpegs: list[bytes | None], keys: list[str], n: int) -> Atlas:
    """The hover thumbnails packed into sheets (from the cache when the thumbnails are the same)."""
    largest = max((_jpeg_side(b) for b in jpegs[:200] if b is not None), default=32)
    tile = tile_size_for(n, largest)
    key = digest(_CACHE_FORMAT, tile, keys, np.array([b is not None for b in jpegs]))
    atlas = cache.load_atlas(key)
    if atlas is None:
        atlas = build_atlas(jpegs, tile)
        cache.save_atlas(key, atlas)
    return atlas


# -- pieces ---------------------------------------------------------------------------
def _content_keys(inputs: RunInputs) -> list[str]:
    """What identifies each sample's content for the thumbnail cache: the content hash
    the embedder recorded, else the file's size and modification time."""
    emb = inputs.embeddings
    if emb.content_hashes is not None:
        return [str(h) for h in emb.content_hashes]
    keys = []
    stat_cache: dict[str, str] = {}
    for sid in emb.ids:
        frame = parse_frame_id(sid)
        path = frame[0] if frame else sid
        if path not in stat_cache:
            try:
                st = (inputs.data_root / path).stat() if inputs.data_root else None
                stat_cache[path] = f"{st.st_size}-{st.st_mtime_ns}" if st else "?"
            except OSError:
                stat_cache[path] = "?"
        keys.append(stat_cache[path])
    return keys


def _data_uri(jpeg: bytes | None) -> str | None:
    return None if jpeg is None else "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _balance_tables(inputs: RunInputs, selected: np.ndarray) -> list[Balance]:
    """Counts per class (when labels exist) and per categorical metadata value (video,
    and sample_meta columns with at most 50 distinct values), pool vs selection."""
    emb = inputs.embeddings
    columns: dict[str, list[Any]] = {}
    if inputs.labels is not None:
        columns["label"] = inputs.labels
    videos = [f[0] if (f := parse_frame_id(s)) else None for s in emb.ids]
    if "video" not in emb.sample_meta and any(v is not None for v in videos):
        columns["video"] = [v if v is not None else "(images)" for v in videos]
    for name, values in emb.sample_meta.items():
        if name in ("timestamp", "frame", "time") or len(values) != len(emb):
            continue
        if all(isinstance(v, (str, int, bool)) or v is None for v in values) and len(set(values)) <= 50:
            columns[name] = values
    out = []
    for name, values in columns.items():
        vals = ["(none)" if v is None else str(v) for v in values]
        if len(set(vals)) < 2:
            continue
        pool = Counter(vals)
        sel = Counter(vals[i] for i in selected)
        rows = sorted(((v, pool[v], sel.get(v, 0)) for v in pool), key=lambda r: (-r[1], r[0]))
        out.append(Balance(name, rows, len(vals), int(len(selected))))
    return out


def _summary(inputs: RunInputs, n_selected: int, n_labeled: int, map_method: str) -> dict[str, Any]:
    rec = inputs.record
    cfg = rec.get("config") or {}
    counts = rec.get("counts") or {}
    emb = inputs.embeddings
    fp = emb.fingerprint or {}
    embed_info = rec.get("embedding") or {}
    skipped = rec.get("skipped") or []
    examples: dict[str, list[dict[str, str]]] = {}
    for s in skipped:
        examples.setdefault(s.get("reason", "?"), [])
        if len(examples[s.get("reason", "?")]) < 5:
            examples[s.get("reason", "?")].append(s)
    space = rec.get("space") or cfg.get("space") or {}
    space_text = inputs.metric
    if isinstance(space, dict) and space.get("transform"):
        space_text += f" + {space['transform']}"
    elif isinstance(space, str) and space:
        space_text += f" + {space}"
    pool = len(emb)
    return {
        "run_name": inputs.run_dir.resolve().name,
        # an inspect-only folder (inspect.json, no run.json): nothing was to be selected, so the
        # page says what was inspected instead of "picked 0"
        "inspect_only": rec.get("config_type") == "InspectConfig",
        "status": rec.get("status"),
        "command": rec.get("command"),
        "started": rec.get("started"),
        "finished": rec.get("finished"),
        "pool": pool,
        "selected": n_selected,
        "labeled": n_labeled,
        "removed": pool - n_selected - n_labeled,
        "skipped": len(skipped),
        "skipped_by_reason": dict(sorted(Counter(s.get("reason", "?") for s in skipped).items())),
        "skipped_examples": examples,
        "strategy": cfg.get("strategy") or (rec.get("selection") or {}).get("strategy"),
        "strategy_params": (rec.get("selection") or {}).get("params") or cfg.get("strategy_params") or {},
        "radius": (rec.get("selection") or {}).get("radius"),
        # what a meta-strategy (auto) chose and why, with its repetition check; None otherwise
        "choice": (rec.get("selection") or {}).get("choice"),
        "metric": cfg.get("metric") or "l2",
        "space": space_text,
        "map_method": map_method,
        "model_id": emb.model_id,
        "weights": str(fp.get("weights_sha256") or "")[:12],
        "input_size": fp.get("input_size"),
        "dim": emb.dim,
        "device": rec.get("device") or embed_info.get("device"),
        "labels_source": inputs.labels_source,
        "data_root": str(inputs.data_root) if inputs.data_root else None,
        "timings": {k: float(v) for k, v in (rec.get("timings_s") or {}).items()},
        "version": (rec.get("versions") or {}).get("labelscout"),
        "excluded_not_in_pool": counts.get("excluded_not_in_pool", 0),
    }


def _distances(cache: ReportCache, vectors_key: str, Xm: np.ndarray, selected: np.ndarray, labeled: np.ndarray, *,
               max_samples: int | None, seed: int) -> dict[str, np.ndarray]:
    """Every distance the page shows (from the cache when vectors and selection are the same):
    ``centre_pos`` / ``centre_dist`` (each sample's nearest pick or labeled sample), and for
    the histograms, over ``rows`` (all samples, or a random sample of a large pool):
    ``pool_nn``, ``sel_nn`` (within the selection), ``random_dist`` (coverage by a random
    subset of the selection's size, plus the labeled) and ``labeled_dist`` (labeled alone)."""
    key = digest(_CACHE_FORMAT, vectors_key, selected, labeled, max_samples, seed)
    hit = cache.load_arrays("distances", key)
    if hit is not None:
        return hit[0]
    n = Xm.shape[0]
    centres = np.concatenate([selected, labeled])
    centre_pos, centre_dist = coverage(Xm, centres)
    rows = sample_rows(n, max_samples, seed)
    candidates = np.setdiff1d(np.arange(n), labeled)
    # its own random stream: drawn with the same seed and size as ``rows``, the baseline
    # would be exactly the sampled rows and cover them at distance 0
    random_pick = np.random.default_rng([seed, 1]).choice(candidates, size=min(selected.size, candidates.size), replace=False)
    random_centres = np.concatenate([random_pick, labeled])
    out = {
        "centre_pos": centre_pos, "centre_dist": centre_dist, "rows": rows,
        "pool_nn": nn_distance_of(Xm, rows), "sel_nn": nn_distance_within(Xm[selected]),
        "random_dist": nearest_in(Xm[rows], Xm[random_centres], 1)[1][:, 0],
        "labeled_dist": nearest_in(Xm[rows], Xm[labeled], 1)[1][:, 0] if labeled.size else np.empty(0, np.float32),
        "random_size": np.array(random_pick.size),
    }
    cache.save_arrays("distances", key, out, {})
    return out


def _histograms(dist: dict[str, np.ndarray], n: int, n_labeled: int, *, metric: str, bins: int) -> list[Histogram]:
    """Nearest-neighbour distances (pool vs selection) and coverage (selection vs a random
    subset of the same size, and vs the labeled set alone when there is one)."""
    rows = dist["rows"]
    sampled = "" if rows.size == n else f" Pool curves are from a random {rows.size:,} of the {n:,} samples."
    xlabel = "distance between unit-length embeddings" if metric == "cosine" else "L2 distance"
    edges, counts = histogram([dist["pool_nn"], dist["sel_nn"]], bins)
    out = [Histogram(
        "nn", "Nearest-neighbour distance", "Distance from each sample to its nearest other sample, in the whole pool "
        "and within the selection. Redundant samples (near duplicates) sit at the left; a selection that removed "
        "them moves right." + sampled, xlabel, edges,
        [Series("pool", counts[0], dist["pool_nn"], "s-pool"), Series("selection", counts[1], dist["sel_nn"], "s-sel")])]
    with_labeled = " + labeled" if n_labeled else ""
    series = [("selection" + with_labeled, dist["centre_dist"][rows], "s-sel"),
              (f"random {int(dist['random_size']):,}" + with_labeled, dist["random_dist"], "s-rand")]
    if n_labeled:
        series.insert(0, ("labeled only (before)", dist["labeled_dist"], "s-pool"))
    edges, counts = histogram([v for _, v, _ in series], bins)
    out.append(Histogram(
        "coverage", "Coverage: distance to the nearest selected sample",
        "Distance from every pool sample to the nearest selected (or already labeled) sample: how well the selection "
        "stands for the pool. Compared with a random subset of the same size; the largest value is the covering "
        "radius." + sampled, xlabel, edges,
        [Series(name, c, v, css) for (name, v, css), c in zip(series, counts)]))
    return out


def _pictures(inputs: RunInputs, store: ReportCache, cache_dir: Path | None, gallery_rows: list[int],
              progress: bool | None) -> tuple[Atlas, dict[int, str | None]]:
    """The hover atlas of every sample and larger thumbnails (data URIs) for the galleries."""
    emb = inputs.embeddings
    n = len(emb)
    thumb_store = ThumbnailStore(cache_dir)
    keys = _content_keys(inputs)
    with progress_bar("Report thumbnails", n + len(gallery_rows), progress) as bar:
        small = thumbnails(inputs.data_root, emb.ids, keys, 64, thumb_store, on_progress=bar.advance)
        big = thumbnails(inputs.data_root, [emb.ids[r] for r in gallery_rows], [keys[r] for r in gallery_rows],
                         GALLERY_PX, thumb_store, on_progress=bar.advance)
    thumb_store.save()
    atlas = _atlas(store, small, [f"{i}:{k}" for i, k in zip(emb.ids, keys)], n)
    missing = int((~atlas.present).sum())
    if missing:
        inputs.notes.append(f"{missing} of {n} samples have no thumbnail (their files could not be read under "
                            f"{inputs.data_root}).")
    return atlas, {r: _data_uri(b) for r, b in zip(gallery_rows, big)}


def _removed_note(r: int, pick: int, nearest_centre: np.ndarray, centre_dist: np.ndarray, status: np.ndarray,
                  rank: np.ndarray, bits: np.ndarray) -> str:
    """Why removed sample ``r``, shown next to ``pick``, was not selected, when it is not
    simply that ``pick`` stands for it."""
    owner = int(nearest_centre[r])
    if owner == pick:
        note = ""  # the usual case: this pick is the removed sample's nearest
    elif owner >= 0 and status[owner] == STATUS_LABELED:
        note = f"closer to a labeled sample ({centre_dist[r]:.3g})"
    else:
        note = f"closer to pick #{int(rank[owner]) + 1} ({centre_dist[r]:.3g})"
    if bits[r] & (ISSUE_BITS["exact_duplicate"] | ISSUE_BITS["near_duplicate"]):
        note = "duplicate" + (f"; {note}" if note else "")
    return note


# -- the whole report ---------------------------------------------------------------------
def compute_report_data(
    run_dir: str | Path,
    *,
    root: str | Path | None = None,
    n_kept_examples: int = 16,
    n_neighbours: int = 8,
    n_groups: int = 12,
    n_outliers: int = 24,
    bins: int = 40,
    max_histogram_samples: int | None = 5_000,
    thumbs: bool = True,
    cache: bool = True,
    seed: int = 0,
    progress: bool | None = None,
) -> ReportData:
    """Read ``run_dir`` and compute everything the report shows.

    ``root``: where the sample files are (default: as recorded in run.json).
    ``max_histogram_samples``: pools larger than this get their histograms from a random
    sample of this size (None: every sample). ``thumbs=False`` skips thumbnails (the page
    then shows ids only); ``cache=False`` neither reads nor writes ``RUN_DIR/report_cache``.
    """
    timings: dict[str, float] = {}  # wall seconds, and CPU seconds (all threads) as NAME_cpu
    clock = _Clock(timings)
    inputs = read_run(run_dir, root)
    emb, sel = inputs.embeddings, inputs.selection
    n = len(emb)
    cache_dir = Path(run_dir) / REPORT_CACHE if cache else None
    store = ReportCache(cache_dir)

    # (n, d) vectors in the selection's metric; L2 distances here are the strategy's distances
    # (a pca / umap selection ran on its fitted space: those vectors, with L2)
    space_metric = "l2" if inputs.space_vectors is not None else inputs.metric
    Xm = inputs.space_vectors if inputs.space_vectors is not None else prepare_metric(np.asarray(emb.vectors), inputs.metric)
    selected = sel.indices
    labeled = np.setdiff1d(inputs.excluded, selected)
    centres = np.concatenate([selected, labeled])
    status = np.zeros(n, np.uint8)
    status[labeled] = STATUS_LABELED
    status[selected] = STATUS_SELECTED
    removed = np.flatnonzero(status == STATUS_REMOVED)
    rank = np.full(n, -1, np.int32)
    rank[selected] = np.arange(selected.size, dtype=np.int32)

    vectors_key = digest(space_metric, Xm)  # what every cached entry depends on
    with clock("map"):
        xy, map_method, map_why = _geometry(store, vectors_key, Xm, seed)

    with clock("distances"):
        dist = _distances(store, vectors_key, Xm, selected, labeled, max_samples=max_histogram_samples, seed=seed)
        centre_pos, centre_dist = dist["centre_pos"], dist["centre_dist"]
        nearest_centre = np.full(n, -1, np.int64)
        nearest_centre[centre_pos >= 0] = centres[centre_pos[centre_pos >= 0]]
        cell = np.bincount(centre_pos[centre_pos >= 0], minlength=centres.size)[: selected.size]
        histograms = _histograms(dist, n, labeled.size, metric=space_metric, bins=bins)

    # -- thumbnails ------------------------------------------------------------------------
    with clock("thumbnails"):
        chosen = pick_kept_examples(cell, n_kept_examples, seed) if selected.size else np.empty(0, np.int64)
        kept_rows = selected[chosen]
        nb_idx, nb_dist = neighbours_of_kept(Xm, kept_rows, removed, n_neighbours)
        groups = duplicate_groups(inputs.issues, emb.ids, n_groups)
        outliers = top_outliers(inputs.issues, emb.ids, n_outliers)
        gallery_rows = sorted({*kept_rows.tolist(), *nb_idx[nb_idx >= 0].tolist(), *(r for _, m in groups for r, _ in m),
                               *(o[0] for o in outliers)})
        atlas, gallery = None, {}
        if thumbs and inputs.data_root is not None:
            atlas, gallery = _pictures(inputs, store, cache_dir, gallery_rows, progress)

    labels = inputs.labels
    timestamps = emb.sample_meta.get("timestamp")

    def sample(row: int) -> Sample:
        ts = timestamps[row] if timestamps is not None else None
        return Sample(int(row), emb.ids[row], STATUS_NAMES[int(status[row])], int(rank[row]) if rank[row] >= 0 else None,
                      labels[row] if labels is not None else None, float(ts) if isinstance(ts, (int, float)) else None,
                      gallery.get(int(row)))

    bits, issue_counts = issue_bits(inputs.issues, emb.ids)
    kept: list[KeptExample] = []
    for e, (j, row) in enumerate(zip(chosen, kept_rows)):
        neighbours = []
        for r, d in zip(nb_idx[e], nb_dist[e]):
            if r < 0:
                continue
            note = _removed_note(int(r), int(row), nearest_centre, centre_dist, status, rank, bits)
            neighbours.append(Neighbour(sample(int(r)), float(d), note))
        kept.append(KeptExample(sample(int(row)), int(cell[j]), sel.reasons[j] if j < len(sel.reasons) else "", neighbours))

    label_names: list[str] = []
    label_index = np.full(n, -1, np.int32)
    if labels is not None:
        counts_by_label = Counter(str(v) for v in labels if v is not None)
        label_names = [k for k, _ in sorted(counts_by_label.items(), key=lambda kv: (-kv[1], kv[0]))]
        lookup = {k: i for i, k in enumerate(label_names)}
        label_index = np.array([lookup[str(v)] if v is not None else -1 for v in labels], np.int32)

    data = ReportData(
        title=f"labelscout report: {inputs.run_dir.resolve().name}",
        summary=_summary(inputs, int(selected.size), int(labeled.size), map_method),
        ids=list(emb.ids),
        timestamps=[float(t) if isinstance(t, (int, float)) else None for t in timestamps] if timestamps is not None else None,
        map=MapData(xy, map_method, map_why, status, label_index, label_names, bits,
                    nearest_centre.astype(np.int64), centre_dist.astype(np.float32), rank),
        atlas=atlas,
        kept=kept,
        histograms=histograms,
        balance=_balance_tables(inputs, selected),
        duplicate_groups=[DuplicateGroup(issue, [(sample(r), d) for r, d in members]) for issue, members in groups],
        outliers=[Outlier(sample(r), s, f, d) for r, s, f, d in outliers],
        issue_counts=issue_counts,
        notes=list(inputs.notes),
        timings=timings,
    )
    if map_why and map_method == "pca" and n >= 64:
        data.notes.append(f"The map uses PCA: {map_why}.")
    if issue_counts is None:
        data.notes.append("This run has no issues.csv, so duplicates and outliers are not shown "
                          "(run the detectors to get them).")
    clock.total()
    return data


def _jpeg_side(data: bytes) -> int:
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(data)) as img:
        return max(img.size)
