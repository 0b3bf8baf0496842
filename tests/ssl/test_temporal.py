"""Temporal pair sampling: positives are other frames of the same video within max_dt
(checked against a slow enumeration), and every batch holds frames of one video at least
min_gap apart, each frame at most once per epoch."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError, InputError
from labelscout.ssl.temporal import TemporalPairSampler, far_apart_batches, temporal_positives


def frames_strategy():
    return st.lists(st.tuples(st.integers(0, 3), st.floats(0, 60, allow_nan=False)), min_size=1, max_size=80)


def _arrays(frames):
    video = np.array([v for v, _ in frames], dtype=np.int64)
    times = np.array([t for _, t in frames], dtype=np.float64)
    return video, times


def _candidates(video, times, i, max_dt, slack):
    """Slow reference: every other frame of the same video within max_dt (+ slack)."""
    return {j for j in range(video.size) if j != i and video[j] == video[i] and abs(times[j] - times[i]) <= max_dt + slack}


@settings(max_examples=60, deadline=None)
@given(frames=frames_strategy(), max_dt=st.floats(0, 10), seed=st.integers(0, 2**16))
def test_positives_are_close_frames_of_the_same_video(frames, max_dt, seed):
    video, times = _arrays(frames)
    anchors = np.arange(video.size)
    pos = temporal_positives(video, times, anchors, max_dt, np.random.default_rng(seed))
    assert pos.shape == anchors.shape and pos.dtype == np.int64
    for i, j in zip(anchors, pos):
        if j != i:  # another frame: same video, within max_dt (to the microsecond)
            assert j in _candidates(video, times, i, max_dt, 2e-6)
        else:  # the anchor itself only when no frame lies clearly within max_dt
            assert not _candidates(video, times, i, max_dt, -2e-6)


def test_positives_are_uniform_over_the_window():
    video = np.zeros(7, dtype=np.int64)
    times = np.arange(7, dtype=np.float64)  # frame 3 has neighbours 1, 2, 4, 5 within 2 s
    rng = np.random.default_rng(0)
    draws = temporal_positives(video, times, np.full(20000, 3), 2.0, rng)
    counts = np.bincount(draws, minlength=7)
    assert counts[[0, 3, 6]].sum() == 0
    np.testing.assert_allclose(counts[[1, 2, 4, 5]] / 20000, 0.25, atol=0.015)


@settings(max_examples=60, deadline=None)
@given(frames=frames_strategy(), batch_size=st.integers(1, 9), min_gap=st.floats(0, 20), seed=st.integers(0, 2**16))
def test_batches_hold_far_apart_frames_each_once(frames, batch_size, min_gap, seed):
    video, times = _arrays(frames)
    batches = far_apart_batches(video, times, batch_size, min_gap, np.random.default_rng(seed), drop_last=False)
    flat = np.concatenate(batches) if batches else np.empty(0, np.int64)
    assert sorted(flat.tolist()) == list(range(video.size))  # every frame exactly once
    for b in batches:
        assert 1 <= b.size <= batch_size
        for v in np.unique(video[b]):
            t = np.sort(times[b][video[b] == v])
            assert np.all(np.diff(t) >= min_gap)
    full = far_apart_batches(video, times, batch_size, min_gap, np.random.default_rng(seed), drop_last=True)
    assert all(b.size == batch_size for b in full)


def test_sampler_yields_pairs_and_is_reproducible():
    video = np.repeat(np.arange(4), 300)
    times = np.tile(np.arange(300) / 5.0, 4)  # 4 videos, 60 s at 5 fps
    s = TemporalPairSampler(video, times, batch_size=16, max_dt=1.0, min_gap=10.0, seed=3)
    assert s.capacity() == 24
    first = [(a.copy(), b.copy()) for a, b in s]
    assert len(first) == len(s) > 0
    for a, b in first:
        assert a.shape == b.shape == (16,)
        assert np.all(video[a] == video[b]) and np.all(np.abs(times[a] - times[b]) <= 1.0 + 1e-6) and np.all(a != b)
    again = list(s)
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(first, again))
    s.set_epoch(1)
    assert not np.array_equal(next(iter(s))[0], first[0][0])


def test_sampler_explains_impossible_batches_and_bad_input():
    video = np.zeros(100, dtype=np.int64)
    times = np.arange(100) / 10.0  # one 10-s video
    with pytest.raises(ConfigError, match="at most 2 frames"):
        TemporalPairSampler(video, times, batch_size=8, min_gap=5.0)
    with pytest.raises(ConfigError, match="'max_dt' parameter of TemporalPairSampler"):
        TemporalPairSampler(video, times, max_dt=-1)
    with pytest.raises(InputError, match="100 entries but timestamps has 3"):
        TemporalPairSampler(video, times[:3])
    small = TemporalPairSampler(video, times, batch_size=8, min_gap=5.0, drop_last=False)
    assert all(a.size <= 2 for a, _ in small)
