"""Running several detectors on one pool, the way ``inspect`` and ``select --dedupe`` do.

A detector that fails is recorded in ``Issues.failures`` (detector name, error) and
logged with its traceback at debug level; the others still run. A detector that cannot
apply (no content hashes for exact duplicates, no labels for label errors) is recorded
the same way, with the reason, instead of silently producing nothing.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Sequence

from ..errors import Cancelled, ConfigError
from ..pool import REQUIREMENTS, Pool, missing_requirements
from ..reporting import Reporter
from ..results import Issues
from ..space.knn import KnnCache
from . import get_detector
from ._base import BaseDetector

__all__ = ["make_detectors", "run_detectors", "duplicates_to_drop", "option_params", "DEFAULT_DETECTORS"]

log = logging.getLogger(__name__)

#: what ``labelscout inspect`` runs unless told otherwise
DEFAULT_DETECTORS = ("exact-duplicates", "near-duplicates", "outliers")


def option_params(names: Sequence[str], *, near_dup_threshold: float | None = None, near_dup_ratio: float | None = None,
                  contamination: float | None = None) -> dict[str, dict[str, Any]]:
    """Per-detector parameters from the flat options ``inspect`` and ``select --dedupe``
    offer, for the detectors in ``names`` only; options left at None keep the defaults."""
    options = {"near-duplicates": {"threshold": near_dup_threshold, "ratio": near_dup_ratio},
               "outliers": {"contamination": contamination}}
    params = {}
    for name in names:
        given = {k: v for k, v in options.get(name, {}).items() if v is not None}
        if given:
            params[name] = given
    return params


def make_detectors(names: Sequence[str], params: dict[str, dict[str, Any]] | None = None) -> dict[str, BaseDetector]:
    """Instantiate and validate the named detectors (before any embedding is spent)."""
    params = params or {}
    unknown = [k for k in params if k not in names]
    if unknown:
        raise ConfigError(f"Parameters were given for detector(s) {unknown} that are not run; the run has {list(names)}.")
    if len(set(names)) != len(names):
        raise ConfigError(f"The 'detectors' parameter names a detector twice. Got {list(names)} instead.")
    dets = {n: get_detector(n, **params.get(n, {})) for n in names}
    for det in dets.values():
        det._validate_params()
    return dets


def run_detectors(detectors: dict[str, BaseDetector], vectors: Any, ids: Sequence[str] | None = None, *,
                  hashes: Sequence[str | None] | None = None, labels: Sequence[Any] | None = None,
                  timings: dict[str, float] | None = None, reporter: Reporter | None = None) -> Issues:
    """Fit each detector on ``vectors`` (a :class:`~labelscout.pool.Pool`, or a matrix with
    ``ids``, ``hashes`` and ``labels`` beside it); return their issues concatenated,
    failures recorded as data. A detector whose requirements the pool lacks is skipped
    with the reason."""
    pool = vectors if isinstance(vectors, Pool) else Pool(vectors, ids, labels, hashes)
    reporter = reporter if reporter is not None else Reporter()
    parts: list[Issues] = []
    failures: list[dict[str, str]] = []
    # one kNN graph per space for the whole run, wide enough for every detector's k
    knn_cache = KnnCache(k_min=max((d.k for d in detectors.values() if d.shares_knn_graph), default=1))
    with reporter.stage("detecting", total=len(detectors)) as stage:
        for name, det in detectors.items():
            missing = missing_requirements(det.required(), pool)
            if missing:
                why = _SKIP_REASONS.get(missing[0], f"no {missing[0]} ({REQUIREMENTS[missing[0]]})")
                failures.append({"detector": name, "error": f"skipped: {why}"})
                log.warning("%s skipped: %s", name, why)
                stage.advance()
                continue
            t0 = time.perf_counter()
            try:
                shared = {"knn_cache": knn_cache} if det.shares_knn_graph else {}
                det.fit(pool, **shared)
            except Cancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - one failing detector must not lose the others' results
                failures.append({"detector": name, "error": f"{type(exc).__name__}: {exc}"})
                log.warning("detector %s failed: %s: %s", name, type(exc).__name__, exc)
                log.debug("detector %s traceback", name, exc_info=True)
                continue
            finally:
                if timings is not None:
                    timings[f"detect_{name}"] = round(time.perf_counter() - t0, 4)
                stage.advance()
            parts.append(det.issues_)
    issues = Issues.concat(parts)
    issues.failures = failures
    return issues


#: why a detector was skipped, for the requirements users meet most
_SKIP_REASONS = {"content_hashes": "the embeddings carry no content hashes (precomputed vectors)",
                 "labels": "no labels (use class folders or --labels FILE.csv)"}


def duplicates_to_drop(issues: Issues, keep: Sequence[str] = ()) -> list[str]:
    """Ids of flagged exact / near duplicates (non-representatives), minus ``keep``."""
    keep_set = set(keep)
    out = {sid for sid, t, f in zip(issues.ids, issues.issue, issues.flag)
           if f and t in ("exact_duplicate", "near_duplicate") and sid not in keep_set}
    return sorted(out)

