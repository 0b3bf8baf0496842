"""Decoding a folder into the training tensor, the channel statistics, the learning-rate
schedule and the LARS update."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from labelscout.errors import ConfigError
from labelscout.ssl.data import channel_stats, load_image_folder
from labelscout.ssl.optim import LARS, build_optimizer, lr_at
from labelscout.ssl.samplers import InstancePairSampler


def test_folder_decodes_to_uint8_tensor_with_folder_labels(cifar_sample):
    data = load_image_folder(cifar_sample, 32, progress=False)
    assert data.images.shape == (60, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.classes == ["airplane", "cat", "ship"]
    assert data.ids[0].startswith("airplane/") and data.ids == sorted(data.ids)
    np.testing.assert_array_equal(np.bincount(data.labels), [20, 20, 20])
    assert data.skipped == []


def test_resolution_classes_and_max_images(cifar_sample, tmp_path):
    data = load_image_folder(cifar_sample, 16, classes=["cat", "dog"], max_images=25, progress=False)
    assert data.images.shape == (25, 3, 16, 16)
    # 20 airplanes (not in the given vocabulary) then 5 cats
    np.testing.assert_array_equal(data.labels, [-1] * 20 + [0] * 5)
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in sorted((cifar_sample / "cat").iterdir())[:3]:
        shutil.copy2(f, flat / f.name)
    assert load_image_folder(flat, 32, progress=False).labels is None


def test_size_must_be_at_least_8(cifar_sample):
    with pytest.raises(ConfigError, match=r"'size' parameter of load_image_folder must be an int >= 8. Got 4"):
        load_image_folder(cifar_sample, 4)


def test_channel_stats_match_numpy():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (37, 3, 8, 8), generator=g, dtype=torch.uint8)
    mean, std = channel_stats(x, block=10)
    arr = x.numpy().astype(np.float64) / 255
    np.testing.assert_allclose(mean, arr.mean(axis=(0, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(std, arr.std(axis=(0, 2, 3)), atol=1e-6)
    # a constant image set must not give a zero std (inference would divide by it)
    assert min(channel_stats(torch.full((2, 3, 4, 4), 7, dtype=torch.uint8))[1]) > 0


def test_schedule_warms_up_linearly_then_decays_by_cosine():
    assert lr_at(0, 100, 10, 1.0) == pytest.approx(0.1)
    assert lr_at(9, 100, 10, 1.0) == pytest.approx(1.0)
    assert lr_at(10, 100, 10, 1.0) == pytest.approx(1.0)
    assert lr_at(55, 100, 10, 1.0) == pytest.approx(0.5)
    assert lr_at(100, 100, 10, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert lr_at(100, 100, 0, 2.0, final_fraction=0.01) == pytest.approx(0.02)
    lrs = [lr_at(s, 100, 10, 1.0) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_lars_step_matches_the_formula():
    w = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))  # ||w|| = 5
    b = torch.nn.Parameter(torch.tensor([1.0]))
    opt = LARS([{"params": [w], "weight_decay": 0.1, "lars": True}, {"params": [b], "weight_decay": 0.0, "lars": False}],
               lr=0.5, momentum=0.9, eta=0.01)
    w.grad = torch.tensor([[0.0, 1.0]])
    b.grad = torch.tensor([2.0])
    opt.step()
    g = torch.tensor([[0.0, 1.0]]) + 0.1 * torch.tensor([[3.0, 4.0]])
    trust = 0.01 * 5.0 / float(torch.linalg.vector_norm(g))
    torch.testing.assert_close(w.detach(), torch.tensor([[3.0, 4.0]]) - 0.5 * trust * g)
    torch.testing.assert_close(b.detach(), torch.tensor([1.0 - 0.5 * 2.0]))


def test_optimizers_exempt_biases_and_norms_from_weight_decay():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    for name in ("sgd", "lars", "adamw"):
        opt = build_optimizer(name, net, 0.1, 1e-4)
        decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
        assert decayed == {id(net[0].weight)}, name
    with pytest.raises(ConfigError, match="'optimizer' parameter must be one of"):
        build_optimizer("adam", net, 0.1, 0.0)


def test_instance_sampler_visits_each_image_at_most_once_per_epoch():
    s = InstancePairSampler(10, 4)
    batches = list(s.batches(0, torch.Generator().manual_seed(0)))
    assert s.num_batches() == len(batches) == 2
    seen = torch.cat([a for a, _ in batches])
    assert len(set(seen.tolist())) == 8 and all(a is b for a, b in batches)
    again = list(s.batches(0, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a, c) for (a, _), (c, _) in zip(batches, again))
    assert s.describe() == {"sampler": "instance", "n_samples": 10, "batch_size": 4}
