"""Temporal self-supervision wired into the trainer: `labelscout train VIDEOS --temporal`."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.cli import main
from labelscout.ssl.temporal import TemporalPairSampler


@settings(max_examples=30, deadline=None)
@given(n_videos=st.integers(1, 4), per_video=st.integers(20, 80), batch=st.integers(2, 8), epochs=st.integers(1, 4))
def test_trainer_protocol_yields_a_fixed_number_of_valid_batches(n_videos, per_video, batch, epochs):
    video = np.repeat(np.arange(n_videos), per_video)
    timestamps = np.tile(np.arange(per_video) * 0.2, n_videos)
    try:
        sampler = TemporalPairSampler(video, timestamps, batch_size=batch, max_dt=0.5, min_gap=1.0, seed=3)
        want = sampler.num_batches()
    except Exception as exc:  # too few frames far enough apart: a clear ConfigError, never a crash
        assert "batch" in str(exc)
        return
    for epoch in range(epochs):
        got = list(sampler.batches(epoch, torch.Generator()))
        assert len(got) == want
        for a, b in got:
            assert a.dtype == torch.int64 and a.shape == b.shape == (batch,)
            a, b = a.numpy(), b.numpy()
            assert (video[a] == video[b]).all()
            assert (np.abs(timestamps[a] - timestamps[b]) <= 0.5 + 1e-6).all()
        # determined by (seed, epoch) alone: a resumed run sees the same batches
        again = list(sampler.batches(epoch, torch.Generator()))
        assert all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(got, again))


def test_train_temporal_cli_on_real_video(videos_dir, tmp_path, capsys):
    out = tmp_path / "model"
    args = ["train", str(videos_dir / "street_cuts.mp4"), "--temporal", "--fps", "10", "--min-gap", "1", "--max-dt", "0.5",
            "--batch-size", "8", "--epochs", "2", "--width", "8", "--embedding-dim", "16", "--device", "cpu",
            "--out", str(out)]
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code in (0, None), capsys.readouterr().err
    assert "(temporal)" in capsys.readouterr().out
    record = json.loads((out / "train.json").read_text())
    assert record["config"]["sampler"]["sampler"] == "temporal"
    assert record["counts"]["train_images"] == 100  # 10 s of video at 10 fps
    assert len(record["history"]) == 2
    # the result is a model folder that select can use
    from labelscout.models.registry import load_model

    loaded = load_model(str(out))
    assert loaded.embedding_dim == 16
