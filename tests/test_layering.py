"""Data flows one way: sources -> embeddings -> space -> strategies / detectors -> outputs ->
jobs -> interfaces. This test reads every import in src/labelscout (function-level ones
too) and fails on an edge that runs back up the pipeline.

Shared helpers and plain data sit below every stage (errors, validation, the Pool, the
result tables, the reporter, atomic writes, the run record and its machine facts, and the
EmbeddingSet container, the contract between the embedding stage and everything after).
The review app is an interface (a web app that runs a job's stages), like the CLI. Within a layer, packages may use each other (the embedding stage trains, loads and runs
models); an edge to a higher layer is the error.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "labelscout"

#: module (or package) -> layer; the longest matching prefix decides
LAYERS = {
    "labelscout": 0,  # the package itself: __version__ and lazy re-exports only
    "labelscout.errors": 0, "labelscout._validation": 0, "labelscout._device": 0, "labelscout._memory": 0,
    "labelscout._progress": 0, "labelscout.reporting": 0, "labelscout.pool": 0,
    "labelscout._estimator": 0, "labelscout.runs.atomic": 0, "labelscout.runs.record": 0, "labelscout.runs.machine": 0,
    # id files are read with the scanner's file checks, and the result tables write ids with them
    "labelscout.runs.ids": 1, "labelscout.results": 1,
    "labelscout.embed.store": 0,
    "labelscout.sources": 1,
    "labelscout.models": 2, "labelscout.embed": 2, "labelscout.ssl": 2,
    "labelscout.space": 3, "labelscout.kernels": 3,
    "labelscout.strategies": 4, "labelscout.detectors": 4,
    "labelscout.runs": 5, "labelscout.report": 5,
    "labelscout.config": 6, "labelscout.pipeline": 6, "labelscout.api": 6, "labelscout.bench": 6,
    "labelscout.cli": 7, "labelscout.service": 7, "labelscout.review": 7, "labelscout.__main__": 7,
}
NAMES = {0: "shared helpers", 1: "sources", 2: "embeddings", 3: "space", 4: "strategies / detectors",
         5: "outputs", 6: "jobs", 7: "interfaces"}


def layer_of(module: str) -> int:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in LAYERS:
            return LAYERS[".".join(parts[:i])]
    raise KeyError(f"{module} has no layer; add its package to LAYERS in {__file__}")


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every labelscout import in ``path``, relative ones resolved."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("labelscout"):
                # "from . import api" imports the submodule api
                names = [f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")]
                out += [(node.lineno, t) for t in (names or [target])]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("labelscout")]
    return out


def _is_module(name: str) -> bool:
    p = SRC.parent.joinpath(*name.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


SOURCES = sorted(SRC.rglob("*.py"))


def test_every_module_has_a_layer():
    for path in SOURCES:
        layer_of(module_name(path))


def test_no_import_runs_back_up_the_pipeline():
    back = []
    for path in SOURCES:
        mod = module_name(path)
        for line, target in imports_of(path):
            if layer_of(target) > layer_of(mod):
                back.append(f"{path.relative_to(SRC.parent)}:{line}: {mod} ({NAMES[layer_of(mod)]}) imports "
                            f"{target} ({NAMES[layer_of(target)]})")
    assert not back, "imports that run back up the pipeline:\n" + "\n".join(back)


@pytest.mark.parametrize("source, target, expected", [
    ("labelscout.sources.precomputed", "labelscout.embed.store", True),
    ("labelscout.ssl.trainer", "labelscout.bench.knn", False),
    ("labelscout.report.inputs", "labelscout.api", False),
    ("labelscout.strategies.coreset", "labelscout.space.metric", True),
    ("labelscout.space.knn", "labelscout.strategies", False),
])
def test_the_rule_itself(source, target, expected):
    """The check catches the edges this project once had (and allows the right ones)."""
    assert (layer_of(target) <= layer_of(source)) is expected
