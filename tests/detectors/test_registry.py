"""Every registered detector honours the contract: params stored, validated, one schema."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

from labelscout.detectors import DETECTORS, BaseDetector, get_detector
from labelscout.errors import ConfigError
from labelscout.results import ISSUE_COLUMNS, Issues


def test_registry_names():
    assert {"exact-duplicates", "near-duplicates", "outliers", "label-errors"} <= set(DETECTORS)
    with pytest.raises(ConfigError, match="'detectors' parameter must hold names from"):
        get_detector("duplicates")
    with pytest.raises(ConfigError, match="Its parameters are: threshold, k, metric, method"):
        get_detector("near-duplicates", thresh=0.1)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_contract(name, rng):
    cls = DETECTORS[name]
    assert issubclass(cls, BaseDetector) and cls.name == name and cls.issue and cls.description
    # __init__ only stores keyword parameters: get_params round-trips them
    det = get_detector(name)
    params = det.get_params()
    assert set(params) == set(cls._parameter_constraints) and all(
        p.kind == p.KEYWORD_ONLY for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self")
    assert repr(det).startswith(cls.__name__ + "(")
    X = np.concatenate([rng.normal(size=(40, 6)), rng.normal(size=(40, 6)) + 4]).astype(np.float32)
    X[5] = X[6]
    ids = [f"c{i % 2}/{i:03d}.jpg" for i in range(80)]
    hashes = [f"h{i}" for i in range(80)]
    hashes[5] = hashes[6]
    labels = ["a"] * 40 + ["b"] * 40
    labels[3] = "b"
    det.fit(X, ids=ids, hashes=hashes, labels=labels)
    iss = det.issues_
    assert isinstance(iss, Issues) and set(iss.issue) <= {cls.issue} and len(iss) > 0
    assert set(iss.ids) <= set(ids) and np.all((iss.score >= 0) & (iss.score <= 1))
    if cls.finds_groups:  # groups partition their members, representative first and not flagged
        flagged = set(iss.flagged_ids())
        assert all(ids[g[0]] not in flagged and all(ids[r] in flagged for r in g[1:]) for g in det.groups_)
    back = Issues.from_csv(iss.to_csv())  # evidence survives issues.csv
    assert iss.to_csv().splitlines()[0] == ",".join(ISSUE_COLUMNS)
    assert back.ids == iss.ids and back.evidence == [dict(e) for e in iss.evidence] and (back.flag == iss.flag).all()
    for pname, rules in cls._parameter_constraints.items():
        bad = get_detector(name, **{pname: "not-a-valid-value"})
        with pytest.raises(ConfigError, match=f"The '{pname}' parameter of {cls.__name__} must be"):
            bad.fit(X, ids=ids, hashes=hashes, labels=labels)


def test_option_params_map_flat_options_to_the_detectors_that_run():
    from labelscout.detectors._runner import option_params

    assert option_params(["near-duplicates", "outliers"]) == {}
    assert option_params(["near-duplicates", "outliers"], near_dup_ratio=0.7, contamination=0.05) == {
        "near-duplicates": {"ratio": 0.7}, "outliers": {"contamination": 0.05}}
    # options for detectors that do not run are not passed on (make_detectors would reject them)
    assert option_params(["exact-duplicates", "near-duplicates"], near_dup_threshold=0.03, contamination=0.05) == {
        "near-duplicates": {"threshold": 0.03}}
