"""Locating the real data in ../shared/data for tests (skipped with a reason where absent).

CIFAR-10 JPEGs: ``$LABELSCOUT_CIFAR_DIR`` if set (a folder with train/ and test/), else the
archive ``../shared/data/cifar10/cifar10-jpeg.tar.gz`` next to the repository, unpacked
once into ``$LABELSCOUT_TEST_CACHE`` (default ``~/.cache/labelscout-tests``).
"""
from __future__ import annotations

import os
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("LABELSCOUT_SHARED_DATA", REPO.parent / "shared" / "data"))
CIFAR_TARBALL = SHARED_DATA / "cifar10" / "cifar10-jpeg.tar.gz"
CIFAR_NOISY_LABELS = SHARED_DATA / "cifar10" / "cifar10n_train_labels.csv"
VIDEOS_DIR = SHARED_DATA / "videos"
TEST_CACHE = Path(os.environ.get("LABELSCOUT_TEST_CACHE", Path.home() / ".cache" / "labelscout-tests"))


def cifar_dir() -> Path | None:
    """Folder with train/<class>/NNNN.jpg and test/<class>/NNNN.jpg, or None if unavailable."""
    env = os.environ.get("LABELSCOUT_CIFAR_DIR")
    if env:
        p = Path(env)
        return p if (p / "test").is_dir() else None
    dest = TEST_CACHE / "cifar10"
    done = dest / ".complete"
    if done.exists():
        return dest
    if not CIFAR_TARBALL.is_file():
        return None
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(CIFAR_TARBALL) as tar:
        tar.extractall(dest, filter="data")
    done.write_text("ok\n")
    return dest


SKIP_NO_CIFAR = f"CIFAR-10 JPEGs not found: set LABELSCOUT_CIFAR_DIR or provide {CIFAR_TARBALL}"
SKIP_NO_VIDEOS = f"shared videos not found in {VIDEOS_DIR}"
