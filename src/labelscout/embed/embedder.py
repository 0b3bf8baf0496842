"""Batched inference over a collection, with a content cache and resume.

Flow: scan -> hash every file (threads) -> look the hashes up in the cache -> decode and
preprocess the missing files in DataLoader worker processes -> run the model in batches
(mixed precision on GPU) -> write finished vectors to the cache every few seconds ->
assemble the vectors in collection order. Unreadable files are skipped and reported with
a reason; a re-run embeds only files whose content it has not seen.
"""
from __future__ import annotations

import contextlib

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .._device import resolve_device
from .._progress import progress_bar
from .._validation import nonfinite_rows, zero_rows
from ..errors import BadSampleError, ConfigError
from ..models.registry import LoadedModel, load_model
from ..sources.collection import Collection, collect
from ..sources.images import DEFAULT_MAX_PIXELS, count_frames, load_image
from ..sources.video import VideoOptions
from .cache import EmbeddingCache, default_cache_root, hash_files
from .preprocess import Preprocess, group_by_size, normalize_batch
from .runtime import RUNTIMES, OnnxEmbedder, onnxruntime_available
from .store import EmbeddingSet

__all__ = ["Embedder", "EmbedResult", "resolve_device"]

log = logging.getLogger(__name__)

#: rows of every network call on the CPU (see :attr:`Embedder.forward_rows`)
CPU_FORWARD_ROWS = 16
#: below this many cores, images are decoded in a thread instead of worker processes
MIN_CORES_FOR_DECODE_PROCESSES = 4
#: batches decoded ahead of the network when decoding runs in a thread
PREFETCH_BATCHES = 2


