"""Run-folder I/O: atomic writes, run.json, loading a finished run."""
from .atomic import atomic_path, atomic_save_npy, atomic_write_bytes, atomic_write_json, atomic_write_text
from .record import RUN_FILE, RunRecord, package_versions

__all__ = ["atomic_path", "atomic_save_npy", "atomic_write_bytes", "atomic_write_json", "atomic_write_text",
           "RUN_FILE", "RunRecord", "package_versions"]
