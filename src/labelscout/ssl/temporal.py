"""Temporal positives for self-supervised training on video (the thesis's change to SwAV).

Augmentations of one image teach a model what does not matter between two crops; on video,
two frames a moment apart show the same scene from a slightly moved camera, with moved
objects and changed light: real, not synthetic, variation. So a positive pair is a frame
and another frame of the same video at most ``max_dt`` seconds away. Negatives (the other
pairs of the batch, or SwAV's prototypes) must be different scenes, so every batch is drawn
from frames at least ``min_gap`` seconds apart within a video (frames of different videos
always qualify). The model then learns what changes between scenes, not between frames.

:class:`TemporalPairSampler` yields, per batch, two int64 index arrays of shape
``(batch_size,)``: anchors and their positives, indices into the frames of a
:class:`~labelscout.sources.video_frames.VideoFrames`. A trainer that takes index pairs
(views of ``images[a]`` and ``images[b]``) uses it in place of its default "same image
twice" sampler::

    frames = load_video_frames("videos/", size=32, fps=5)
    sampler = TemporalPairSampler(frames.video, frames.timestamps, batch_size=256)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for a, b in sampler:
            views = method.make_views(frames.images[a], frames.images[b], generator)
"""
from __future__ import annotations

import bisect
import numbers
from typing import Any, ClassVar, Iterator

import numpy as np

from .._validation import Instance, Interval, validate_params
from ..errors import ConfigError, InputError

__all__ = ["TemporalPairSampler", "temporal_positives", "far_apart_batches"]

_EPS = 1e-6  # timestamps are exact to the microsecond; "within max_dt" includes that much slack


class _TimeIndex:
    """Frames on one time line: each video's times shifted past the previous video's end
    (plus a margin wider than any search window), so one sorted array serves every video."""

    def __init__(self, video: np.ndarray, timestamps: np.ndarray, margin: float):
        self.order = np.lexsort((timestamps, video))  # (n,) frame indices in (video, time) order
        v = video[self.order]
        t = timestamps[self.order]
        starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        lengths = np.diff(np.r_[starts, v.size])
        span = np.maximum.reduceat(t, starts) - np.minimum.reduceat(t, starts)
        low = np.minimum.reduceat(t, starts)
        offset = np.r_[0.0, np.cumsum(span + 2 * margin + 1.0)[:-1]] - low  # per video
        self.line = t + np.repeat(offset, lengths)  # (n,) sorted
        self.pos_of = np.empty_like(self.order)
        self.pos_of[self.order] = np.arange(self.order.size)

    def positives(self, anchors: np.ndarray, max_dt: float, rng: np.random.Generator) -> np.ndarray:
        p = self.pos_of[anchors]
        x = self.line[p]
        lo = np.searchsorted(self.line, x - max_dt - _EPS, side="left")
        hi = np.searchsorted(self.line, x + max_dt + _EPS, side="right")
        n_other = hi - lo - 1  # candidates excluding the anchor itself
        q = lo + np.floor(rng.random(p.size) * np.maximum(n_other, 1)).astype(np.int64)
        q = np.where(q >= p, q + 1, q)  # skip the anchor's own position
        q = np.where(n_other > 0, q, p)
        return self.order[q]


def temporal_positives(video: np.ndarray, timestamps: np.ndarray, anchors: np.ndarray, max_dt: float, rng: np.random.Generator) -> np.ndarray:
    """For each anchor, a uniformly chosen other frame of its video within ``max_dt`` seconds
    (to the microsecond).

    An anchor with no such neighbour is its own positive (the views then differ only by
    augmentation, as in image training). Returns int64 indices, shape ``anchors.shape``.
    """
    index = _TimeIndex(np.asarray(video, dtype=np.int64), np.asarray(timestamps, dtype=np.float64), max_dt)
    return index.positives(np.asarray(anchors, dtype=np.int64), max_dt, rng)


def far_apart_batches(video: np.ndarray, timestamps: np.ndarray, batch_size: int, min_gap: float,
                      rng: np.random.Generator, drop_last: bool = True) -> list[np.ndarray]:
    """One epoch of batches: every frame at most once, frames of one video in a batch at
    least ``min_gap`` seconds apart.

    Frames are taken in random order and placed into the first open batch they fit (first
    fit); a batch is emitted once it holds ``batch_size`` frames. At the end, unfilled
    batches are emitted unless ``drop_last``.
    """
    video = np.asarray(video, dtype=np.int64)
    timestamps = np.asarray(timestamps, dtype=np.float64)
    out: list[np.ndarray] = []
    open_batches: list[tuple[list[int], dict[int, list[float]]]] = []
    for i in rng.permutation(video.size):
        v, t = int(video[i]), float(timestamps[i])
        placed = False
        for b, (members, times) in enumerate(open_batches):
            ts = times.get(v)
            if ts:
                k = bisect.bisect_left(ts, t)
                if (k < len(ts) and ts[k] - t < min_gap) or (k > 0 and t - ts[k - 1] < min_gap):
                    continue  # too close in time to a frame of the same video already in this batch
                ts.insert(k, t)
            else:
                times[v] = [t]
            members.append(int(i))
            if len(members) == batch_size:
                out.append(np.asarray(members, dtype=np.int64))
                open_batches.pop(b)
            placed = True
            break
        if not placed:
            open_batches.append(([int(i)], {v: [t]}))
            if batch_size == 1:
                out.append(np.asarray([int(i)], dtype=np.int64))
                open_batches.pop()
    if not drop_last:
        out.extend(np.asarray(m, dtype=np.int64) for m, _ in open_batches if m)
    order = rng.permutation(len(out))  # batches finish in an order biased by first fit
    return [out[j] for j in order]


