"""CoresetSelector: greedy k-center over the backends, checked against the float64 reference."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError
from labelscout.kernels._reference import covering_radius_reference, farthest_point_sampling_reference
from labelscout.strategies import CoresetSelector, get_strategy
from labelscout.strategies.coreset import prepare_metric


def _blobs(N=600, D=10, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, D)) * 5
    return (centres[rng.integers(0, 12, N)] + rng.normal(size=(N, D))).astype(np.float32)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize("with_exclude", [False, True])
def test_numba_selection_is_the_reference_selection(metric, with_exclude):
    X = _blobs()
    exclude = [3, 77, 500] if with_exclude else None
    s = CoresetSelector(60, metric=metric, seed=4, backend="numba").fit(X, exclude=exclude)
    Xm = prepare_metric(X, metric)
    first = int(np.random.default_rng(4).integers(len(X)))
    ref_p, ref_d = farthest_point_sampling_reference(Xm, 60, initial=exclude, first=first)
    np.testing.assert_array_equal(s.selected_, ref_p)
    np.testing.assert_array_equal(s.scores_, ref_d)
    centres = np.concatenate([exclude or [], ref_p]).astype(np.int64)
    assert s.radius_ == pytest.approx(covering_radius_reference(Xm, centres), rel=1e-12)
    assert s.backend_ == "numba"
    if with_exclude:
        assert not set(s.selected_.tolist()) & set(exclude)
        assert np.isfinite(s.scores_).all() and s.reasons_[0].startswith("farthest from selected: d=")
    else:
        assert np.isinf(s.scores_[0]) and s.reasons_[0] == "first centre (seed=4)"


@pytest.mark.parametrize("backend,device,storage", [("numpy", "auto", "float32"), ("torch", "cpu", "float32"),
                                                    ("torch", "cpu", "float16"), ("auto", "auto", "float32")])
def test_every_backend_covers_like_the_reference(backend, device, storage):
    X = _blobs(seed=1)
    s = CoresetSelector(80, metric="l2", backend=backend, device=device, storage=storage).fit(X)
    exact = covering_radius_reference(X if storage == "float32" else X.astype(np.float16).astype(np.float32), s.selected_)
    assert s.radius_ == pytest.approx(exact, rel=1e-3)
    ref = CoresetSelector(80, metric="l2", backend="numba").fit(X)
    # float32 / float16 arithmetic may part from the exact order at a near tie, never by much
    assert s.radius_ == pytest.approx(ref.radius_, rel=0.05)
    assert len(set(s.selected_.tolist())) == 80


def test_stop_radius_stops_when_covered():
    X = _blobs(seed=2)
    full = CoresetSelector(len(X), metric="l2", backend="numba").fit(X)
    stop = float(full.scores_[40])  # the covering radius just before the 41st pick
    s = CoresetSelector(len(X), metric="l2", backend="numba", stop_radius=stop).fit(X)
    assert s.n_selected_ == 40 and s.radius_ == stop
    np.testing.assert_array_equal(s.selected_, full.selected_[:40])


def test_params_are_recorded_and_registry_builds_it():
    X = _blobs(N=50)
    ids = [f"img/{i}.jpg" for i in range(50)]
    sel = get_strategy("coreset", n=5, backend="numpy").fit_select(X, ids)
    assert sel.params["backend"] == "numpy" and sel.params["device"] == "auto" and sel.params["storage"] == "float32"
    assert sel.strategy == "coreset" and len(sel.ids) == 5


@pytest.mark.parametrize(
    "params,match",
    [
        ({"backend": "gpu"}, r"The 'backend' parameter of CoresetSelector must be one of \{'auto', 'numba', 'numpy', 'torch'\}. Got 'gpu' instead."),
        ({"device": 0}, r"The 'device' parameter of CoresetSelector must be an instance of 'str'. Got 0 instead."),
        ({"storage": "half"}, r"The 'storage' parameter of CoresetSelector must be one of \{'float16', 'float32'\}. Got 'half' instead."),
        ({"backend": "numba", "device": "cuda"}, r"'device' parameter applies to backend='torch' only; backend='numba'"),
        ({"backend": "numpy", "storage": "float16"}, r"'storage' parameter applies to backend='torch' only"),
        ({"backend": "torch", "device": "tpu"}, r"The 'device' parameter must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'. Got 'tpu'"),
        ({"stop_radius": -1.0}, r"The 'stop_radius' parameter of CoresetSelector must be a float in the range \[0, inf\] or None. Got -1.0"),
    ],
)
def test_bad_params_name_parameter_rule_and_value(params, match):
    with pytest.raises(ConfigError, match=match):
        CoresetSelector(3, **params).fit(_blobs(N=20))


@settings(max_examples=30, deadline=None)
@given(N=st.integers(2, 80), data=st.data())
def test_prefix_and_radius_properties(N, data):
    X = np.round(np.random.default_rng(N).normal(size=(N, 3)) * 2).astype(np.float32)  # with duplicates
    exclude = data.draw(st.lists(st.integers(0, N - 1), max_size=min(4, N - 1), unique=True))
    avail = N - len(exclude)
    n = data.draw(st.integers(1, avail))
    seed = data.draw(st.integers(0, 3))
    kw = dict(metric="l2", seed=seed, backend="numba")
    big = CoresetSelector(avail, **kw).fit(X, exclude=exclude or None)
    small = CoresetSelector(n, **kw).fit(X, exclude=exclude or None)
    np.testing.assert_array_equal(small.selected_, big.selected_[:n])  # every prefix is a coreset
    assert big.radius_ <= small.radius_  # the covering radius never grows with k
    assert big.radius_ == 0.0  # everything is picked or labeled
    assert len(set(big.selected_.tolist()) | set(exclude)) == N
    scores = big.scores_ if exclude else big.scores_[1:]
    assert (np.diff(scores) <= 0).all()  # each pick is no farther than the one before
