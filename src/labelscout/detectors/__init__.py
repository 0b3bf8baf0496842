"""Detectors, one module each, one result schema (:class:`labelscout.results.Issues`).

:data:`DETECTORS` maps command-line names to classes; adding a detector is one new module
registered here and its test file (tests/detectors/test_registry.py walks them all).
"""
from __future__ import annotations

from ..errors import ConfigError
from ._base import BaseDetector
from .exact_duplicates import ExactDuplicateDetector
from .label_errors import LabelErrorDetector
from .near_duplicates import NearDuplicateDetector
from .outliers import OutlierDetector

__all__ = ["BaseDetector", "ExactDuplicateDetector", "NearDuplicateDetector", "OutlierDetector", "LabelErrorDetector",
           "DETECTORS", "get_detector"]

DETECTORS: dict[str, type[BaseDetector]] = {
    cls.name: cls for cls in (ExactDuplicateDetector, NearDuplicateDetector, OutlierDetector, LabelErrorDetector)
}


def get_detector(name: str, **params) -> BaseDetector:
    """Instantiate the detector registered as ``name`` with ``params``."""
    try:
        cls = DETECTORS[name]
    except KeyError:
        raise ConfigError(
            f"The 'detectors' parameter must hold names from {{{', '.join(repr(s) for s in sorted(DETECTORS))}}}. Got {name!r} instead."
        ) from None
    try:
        return cls(**params)
    except TypeError as exc:
        allowed = ", ".join(cls._param_names()) or "none"
        raise ConfigError(f"Unknown parameter for detector {name!r}: {exc}. Its parameters are: {allowed}.") from None
