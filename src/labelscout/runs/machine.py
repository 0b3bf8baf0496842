"""What a run or a benchmark records about the machine it ran on.

Speed on the CPU depends on the vector units (AVX2 only, or AVX-512 with bf16) and on
what else shares the cores, so every run.json and every benchmark result carries the
CPU model, the core count, lscpu's flags and the load average when it started.
"""
from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from typing import Any

__all__ = ["cpu_flags", "simd_flags", "machine_info"]

SIMD_PREFIXES = ("avx", "sse", "fma", "amx")


@lru_cache(maxsize=1)
def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in out.splitlines()) if v}


def cpu_flags() -> list[str]:
    """Every flag on lscpu's "Flags" line; [] where lscpu is missing."""
    return _lscpu().get("Flags", "").split()


def simd_flags() -> list[str]:
    """The vector-unit flags (SSE, AVX, AVX-512, FMA, AMX): what decides CPU speed here."""
    return [f for f in cpu_flags() if f.startswith(SIMD_PREFIXES)]


def machine_info() -> dict[str, Any]:
    """Platform, CPU model, logical cores, SIMD flags and the 1-minute load average now."""
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {"system": platform.platform(), "machine": platform.machine(), "processor": platform.processor(),
            "cpu_model": _lscpu().get("Model name"), "logical_cpus": os.cpu_count(), "simd_flags": simd_flags(),
            "load_average_1min": load}