def _prefetched(batches, depth: int = PREFETCH_BATCHES):
    """Iterate ``batches`` in a background thread, ``depth`` items ahead of the consumer.

    Used when decoding runs in this process: the thread decodes the next batch while the
    caller runs the network on this one. An exception in the thread is raised here; when
    the consumer stops early, the thread stops at its next item.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in batches:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put((done, exc))

    thread = threading.Thread(target=produce, name="labelscout-decode", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


@dataclass
class EmbedResult:
    embeddings: EmbeddingSet
    skipped: list[dict[str, str]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    collection: Collection | None = None
    notes: list[str] = field(default_factory=list)  # the run's input notes (see RunRecord.input_notes)


class _ImageFiles(Dataset):
    def __init__(self, root: Path, ids: Sequence[str], preprocess: Preprocess, max_pixels: int):
        self.root, self.ids, self.preprocess, self.max_pixels = root, list(ids), preprocess, max_pixels

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        try:
            img = load_image(self.root / self.ids[i], self.max_pixels, draft_size=self.preprocess.draft_size)
            return i, self.preprocess(img), "", ""
        except BadSampleError as exc:
            return i, None, exc.reason, exc.message
        except Exception as exc:  # a decoder bug on one file must not end the run
            return i, None, "corrupt", f"{self.ids[i]}: {type(exc).__name__}: {exc}"


def _collate(items):
    """-> ([(dataset indices, (B, 3, s, s) uint8)] one per input size, [(index, reason, detail)])."""
    ok = [(i, t) for i, t, _, _ in items if t is not None]
    bad = [(i, r, d) for i, t, r, d in items if t is None]
    groups = [([ok[p][0] for p in pos], batch) for pos, batch in group_by_size([t for _, t in ok])]
    return groups, bad


class Embedder:
    """Turns a collection of images into an :class:`EmbeddingSet`.

    Parameters
    ----------
    model : model spec (see :func:`labelscout.models.registry.load_model`); default built-in.
    device : "auto", "cpu", "cuda", "cuda:N" or "mps".
    batch_size : images per forward pass.
    workers : decode processes (None: chosen for this machine and collection, see :meth:`_workers_for`;
        0: decode in a background thread of this process, ahead of the network).
    cache_dir : root of the content cache; "default" uses ``$LABELSCOUT_CACHE_DIR`` or
        ``~/.cache/labelscout``; None disables caching (and resuming).
    flush_seconds : how often finished vectors are written to the cache (bounds the work
        lost to a crash).
    video : how videos become samples (fps, clips of frames, keyframes only); see
        :class:`labelscout.sources.video.VideoOptions`. For videos, ``workers`` is the
        number of decoding threads (None: one per core; 0: decode in the calling thread).
    runtime : "auto" (ONNX Runtime on the CPU for EfficientNet-Lite models when
        ``onnxruntime`` is installed, else PyTorch), "torch" or "onnx" (CPU only).
    """

    def __init__(
        self,
        model: str | LoadedModel | None = None,
        *,
        arch: str | None = None,
        weights: str | None = None,
        input_size: int | None = None,
        device: str = "auto",
        batch_size: int = 256,
        workers: int | None = None,
        cache_dir: str | Path | None = "default",
        max_pixels: int = DEFAULT_MAX_PIXELS,
        flush_seconds: float = 5.0,
        progress: bool | None = None,
        video: VideoOptions | None = None,
        runtime: str = "auto",
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"The 'batch_size' parameter of Embedder must be an int >= 1. Got {batch_size!r} instead.")
        if workers is not None and (not isinstance(workers, int) or workers < 0):
            raise ConfigError(f"The 'workers' parameter of Embedder must be an int >= 0 or None. Got {workers!r} instead.")
        if runtime not in RUNTIMES:
            raise ConfigError(f"The 'runtime' parameter of Embedder must be one of {set(RUNTIMES)}. Got {runtime!r} instead.")
        self.runtime = runtime
        self._onnx: OnnxEmbedder | None = None
        self.model = model
        self.arch, self.weights, self.input_size = arch, weights, input_size
        self.device = device
        self.batch_size = batch_size
        self.workers = workers
        self.cache_dir = default_cache_root() if cache_dir == "default" else cache_dir
        self.max_pixels = max_pixels
        self.flush_seconds = flush_seconds
        self.progress = progress
        self.video = video if video is not None else VideoOptions()
        self._loaded: LoadedModel | None = model if isinstance(model, LoadedModel) else None
        self._device: torch.device | None = None

    # -- model ------------------------------------------------------------------------
    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            self._loaded = load_model(self.model, arch=self.arch, weights=self.weights, input_size=self.input_size)
        return self._loaded

    @property
    def torch_device(self) -> torch.device:
        if self._device is None:
            self._device = resolve_device(self.device)
            self.loaded.module.to(self._device)
            if self._device.type == "cpu":
                # depthwise convolutions (EfficientNet-Lite) run faster on the CPU in NHWC layout
                self.loaded.module.to(memory_format=torch.channels_last)
        return self._device

    @property
    def preprocess(self) -> Preprocess:
        m = self.loaded
        return Preprocess(m.input_size, m.resize_size, m.small_input_size, m.small_side, m.resample)

    def cache(self) -> EmbeddingCache:
        return EmbeddingCache(self.cache_dir, self.loaded.fingerprint_key, self.loaded.fingerprint)

    @property
    def runtime_name(self) -> str:
        """The runtime that actually runs the network: "onnxruntime" or "torch"."""
        return "onnxruntime" if self._onnx_runtime() is not None else "torch"

    def _onnx_runtime(self) -> OnnxEmbedder | None:
        if self._onnx is not None:
            return self._onnx
        if self.runtime == "torch":
            return None
        on_cpu = self.torch_device.type == "cpu"
        if self.runtime == "onnx":
            if not on_cpu:
                raise ConfigError(f"runtime 'onnx' runs on the CPU only; the device is {self.torch_device}.",
                                  hint="Use --device cpu, or runtime 'torch' on a GPU.")
            if not onnxruntime_available():
                raise ConfigError("runtime 'onnx' needs the onnxruntime package.", hint="pip install onnxruntime")
        elif not (on_cpu and onnxruntime_available() and self.loaded.extra.get("onnx", False)):
            return None
        self._onnx = OnnxEmbedder(self.loaded.module, self.loaded.fingerprint_key)
        return self._onnx

    @property
    def forward_rows(self) -> int:
        """Rows of every network call: batches are cut into chunks of this many and the
        last chunk is padded with blank rows.

        A sample's vector must not depend on the batch it happens to be in: shards of a job,
        a run resumed from the cache and a single run all batch the same images differently.
        The kernels pick their algorithm by input shape (PyTorch's CPU convolutions give a
        batch of one other float32 rounding than a batch of two or more), so the network
        always sees one shape and the vectors are bit-identical whatever the batching
        (tests/embed/test_batch_invariance.py). On the CPU the shape is a fixed 16 rows, so
        the vectors do not even depend on ``batch_size`` and a cache filled by any run serves
        any other. ONNX Runtime embeds as fast in 16-row calls as in 256-row ones (measured on
        2 cores: 384-419 vs 317-339 images/s at 128 px; docs/benchmarks.md); the cost is the
        padding of a batch's last partial call. On a GPU, where small calls waste the device, it
        is ``batch_size`` (bit-identity there is not tested: no GPU in the test runs).
        """
        return CPU_FORWARD_ROWS if self.torch_device.type == "cpu" else self.batch_size

    @torch.inference_mode()
    def forward_uint8(self, batch_u8: torch.Tensor) -> np.ndarray:
        """(B, 3, s, s) uint8 -> (B, D) float32 embeddings, run in fixed-shape chunks of
        :attr:`forward_rows` rows (padded), so each row's vector is independent of B and of
        the other rows."""
        rows = self.forward_rows
        n = int(batch_u8.shape[0])
        if n == 0:
            return np.empty((0, self.loaded.embedding_dim), np.float32)
        out = []
        for start in range(0, n, rows):
            chunk = batch_u8[start : start + rows]
            k = int(chunk.shape[0])
            if k < rows:  # (rows, 3, s, s): blank rows keep the shape; their outputs are dropped
                chunk = torch.cat([chunk, chunk.new_zeros((rows - k, *chunk.shape[1:]))])
            out.append(self._forward_fixed(chunk)[:k])
        return out[0] if len(out) == 1 else np.concatenate(out)

    def _forward_fixed(self, batch_u8: torch.Tensor) -> np.ndarray:
        """One network call on a (forward_rows, 3, s, s) uint8 batch -> (forward_rows, D) float32."""
        dev = self.torch_device
        x = normalize_batch(batch_u8.to(dev, non_blocking=True), self.loaded.mean, self.loaded.std)
        onnx = self._onnx_runtime()
        if onnx is not None:
            return onnx(x)
        if dev.type == "cpu" and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if dev.type == "cuda":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = self.loaded.module(x)
        else:
            out = self.loaded.module(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return torch.flatten(out, 1).float().cpu().numpy()

    def embed_pictures(self, pictures: Sequence[Any]) -> np.ndarray:
        """Embed in-memory PIL images or (H, W, 3) uint8 arrays; returns (n, D) float32."""
        pre = self.preprocess
        out = np.empty((len(pictures), self.loaded.embedding_dim), np.float32)
        for s in range(0, len(pictures), self.batch_size):
            chunk = pictures[s : s + self.batch_size]
            tensors = [pre.array(p) if isinstance(p, np.ndarray) else pre(p.convert("RGB")) for p in chunk]
            for pos, batch in group_by_size(tensors):
                out[[s + p for p in pos]] = self.forward_uint8(batch)
        return out

    # -- collections -------------------------------------------------------------------
    def embed(self, source: str | Path | Collection) -> EmbedResult:
        """Embed every image under ``source`` (a folder or a file)."""
        t_start = time.perf_counter()
        col = source if isinstance(source, Collection) else collect(source)
        # files the scan refused to open (FIFOs, devices, broken links) are skipped samples too
        skipped: list[dict[str, str]] = list(col.scan.skipped) if col.scan is not None else []
        cache = self.cache()
        ids: list[str] = []
        keys: list[str] = []
        meta: dict[str, list[Any]] = {}
        vectors: dict[str, np.ndarray] = {}

        # 1. content hashes
        t0 = time.perf_counter()
        hashes = hash_files([col.root / i for i in col.images])
        t_hash = time.perf_counter() - t0
        image_ids, image_keys = [], []
        for sid, h in zip(col.images, hashes):
            if isinstance(h, BaseException):
                skipped.append({"id": sid, "reason": "unreadable", "detail": f"{type(h).__name__}: {h}"})
            else:
                image_ids.append(sid)
                image_keys.append(h)

        # 2. cache lookup, then embed what is missing
        cached = cache.lookup(image_keys)
        vectors.update(cached)
        todo = [(sid, k) for sid, k in zip(image_ids, image_keys) if k not in cached]
        t0 = time.perf_counter()
        bad = self._embed_files(col.root, todo, cache, vectors)
        t_embed = time.perf_counter() - t0
        skipped.extend(bad)
        bad_ids = {b["id"] for b in bad}
        for sid, k in zip(image_ids, image_keys):
            if sid not in bad_ids and k in vectors:
                ids.append(sid)
                keys.append(k)

        # 3. videos (frames decoded in memory) come through the same cache
        video_stats: dict[str, Any] = {}
        if col.videos:
            from .video import embed_videos  # noqa: WPS433 - only needed for video collections

            v_ids, v_keys, v_vectors, v_meta, v_skipped, video_stats = embed_videos(self, col, cache)
            skipped.extend(v_skipped)
            for k, v in zip(v_keys, v_vectors):
                vectors[k] = v
            n_images = len(ids)
            ids += v_ids
            keys += v_keys
            for col_name, values in v_meta.items():
                meta.setdefault(col_name, [None] * n_images).extend(values)
            for col_name in meta:
                if len(meta[col_name]) < len(ids):
                    meta[col_name].extend([None] * (len(ids) - len(meta[col_name])))
        cache.compact()

        dim = self.loaded.embedding_dim
        matrix = np.stack([vectors[k] for k in keys]).astype(np.float32) if keys else np.empty((0, dim), np.float32)
        # a model can emit NaN (or, after a ReLU, all zeros) for a degenerate input; such
        # samples cannot be placed in space (a zero vector has no direction for cosine)
        nan_rows, zero = nonfinite_rows(matrix), zero_rows(matrix)
        if nan_rows.size or zero.size:
            for r in nan_rows:
                skipped.append({"id": ids[r], "reason": "nan_embedding", "detail": "the model produced NaN/inf for this sample"})
            for r in zero:
                skipped.append({"id": ids[r], "reason": "zero_embedding", "detail": "the model produced an all-zero vector for this sample"})
            keep = np.setdiff1d(np.arange(len(ids)), np.concatenate([nan_rows, zero]))
            matrix = matrix[keep]
            ids = [ids[i] for i in keep]
            keys = [keys[i] for i in keep]
            meta = {c: [v[i] for i in keep] for c, v in meta.items()}
        emb = EmbeddingSet(matrix, ids, self.loaded.model_id, self.loaded.fingerprint, keys, meta)
        # policy: a multi-frame image (animated GIF / WebP / PNG, multi-page TIFF) is one sample,
        # its first frame; counted on every run (cached or not) so run.json always says so
        multi = {sid: n for sid, n in count_frames(col.root, [i for i in ids if "#" not in i]).items() if n > 1}
        n_new = len(todo) - len(bad)
        stats = {
            "samples": len(ids),
            "images_found": len(col.images),
            "videos_found": len(col.videos),
            "embedded_new": n_new,
            "from_cache": len(cached),
            "skipped": len(skipped),
            "hash_s": round(t_hash, 3),
            "embed_s": round(t_embed, 3),
            "embed_images_per_s": round(n_new / t_embed, 1) if n_new and t_embed > 0 else None,
            "total_s": round(time.perf_counter() - t_start, 3),
            "device": str(self.torch_device),
            "runtime": self.runtime_name,
            "batch_size": self.batch_size,
            "multi_frame_images": len(multi),
            "multi_frame_policy": "first frame used",
            "multi_frame_examples": {k: multi[k] for k in sorted(multi)[:20]},
            **video_stats,
        }
        return EmbedResult(emb, sorted(skipped, key=lambda s: s["id"]), stats, col)

    def _workers_for(self, n: int) -> int:
        """Decode processes for ``n`` files; 0 decodes in a background thread of this process.

        Worker processes pay a start-up and hand every batch over through shared memory; on
        a machine with few cores they also take the cores the network needs. Measured on 2
        cores (lite2, 2,000 CIFAR JPEGs, ONNX Runtime, benchmarks/bench_embed.py): 116 images/s
        with 2 decode processes (``--workers 2``, results/embed_throughput_workers2.json)
        against 154 with a decode thread (results/embed_throughput.json). Pillow releases the
        GIL while it decodes and resizes, so the thread overlaps decoding with the network.
        """
        if self.workers is not None:
            return self.workers
        cores = os.cpu_count() or 2
        if n < 512 or cores < MIN_CORES_FOR_DECODE_PROCESSES:
            return 0
        return max(1, min(4, cores - 2))

    def _embed_files(self, root: Path, todo: list[tuple[str, str]], cache: EmbeddingCache, vectors: dict[str, np.ndarray]) -> list[dict[str, str]]:
        if not todo:
            return []
        dataset = _ImageFiles(root, [sid for sid, _ in todo], self.preprocess, self.max_pixels)
        workers = self._workers_for(len(todo))
        loader = DataLoader(
            dataset, batch_size=self.batch_size, shuffle=False, num_workers=workers, collate_fn=_collate,
            pin_memory=self.torch_device.type == "cuda", persistent_workers=False,
            prefetch_factor=4 if workers else None,
        )
        bad: list[dict[str, str]] = []
        pending_keys: list[str] = []
        pending_vecs: list[np.ndarray] = []
        last_flush = time.monotonic()

        def flush() -> None:
            nonlocal pending_keys, pending_vecs, last_flush
            if pending_keys:
                cache.add(pending_keys, np.concatenate(pending_vecs))
            pending_keys, pending_vecs, last_flush = [], [], time.monotonic()

        # finished batches are cached even when the run stops (cancel, Ctrl-C): a rerun resumes
        with progress_bar("embedding", total=len(todo), progress=self.progress, unit="images") as bar, \
                contextlib.ExitStack() as finished:
            finished.callback(flush)
            for groups, bad_items in (loader if workers else _prefetched(loader)):
                for i, reason, detail in bad_items:
                    bad.append({"id": todo[i][0], "reason": reason, "detail": detail})
                n_done = len(bad_items)
                for idx, batch in groups:
                    out = self.forward_uint8(batch)
                    batch_keys = [todo[i][1] for i in idx]
                    for k, v in zip(batch_keys, out):
                        vectors[k] = v
                    pending_keys += batch_keys
                    pending_vecs.append(out)
                    n_done += len(idx)
                # flush on batch boundaries only: a resumed run then forms the same batches
                if time.monotonic() - last_flush >= self.flush_seconds:
                    flush()
                bar.advance(n_done)
        return bad
