"""What every benchmark records about the machine it ran on (the package's own helper)."""
from __future__ import annotations

from labelscout.runs.machine import SIMD_PREFIXES, cpu_flags, machine_info, simd_flags  # noqa: F401
