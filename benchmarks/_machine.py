"""What every benchmark records about the machine it ran on: the CPU's flags (as lscpu prints them)."""
from __future__ import annotations

import subprocess

SIMD_PREFIXES = ("avx", "sse", "fma", "amx")


def cpu_flags() -> list[str]:
    """Every flag on lscpu's "Flags" line; [] where lscpu is missing."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return next((ln.split(":", 1)[1].split() for ln in out.splitlines() if ln.startswith("Flags")), [])


def simd_flags() -> list[str]:
    """The vector-unit flags (SSE, AVX, AVX-512, FMA, AMX): what decides CPU speed here."""
    return [f for f in cpu_flags() if f.startswith(SIMD_PREFIXES)]
