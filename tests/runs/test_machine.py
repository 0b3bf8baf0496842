"""The machine facts every run.json and benchmark result carries."""
from __future__ import annotations

import json
import shutil

import pytest

from labelscout.runs.machine import SIMD_PREFIXES, cpu_flags, machine_info, simd_flags
from labelscout.runs.record import RunRecord


def test_machine_info_names_the_cpu_and_its_vector_units():
    info = machine_info()
    assert set(info) >= {"system", "machine", "cpu_model", "logical_cpus", "simd_flags", "load_average_1min"}
    assert info["logical_cpus"] >= 1
    assert all(f.startswith(SIMD_PREFIXES) for f in simd_flags())
    assert set(simd_flags()) <= set(cpu_flags())
    if shutil.which("lscpu") is None:
        pytest.skip("lscpu is not installed: the flags are recorded as []")
    assert cpu_flags() and info["cpu_model"]
    if info["machine"] == "x86_64":
        assert any(f.startswith("sse") for f in info["simd_flags"])  # every x86-64 CPU has SSE2


def test_run_json_records_the_machine(tmp_path):
    RunRecord(command="test").write(tmp_path)
    platform = json.loads((tmp_path / "run.json").read_text())["platform"]
    assert platform == json.loads(json.dumps(machine_info() | {"load_average_1min": platform["load_average_1min"]}))
