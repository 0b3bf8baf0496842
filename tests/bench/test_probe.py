"""The fixed probe: on-device augmentation against a slow reference, the training-length
rule, the whitening layer against its closed form, and a tiny CPU run on real JPEGs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.bench.data import load_split
from labelscout.bench.probe import RECIPES, Probe, ProbeNet, ProbeRecipe, crop_flip, get_recipe, images_seen
from labelscout.errors import ConfigError, InputError


def _reference_crop_flip(padded: np.ndarray, idx, dy, dx, mirrored, size):
    out = []
    for i, y, x, m in zip(idx, dy, dx, mirrored):
        crop = padded[i, y : y + size, x : x + size]  # (size, size, 3)
        out.append(crop[:, ::-1] if m else crop)
    return np.stack(out).transpose(0, 3, 1, 2)  # (B, 3, size, size)


@pytest.mark.parametrize("size,pad", [(8, 0), (8, 2), (5, 4), (32, 2)])
def test_crop_flip_matches_slow_reference(size, pad, rng):
    padded = rng.integers(0, 256, size=(7, size + 2 * pad, size + 2 * pad, 3), dtype=np.uint8)
    b = 11
    idx = rng.integers(0, 7, b)
    dy, dx = rng.integers(0, 2 * pad + 1, b), rng.integers(0, 2 * pad + 1, b)
    mirrored = rng.random(b) < 0.5
    got = crop_flip(torch.from_numpy(padded), torch.from_numpy(idx), torch.from_numpy(dy), torch.from_numpy(dx),
                    torch.from_numpy(mirrored), size)
    assert got.shape == (b, 3, size, size) and got.dtype == torch.uint8
    assert got.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_array_equal(got.numpy(), _reference_crop_flip(padded, idx, dy, dx, mirrored, size))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 60_000), batch=st.integers(1, 1024), epochs=st.floats(0.5, 200),
       lo=st.integers(1, 300_000), extra=st.integers(0, 500_000))
def test_training_length_rule(n, batch, epochs, lo, extra):
    r = ProbeRecipe(batch_size=batch, epochs=epochs, min_images=lo, max_images=lo + extra)
    b, steps, seen = images_seen(r, n)
    assert b == min(batch, n) and seen == steps * b
    target = min(max(epochs * n, lo), lo + extra)
    assert seen >= target and seen - b < target or steps == 1  # the fewest whole steps covering the target


def test_small_budgets_train_longer_in_epochs():
    r = RECIPES["gpu"]
    epochs = [images_seen(r, n)[2] / n for n in (500, 1000, 5000, 10000)]
    assert epochs == sorted(epochs, reverse=True)
    assert images_seen(r, 500)[2] >= r.min_images and images_seen(r, 10000)[2] <= r.max_images + r.batch_size


def test_whitening_filters_whiten_patches(rng):
    x = torch.from_numpy(rng.normal(size=(64, 3, 12, 12)).astype(np.float32))
    x[:, 1] += 0.8 * x[:, 0]  # correlated channels
    net = ProbeNet(3, (4, 4, 4))
    net.init_whitening(x, eps=0.0)
    out = torch.nn.functional.conv2d(x, net.whiten.weight[:12])  # (64, 12, 11, 11) responses of the positive half
    flat = out.permute(0, 2, 3, 1).reshape(-1, 12).double()
    cov = flat.T @ flat / flat.shape[0]
    np.testing.assert_allclose(cov.numpy(), np.eye(12), atol=1e-3)
    assert not net.whiten.weight.requires_grad


@pytest.mark.parametrize("bad,needle", [
    ({"epochs": 0}, "'epochs' parameter"),
    ({"batch_size": 0}, "'batch_size' parameter"),
    ({"min_images": 10, "max_images": 5}, "max_images"),
    ({"widths": (1, 2)}, "'widths' parameter"),
])
def test_recipe_validation_names_the_field(bad, needle):
    with pytest.raises(ConfigError, match=needle):
        get_recipe("cpu", **bad)


def test_unknown_recipe_and_field():
    with pytest.raises(ConfigError, match="'recipe' parameter must be one of"):
        get_recipe("fast")
    with pytest.raises(ConfigError, match="Unknown probe recipe field"):
        get_recipe("cpu", epoch=3)


def test_recipe_json_round_trip():
    r = get_recipe("gpu", epochs=12.5)
    assert ProbeRecipe.from_json(r.to_json()) == r


def test_bad_probe_input_is_reported():
    p = Probe(3, recipe="smoke", device="cpu")
    with pytest.raises(InputError, match=r"shape \(n, H, W, 3\)"):
        p.fit(np.zeros((4, 32, 32), np.uint8), np.zeros(4, int))
    with pytest.raises(InputError, match=r"lie in \[0, 3\)"):
        p.fit(np.zeros((4, 32, 32, 3), np.uint8), np.array([0, 1, 2, 3]))
    with pytest.raises(InputError, match="not fitted"):
        p.predict(np.zeros((1, 32, 32, 3), np.uint8))


@pytest.fixture
def one_thread():
    """One torch thread: on a CPU shared with other jobs it is the fastest setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_probe_learns_real_jpegs_on_cpu(cifar_sample, one_thread):
    """60 real CIFAR JPEGs of 3 classes: the tiny CPU probe fits them well above chance,
    deterministically for a seed, and reports per-class accuracy."""
    data = load_split(cifar_sample, progress=False)
    recipe = get_recipe("smoke", epochs=40.0, min_images=2400, max_images=2400, lr=0.1)
    a = Probe(3, recipe=recipe, device="cpu", seed=3).fit(data.images, data.labels)
    score = a.score(data.images, data.labels)
    assert a.train_stats_["steps"] == 40 and a.train_stats_["images_seen"] == 2400
    assert score.accuracy > 0.6, score
    assert len(score.per_class) == 3 and score.n_test == 60
    assert np.isclose(np.mean(score.per_class), score.accuracy)  # 20 images per class
    b = Probe(3, recipe=recipe, device="cpu", seed=3).fit(data.images, data.labels)
    np.testing.assert_array_equal(a.decision_function(data.images), b.decision_function(data.images))
