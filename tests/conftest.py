"""Shared fixtures: real data locations, an isolated cache, and small model folders."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from _data import SKIP_NO_CIFAR, SKIP_NO_VIDEOS, VIDEOS_DIR, cifar_dir


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own embedding cache so tests never see each other's vectors."""
    monkeypatch.setenv("LABELSCOUT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("LABELSCOUT_OFFLINE", "1")
    monkeypatch.setenv("LABELSCOUT_PROGRESS", "0")


@pytest.fixture(scope="session")
def cifar_root() -> Path:
    root = cifar_dir()
    if root is None:
        pytest.skip(SKIP_NO_CIFAR)
    return root


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    if not (VIDEOS_DIR / "street_cuts.mp4").is_file():
        pytest.skip(SKIP_NO_VIDEOS)
    return VIDEOS_DIR


#: real CIFAR-10 test JPEGs shipped with the repository (30 per class), so the end-to-end
#: tests run on a fresh clone without ../shared/data
EXAMPLE_SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cifar10-sample"


@pytest.fixture(scope="session")
def sample_images() -> Path:
    """A folder of real JPEGs in class folders (at least 20 per class): CIFAR-10's test split
    when ../shared/data has it, else the sample in examples/."""
    root = cifar_dir()
    return root / "test" if root is not None else EXAMPLE_SAMPLE


@pytest.fixture
def cifar_sample(sample_images, tmp_path) -> Path:
    """A small real collection: 20 test JPEGs from each of 3 classes, copied to tmp."""
    dest = tmp_path / "images"
    for cls in ("airplane", "cat", "ship"):
        (dest / cls).mkdir(parents=True)
        for f in sorted((sample_images / cls).glob("*.jpg"))[:20]:
            shutil.copy2(f, dest / cls / f.name)
    return dest


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory) -> Path:
    """A small CifarResNet model folder with fixed, seeded weights (not trained).

    For tests of the pipeline mechanics (caching, resume, I/O), which must not depend on
    the shipped model; tests of embedding quality use the shipped model itself."""
    import torch

    from labelscout.models.architectures import CifarResNet
    from labelscout.models.model_dir import ModelSpec, save_model_dir

    torch.manual_seed(0)
    model = CifarResNet(width=8, blocks=[1, 1, 1, 1], out_dim=16)
    spec = ModelSpec("test-small", "cifar_resnet", {"width": 8, "blocks": [1, 1, 1, 1], "out_dim": 16}, 32,
                     [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], 16)
    return save_model_dir(tmp_path_factory.mktemp("model") / "small", model, spec)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's, driven by Playwright) for every browser test of the
    session: a second sync Playwright cannot start while one is open in the same thread."""
    import tempfile

    from _browser import CHROMIUM_ARGS, chromium_or_skip

    path = chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api", reason="the `playwright` package (test extra) is not installed")
    profile = tempfile.mkdtemp(prefix="labelscout-chromium-")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(profile, executable_path=path, headless=True, args=CHROMIUM_ARGS,
                                                       viewport={"width": 1360, "height": 900})
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)
