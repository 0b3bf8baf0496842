"""``run.json``: what a run did (command, config, versions, seeds, device, timings, counts,
skipped samples with reasons), written next to its outputs."""
from __future__ import annotations

import contextlib
import datetime as _dt
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import __version__
from .atomic import atomic_write_json

__all__ = ["RunRecord", "package_versions", "RUN_FILE"]

RUN_FILE = "run.json"

#: distribution names recorded in run.json
_PACKAGES = ("numpy", "torch", "torchvision", "pillow", "av", "faiss-cpu", "scikit-learn", "umap-learn", "numba", "scipy",
             "safetensors", "timm")


def package_versions() -> dict[str, str]:
    """Versions of labelscout's dependencies, read from package metadata (no imports, so
    recording them costs milliseconds rather than importing umap, faiss and numba)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"labelscout": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # optional package not installed: simply not recorded
            continue
    return out


@dataclass
class RunRecord:
    """Accumulates facts about a run; :meth:`write` stores them as run.json atomically."""

    command: str
    config: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    device: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"id", "reason", "detail"}
    extra: dict[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    status: str = "running"

    @contextlib.contextmanager
    def timer(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t0, 4)

    def skipped_summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.skipped:
            out[s["reason"]] = out.get(s["reason"], 0) + 1
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "labelscout-run/1",
            "status": self.status,
            "command": self.command,
            "started": self.started,
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds") if self.status != "running" else None,
            "config": self.config,
            "versions": package_versions(),
            "platform": {"system": platform.platform(), "machine": platform.machine(), "processor": platform.processor()},
            "seed": self.seed,
            "device": self.device,
            "timings_s": self.timings,
            "counts": self.counts,
            "skipped_summary": self.skipped_summary(),
            "skipped": self.skipped,
            **self.extra,
        }

    def write(self, folder: str | Path) -> Path:
        return atomic_write_json(Path(folder) / RUN_FILE, self.to_json())
