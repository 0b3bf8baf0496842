"""labelscout: decide what to label.

Public API (re-exported names only):

* :func:`select`, :func:`embed`, :func:`inspect`, :func:`train`, :func:`report` - the main
  jobs, as the CLI runs them; :func:`run_select`, :func:`run_inspect`, :func:`run_embed`,
  :func:`run_train` run a typed config (:class:`SelectConfig`, ...), as a service or a replay does.
* :class:`Pool` - what strategies and detectors see; :class:`Reporter`,
  :class:`CallbackReporter` - progress, log lines and cancellation for a caller.
* :func:`review` - the label-review UI, inline in a notebook (``labelscout review`` on the command line).
* :class:`Embedder`, :class:`EmbeddingSet` - embedding models and stored vectors.
* :class:`CoresetSelector`, :class:`RandomSelector` - selection strategies.
* :class:`Selection`, :class:`Issues` - result tables.

Names are imported on first use, so ``import labelscout`` (and ``labelscout --help``)
does not load torch, UMAP or numba.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    **{n: "api" for n in ("select", "embed", "inspect", "train", "report", "run_select", "run_embed", "run_inspect",
                          "run_train", "SelectResult", "InspectResult")},
    **{n: "config" for n in ("SelectConfig", "InspectConfig", "EmbedConfig", "TrainConfig", "ModelConfig", "VideoConfig")},
    "Pool": "pool",
    "review": "review",
    **{n: "reporting" for n in ("Reporter", "CallbackReporter", "RichReporter")},
    "Embedder": "embed.embedder",
    "EmbeddingSet": "embed.store",
    **{n: "errors" for n in ("ConfigError", "InputError", "LabelscoutError", "ModelWeightsMissing", "Cancelled")},
    "Issues": "results",
    "Selection": "results",
    "CoresetSelector": "strategies",
    "RandomSelector": "strategies",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labelscout' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """``labelscout.report`` is the public function; importing the subpackage
    ``labelscout.report`` (the HTML report) must not rebind the name to the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return  # the submodule stays reachable as sys.modules["labelscout.report"]
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
