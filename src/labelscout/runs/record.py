"""``run.json``: what a run did (command, config, versions, seeds, device, timings, counts,
skipped samples with reasons), written next to its outputs."""
from __future__ import annotations

import contextlib
import functools
import datetime as _dt
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import __version__
from .atomic import atomic_write_json
from .machine import machine_info

__all__ = ["RunRecord", "package_versions", "RUN_FILE", "INSPECT_FILE", "mark_running_interrupted"]

RUN_FILE = "run.json"
#: the record of an inspect run (beside a selection's run.json, never over it)
INSPECT_FILE = "inspect.json"

#: distribution names recorded in run.json
_PACKAGES = ("numpy", "torch", "torchvision", "pillow", "av", "faiss-cpu", "scikit-learn", "umap-learn", "numba", "scipy",
             "safetensors", "timm")


@functools.lru_cache(maxsize=1)  # fixed for the process; run.json is written several times per run
def _versions() -> tuple[tuple[str, str], ...]:
    return tuple(_read_versions().items())


def package_versions() -> dict[str, str]:
    """Versions of labelscout's dependencies (read once per process)."""
    return dict(_versions())


def _read_versions() -> dict[str, str]:
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

    command: str  # the origin the caller passed: a command line, "python api", "service job 42"
    config: dict[str, Any] = field(default_factory=dict)
    config_type: str | None = None  # "SelectConfig"...: ``config`` replays with that class's from_dict
    seed: int | None = None
    device: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"id", "reason", "detail"}
    extra: dict[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    status: str = "running"
    machine: dict[str, Any] = field(default_factory=machine_info)  # taken at the start: the load then

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

    def input_notes(self) -> list[str]:
        """What the summary line says about the input beyond the counts: skipped samples and
        their reasons, damaged videos whose good frames are used, and what the scan left
        out or followed (hidden files, symlinked folders, extra frames of multi-frame
        images). One place, so ``select``, ``inspect`` and ``embed`` say the same."""
        notes = []
        lost = [s for s in self.skipped if s.get("kept_frames", "0") == "0"]
        partial = [s for s in self.skipped if s.get("kept_frames", "0") != "0"]
        if lost:
            reasons: dict[str, int] = {}
            for s in lost:
                reasons[s["reason"]] = reasons.get(s["reason"], 0) + 1
            notes.append(f"skipped {len(lost)} unreadable ({', '.join(f'{n} {r}' for r, n in sorted(reasons.items()))})")
        if partial:
            videos = len({s["id"] for s in partial})
            notes.append(f"{videos} damaged video(s) whose good frames are used")
        col = self.extra.get("collection") or {}
        hidden = int(col.get("hidden_files", 0)) + int(col.get("hidden_folders", 0))
        if hidden:
            notes.append(f"{hidden} hidden file(s)/folder(s) left out")
        if col.get("symlinked_folders_followed_count"):
            notes.append(f"{col['symlinked_folders_followed_count']} symlinked folder(s) followed")
        if col.get("symlinked_folders_not_followed"):
            notes.append(f"{len(col['symlinked_folders_not_followed'])} symlinked folder(s) not followed (already scanned)")
        if col.get("skipped_run_folders"):
            notes.append(f"{len(col['skipped_run_folders'])} labelscout run folder(s) skipped")
        multi = (self.extra.get("embedding") or {}).get("multi_frame_images", 0)
        if multi:
            notes.append(f"{multi} multi-frame image(s): first frame used")
        return notes

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "labelscout-run/1",
            "status": self.status,
            "command": self.command,
            "started": self.started,
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds") if self.status != "running" else None,
            "config_type": self.config_type,
            "config": self.config,
            "versions": package_versions(),
            "platform": self.machine,
            "seed": self.seed,
            "device": self.device,
            "timings_s": self.timings,
            "counts": self.counts,
            "skipped_summary": self.skipped_summary(),
            "skipped": self.skipped,
            **self.extra,
        }

    def write(self, folder: str | Path, name: str = RUN_FILE) -> Path:
        path = atomic_write_json(Path(folder) / name, self.to_json())
        key = str(Path(folder).absolute() / name)
        if self.status == "running":
            _RUNNING[key] = self
        else:
            _RUNNING.pop(key, None)
        return path


#: run folders whose run.json says "running", so an interrupt can mark them (see cli.main)
_RUNNING: dict[str, RunRecord] = {}


def mark_running_interrupted(reason: str) -> list[str]:
    """Write status "interrupted" into every run.json of this process still marked running.

    Called from the interrupt watchdog when the main thread cannot unwind in time (stuck in
    a C call); returns the folders written. Best effort: one that fails does not stop the rest.
    """
    done = []
    for key, record in list(_RUNNING.items()):
        try:
            record.status = "interrupted"
            record.extra.setdefault("error", reason)
            record.write(Path(key).parent, Path(key).name)
            done.append(str(Path(key).parent))
        except Exception:  # noqa: BLE001 - the process is about to exit; nothing else can be done
            continue
    return done