class TemporalPairSampler:
    """Batches of (anchor, positive) frame indices for temporal self-supervision.

    Parameters
    ----------
    video : int array of shape (n_frames,), which video each frame belongs to.
    timestamps : float array of shape (n_frames,), seconds within its video.
    batch_size : anchors per batch.
    max_dt : a positive is another frame of the anchor's video at most this many seconds away.
    min_gap : frames of the same video in one batch are at least this many seconds apart.
    seed : the epoch's random order is drawn from (seed, epoch).
    drop_last : emit only full batches.

    Iterating yields ``(anchors, positives)``, two int64 arrays of shape (batch_size,).
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "batch_size": [Interval(numbers.Integral, 1, None)],
        "max_dt": [Interval(numbers.Real, 0, None)],
        "min_gap": [Interval(numbers.Real, 0, None)],
        "seed": [Interval(numbers.Integral, 0, None)],
        "drop_last": [Instance(bool)],
    }

    def __init__(self, video: Any, timestamps: Any, *, batch_size: int = 256, max_dt: float = 1.0, min_gap: float = 10.0,
                 seed: int = 0, drop_last: bool = True):
        validate_params("TemporalPairSampler", {"batch_size": batch_size, "max_dt": max_dt, "min_gap": min_gap,
                                                "seed": seed, "drop_last": drop_last}, self._parameter_constraints)
        self.video = np.asarray(video, dtype=np.int64).reshape(-1)
        self.timestamps = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if self.video.size != self.timestamps.size:
            raise InputError(f"video has {self.video.size} entries but timestamps has {self.timestamps.size}; one per frame is needed.")
        if self.video.size == 0:
            raise InputError("No frames to sample from.", hint="Decode some videos first (load_video_frames).")
        if not np.isfinite(self.timestamps).all():
            raise InputError("timestamps hold NaN or infinite values.")
        self.batch_size, self.max_dt, self.min_gap = batch_size, float(max_dt), float(min_gap)
        self.seed, self.drop_last = seed, drop_last
        self.epoch = 0
        self._plan: tuple[int, list[np.ndarray]] | None = None
        self._n_batches: int | None = None
        self._index = _TimeIndex(self.video, self.timestamps, self.max_dt)
        cap = self.capacity()
        if drop_last and cap < batch_size:
            raise ConfigError(
                f"With min_gap={min_gap:g} s, a batch can hold at most {cap} frames of these "
                f"{np.unique(self.video).size} video(s), fewer than batch_size={batch_size}.",
                hint="Lower the batch size or min_gap, or add videos.",
            )

    def capacity(self) -> int:
        """The most frames one batch can hold: per video, one per ``min_gap`` seconds it spans."""
        if self.min_gap == 0:
            return int(self.video.size)
        total = 0
        for v in np.unique(self.video):
            t = np.sort(self.timestamps[self.video == v])
            # greedy from the start is optimal for points on a line
            count, last = 0, -np.inf
            for x in t:
                if x - last >= self.min_gap:
                    count, last = count + 1, x
            total += count
        return total

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _batches(self) -> list[np.ndarray]:
        if self._plan is None or self._plan[0] != self.epoch:
            rng = np.random.default_rng([self.seed, self.epoch])
            self._plan = (self.epoch, far_apart_batches(self.video, self.timestamps, self.batch_size, self.min_gap, rng, self.drop_last))
        return self._plan[1]

    def __len__(self) -> int:
        return len(self._batches())

    # -- the trainer's PairSampler protocol (labelscout.ssl.samplers) -------------------
    def num_batches(self) -> int:
        """Batches per epoch, fixed for the whole run (the learning-rate schedule counts on it):
        the number of full batches epoch 0 packs. Another epoch's packing may differ by a few
        batches; :meth:`batches` then tops up or truncates to exactly this many."""
        if self._n_batches is None:
            self._n_batches = len(far_apart_batches(self.video, self.timestamps, self.batch_size, self.min_gap,
                                                    np.random.default_rng([self.seed, 0]), self.drop_last))
            if self._n_batches == 0:
                raise ConfigError(f"No full batch of {self.batch_size} frames can be formed from {self.video.size} frames.",
                                  hint="Lower --batch-size or --min-gap, raise --fps, or add videos.")
        return self._n_batches

    def batches(self, epoch: int, generator: Any = None) -> Iterator[tuple[Any, Any]]:
        """Exactly :meth:`num_batches` (anchors, positives) pairs of torch int64 tensors for
        ``epoch``, determined by (seed, epoch) alone so a resumed run repeats them."""
        import torch

        want = self.num_batches()
        self.set_epoch(epoch)
        rng = np.random.default_rng([self.seed, epoch, 1])
        plan = list(self._batches())
        extra = 0
        while len(plan) < want:  # this epoch packed fewer full batches: draw more from a sub-seed
            extra += 1
            plan += far_apart_batches(self.video, self.timestamps, self.batch_size, self.min_gap,
                                      np.random.default_rng([self.seed, epoch, 2, extra]), True)
        for anchors in plan[:want]:
            positives = self._index.positives(anchors, self.max_dt, rng)
            yield torch.from_numpy(anchors), torch.from_numpy(positives)

    def describe(self) -> dict[str, Any]:
        return {"sampler": "temporal", "n_frames": int(self.video.size), "videos": int(np.unique(self.video).size),
                "batch_size": self.batch_size, "max_dt": self.max_dt, "min_gap": self.min_gap, "seed": self.seed}

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng([self.seed, self.epoch, 1])
        for anchors in self._batches():
            yield anchors, self._index.positives(anchors, self.max_dt, rng)
