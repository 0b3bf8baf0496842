"""Service settings: where state lives, which broker, the limits. One object, passed
(as a dict) from the server or worker to every task process."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .store import sqlite_url
from .uploads import UploadLimits

__all__ = ["ServiceSettings"]


@dataclass
class ServiceSettings:
    data_dir: Path
    database_url: str | None = None  # None: SQLite in data_dir
    broker_url: str | None = None  # None: tasks run in a process pool inside the server
    allowed_roots: list[Path] = field(default_factory=list)
    max_upload_bytes: int = UploadLimits.max_bytes
    max_upload_files: int = UploadLimits.max_files
    shard_size: int = 2048  # images per embedding shard task (rounded to whole batches)
    local_workers: int = 2  # task processes of the embedded (no broker) server
    heartbeat_s: float = 5.0  # a running task's supervisor refreshes its heartbeat this often
    stale_after_s: float = 60.0  # ... and the reaper calls a task lost after this long without one
    max_attempts: int = 3  # starts of one task before its job fails
    visibility_timeout_s: int = 3600  # Redis redelivers an unacknowledged task after this long

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.allowed_roots = [Path(p).resolve() for p in self.allowed_roots]

    @property
    def db_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def limits(self) -> UploadLimits:
        return UploadLimits(max_bytes=self.max_upload_bytes, max_files=self.max_upload_files)

    @property
    def cache_dir(self) -> Path:
        """The embedding cache every task shares: shards fill it, the final task reads it."""
        return self.data_dir / "cache"

    def dataset_dir(self, dataset_id: str) -> Path:
        return self.data_dir / "datasets" / dataset_id

    def job_dir(self, job_id: str) -> Path:
        return self.data_dir / "jobs" / job_id

    def to_dict(self) -> dict:
        d = asdict(self)
        d["data_dir"] = str(self.data_dir)
        d["allowed_roots"] = [str(p) for p in self.allowed_roots]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ServiceSettings":
        return cls(**d)

    @classmethod
    def from_env(cls, **overrides) -> "ServiceSettings":
        """Settings from LABELSCOUT_* environment variables; ``overrides`` (not None) win."""
        env = os.environ
        values = {
            "data_dir": env.get("LABELSCOUT_DATA_DIR", "labelscout-data"),
            "database_url": env.get("LABELSCOUT_DATABASE") or None,
            "broker_url": env.get("LABELSCOUT_BROKER") or None,
            "allowed_roots": [p for p in env.get("LABELSCOUT_ALLOWED_ROOTS", "").split(os.pathsep) if p],
        }
        for key, cast in (("shard_size", int), ("heartbeat_s", float), ("stale_after_s", float), ("max_attempts", int),
                          ("visibility_timeout_s", int), ("local_workers", int), ("max_upload_bytes", int),
                          ("max_upload_files", int)):
            if f"LABELSCOUT_{key.upper()}" in env:
                values[key] = cast(env[f"LABELSCOUT_{key.upper()}"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
