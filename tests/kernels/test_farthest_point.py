"""Every farthest-point backend against the slow float64 reference.

The numba kernel sums distances in the reference's order, so it must agree bit for bit:
same picks (ties included), same distances. The numpy and torch backends use the float32
expansion ``|x|^2 - 2 x.c + |c|^2``, which loses digits to cancellation: they must agree
with the reference up to the first step where the reference's two best candidates are
within that error, and every pick they make must be a farthest point up to that error.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError, InputError
from labelscout.kernels import farthest_point_sampling
from labelscout.kernels._reference import covering_radius_reference, farthest_point_sampling_reference
from labelscout.strategies.coreset import prepare_metric

BACKENDS = ["numba", "numpy", "torch", "torch-fp16"]


def _run(X, n, backend, **kw):
    if backend.startswith("torch"):
        storage = "float16" if backend.endswith("fp16") else "float32"
        return farthest_point_sampling(X, n, backend="torch", device="cpu", storage=storage, return_radius=True, **kw)
    return farthest_point_sampling(X, n, backend=backend, return_radius=True, **kw)


def _exact_sq(X, j):
    diff = X.astype(np.float64) - X[j].astype(np.float64)
    return np.einsum("ij,ij->i", diff, diff)


def _tolerance(X):
    """Bound on the float32 expansion's error in a squared distance (with room)."""
    sq = np.einsum("ij,ij->i", X.astype(np.float64), X.astype(np.float64))
    return 64 * np.finfo(np.float32).eps * (4 * sq.max() + 1e-12)


def _check_greedy(X, picks, dists, initial, tol_sq, *, ref_picks=None):
    """Each pick is a farthest non-centre point up to tol_sq, its reported distance is right
    to that tolerance, and the picks equal the reference's until the reference had a near tie."""
    N = X.shape[0]
    mind = np.full(N, np.inf)
    is_centre = np.zeros(N, bool)
    for j in initial:
        np.minimum(mind, _exact_sq(X, j), out=mind)
        is_centre[j] = True
    agree = ref_picks is not None
    for k, j in enumerate(picks):
        assert not is_centre[j], f"pick {k} ({j}) is already a centre"
        if np.isfinite(mind).all():
            cand = np.where(is_centre, -1.0, mind)
            best = cand.max()
            assert mind[j] >= best - tol_sq, f"pick {k}: d^2={mind[j]} but the farthest point has {best}"
            assert abs(dists[k] ** 2 - mind[j]) <= tol_sq + 1e-12
            if agree:
                top2 = np.sort(cand)[-2:] if N - is_centre.sum() > 1 else np.array([-np.inf, best])
                if top2[1] - top2[0] <= tol_sq:
                    agree = False  # a near tie: the orders may legitimately part here
                else:
                    assert j == ref_picks[k], f"pick {k}: {j} != reference {ref_picks[k]} with no near tie"
        else:
            assert not np.isfinite(dists[k])
        np.minimum(mind, _exact_sq(X, j), out=mind)
        is_centre[j] = True


def _data(kind, N, D, seed):
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        return rng.normal(size=(N, D)).astype(np.float32)
    if kind == "clustered":  # a mixture with many exact duplicates (ties at distance 0)
        centres = rng.normal(size=(max(1, N // 20), D)) * 4
        X = centres[rng.integers(0, len(centres), N)] + rng.normal(size=(N, D)) * 0.3
        dup = rng.random(N) < 0.3
        X[dup] = X[rng.integers(0, N, dup.sum())]
        return X.astype(np.float32)
    if kind == "grid":  # integer lattice: exact ties everywhere
        return rng.integers(0, 4, size=(N, D)).astype(np.float32)
    raise ValueError(kind)


CASES = [
    # kind, N, D, n, metric, with initial
    ("gauss", 1, 3, 1, "l2", False),
    ("gauss", 2, 1, 2, "l2", False),
    ("gauss", 50, 2, 50, "l2", False),
    ("gauss", 300, 7, 40, "l2", True),
    ("gauss", 400, 16, 400, "cosine", False),
    ("gauss", 600, 33, 60, "cosine", True),
    ("gauss", 500, 64, 80, "l2", False),
    ("clustered", 700, 8, 150, "l2", True),
    ("clustered", 500, 24, 500, "l2", False),
    ("clustered", 800, 64, 120, "cosine", False),
    ("grid", 300, 3, 300, "l2", False),
    ("grid", 400, 5, 100, "l2", True),
]


@pytest.mark.parametrize("kind,N,D,n,metric,with_initial", CASES)
def test_numba_is_bit_identical_to_reference(kind, N, D, n, metric, with_initial):
    X = prepare_metric(_data(kind, N, D, seed=N + D), metric)
    initial = np.arange(0, N, max(1, N // 5))[:4] if with_initial else None
    n = min(n, N - (0 if initial is None else len(initial)))
    ref_p, ref_d = farthest_point_sampling_reference(X, n, initial=initial, first=N // 3)
    p, d, r = _run(X, n, "numba", initial=initial, first=N // 3)
    np.testing.assert_array_equal(p, ref_p)
    np.testing.assert_array_equal(d, ref_d)
    centres = p if initial is None else np.concatenate([initial, p])
    assert r == pytest.approx(covering_radius_reference(X, centres), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch", "torch-fp16"])
@pytest.mark.parametrize("kind,N,D,n,metric,with_initial", CASES)
def test_float32_backends_match_reference_up_to_near_ties(backend, kind, N, D, n, metric, with_initial):
    X = prepare_metric(_data(kind, N, D, seed=N + D), metric)
    if backend == "torch-fp16":  # float16 storage: the distances are those of the rounded vectors
        X = X.astype(np.float16).astype(np.float32)
    initial = np.arange(0, N, max(1, N // 5))[:4] if with_initial else None
    n = min(n, N - (0 if initial is None else len(initial)))
    ref_p, _ = farthest_point_sampling_reference(X, n, initial=initial, first=N // 3)
    p, d, r = _run(X, n, backend, initial=initial, first=N // 3)
    assert len(p) == len(ref_p)
    init = [] if initial is None else list(initial)
    tol = _tolerance(X)
    _check_greedy(X, p, d, init, tol, ref_picks=ref_p)
    exact_r = covering_radius_reference(X, np.asarray(init + list(p), dtype=np.int64))
    assert abs(r**2 - exact_r**2) <= tol + 1e-12
    ref_r = covering_radius_reference(X, np.asarray(init + list(ref_p), dtype=np.int64))
    # greedy orders that part at a near tie still cover about equally well at the end
    if len(p) == N - len(init):
        assert r == 0.0 and ref_r == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stop", [0.0, 0.5, 1.5, 3.0])
def test_stop_radius(backend, stop):
    X = _data("clustered", 400, 6, seed=1)
    p, d, r = _run(X, 400, backend, stop_radius=stop)
    ref_p, ref_d = farthest_point_sampling_reference(X, 400, stop_radius=stop)
    exact_r = covering_radius_reference(X, p)
    if backend == "numba":
        np.testing.assert_array_equal(p, ref_p)
        np.testing.assert_array_equal(d, ref_d)
        assert r == exact_r <= stop
        assert (d[1:] > stop).all()  # not stopped too early
    else:
        # float32 expansion: a distance is only known to ~sqrt(tol); exact duplicates, for
        # instance, come out a little above 0, so with stop_radius=0 these backends go on
        # picking duplicates the reference stops at
        tol = np.sqrt(_tolerance(X))
        assert r <= stop and exact_r <= stop + tol
        assert (d[1:] > stop).all()
        assert abs(r - exact_r) <= tol


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_duplicates_picks_each_row_once(backend):
    X = np.ones((7, 3), np.float32)
    p, d, r = _run(X, 7, backend, first=4)
    assert p.tolist() == [4, 0, 1, 2, 3, 5, 6]  # then lowest index first among the ties at 0
    assert np.isinf(d[0]) and (d[1:] == 0).all() and r == 0.0
    p, d, r = _run(X, 3, backend, initial=[1, 2], first=4)
    assert p.tolist() == [0, 3, 4] and (d == 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_small_edge_cases(backend):
    X = np.array([[0.0, 0.0]], np.float32)
    p, d, r = _run(X, 1, backend)
    assert p.tolist() == [0] and np.isinf(d[0]) and r == 0.0
    p, d, r = _run(X, 0, backend)
    assert p.size == 0
    X = np.array([[0.0], [1.0], [3.0], [10.0]], np.float32)
    p, d, r = _run(X, 4, backend, first=1, block=3)  # blocks that do not divide N
    assert p.tolist() == [1, 3, 2, 0]  # from 1: 10 is 9 away; then 3 (2 away) beats 0 (1 away)
    np.testing.assert_allclose(d[1:], [9.0, 2.0, 1.0], rtol=1e-6)
    p, d, r = _run(X, 2, backend, initial=[0, 3])
    assert p.tolist() == [2, 1]


@settings(max_examples=25, deadline=None)
@given(N=st.integers(1, 60), D=st.integers(1, 9), dup=st.booleans(), data=st.data())
def test_properties_hold_for_every_backend(N, D, dup, data):
    rng = np.random.default_rng(N * 31 + D)
    X = rng.normal(size=(N, D)).astype(np.float32)
    if dup:
        X = np.round(X)  # many exact duplicates
    initial = np.array(data.draw(st.lists(st.integers(0, N - 1), max_size=min(3, N - 1), unique=True)), np.int64)
    avail = N - initial.size
    n = data.draw(st.integers(0, avail))
    m = data.draw(st.integers(0, avail - n))
    ref_p, ref_d = farthest_point_sampling_reference(X, n + m, initial=initial)
    for backend in BACKENDS:
        p, d, r = _run(X, n, backend, initial=initial)
        assert len(p) == n == len(set(p.tolist()))
        assert ((0 <= p) & (p < N)).all() and not set(p.tolist()) & set(initial.tolist())
        tail = d if initial.size else d[1:]
        assert (np.diff(tail) <= 1e-5).all()  # scores never increase after the first pick
        more_p, more_d, more_r = _run(X, n + m, backend, initial=initial)
        np.testing.assert_array_equal(more_p[:n], p)  # prefix property
        assert more_r <= r + 1e-5  # the covering radius never grows with k
        if backend == "numba":
            np.testing.assert_array_equal(more_p, ref_p)
            np.testing.assert_array_equal(more_d, ref_d)


def test_numba_pruning_matches_reference_on_many_picks():
    """Enough picks for the groups to shrink and the arena to be compacted several times."""
    X = _data("clustered", 3000, 12, seed=5)
    ref_p, ref_d = farthest_point_sampling_reference(X, 700, first=17)
    p, d, _ = _run(X, 700, "numba", first=17)
    np.testing.assert_array_equal(p, ref_p)
    np.testing.assert_array_equal(d, ref_d)


@pytest.mark.parametrize("kind", ["gauss", "clustered"])
def test_numba_dense_visits_match_reference(kind):
    """N above the flat-phase threshold: the first picks are parallel passes over all rows
    that settle most points with the int8 bound; the result must not change."""
    X = _data(kind, 20000, 8, seed=9)
    ref_p, ref_d = farthest_point_sampling_reference(X, 60, initial=[5, 7000])
    p, d, r = _run(X, 60, "numba", initial=[5, 7000])
    np.testing.assert_array_equal(p, ref_p)
    np.testing.assert_array_equal(d, ref_d)
    assert r == pytest.approx(covering_radius_reference(X, np.concatenate([[5, 7000], p])), rel=1e-12)


@pytest.mark.parametrize("with_initial", [False, True])
def test_numba_flat_phase_hands_over_to_pruning_exactly(with_initial):
    """Enough picks on N above the flat threshold for the groups to take over from the flat
    passes (the arena is built mid-run, then compacted): same picks and distances."""
    from labelscout.kernels import _fps_numba

    X = _data("clustered", _fps_numba._FLAT_MIN + 3000, 8, seed=11)
    initial = np.array([3, 4, 9000]) if with_initial else None
    ref_p, ref_d = farthest_point_sampling_reference(X, 900, initial=initial, first=123)
    p, d, r = _run(X, 900, "numba", initial=initial, first=123)
    np.testing.assert_array_equal(p, ref_p)
    np.testing.assert_array_equal(d, ref_d)
    centres = p if initial is None else np.concatenate([initial, p])
    assert r == pytest.approx(covering_radius_reference(X, centres), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(D=st.sampled_from([1, 2, 7, 8, 64, 67]), exp=st.integers(-30, 14), offset=st.floats(-1e3, 1e3),
       spread=st.floats(1e-6, 1.0), seed=st.integers(0, 2**16))
def test_int8_bound_never_claims_more_than_the_exact_distance(D, exp, offset, spread, seed):
    """The bound that lets the numba kernel skip a point (both forms: _settled and the
    flat phase's threshold): whenever it says d(x, c)^2 >= di,
    the exact float64 distance (the reference's) must be >= di. Probed at di just above the
    exact value, where a claim would be wrong, over magnitudes from 1e-30 to 1e14,
    offsets and spreads (a row far from the origin quantises coarsely)."""
    from labelscout.kernels._fps_numba import _flat_threshold, _qdist32, _quantize, _settled, _sqdist

    rng = np.random.default_rng(seed)
    scale = 10.0 ** exp
    X = ((offset + spread * rng.standard_normal((40, D))) * scale).astype(np.float32)
    X[:3] = X[3]  # duplicates: distance 0
    X[5, : max(1, D // 2)] = 0.0
    Q = np.empty(X.shape, np.int8)
    qs, qe = np.empty(len(X), np.float32), np.empty(len(X), np.float32)
    _quantize(X, Q, qs, qe)
    errk = 4.0 * (D + 4) * 2.0**-24
    for j in range(0, len(X), 7):
        c = X[j].copy()
        C = X[j:j + 1]
        for i in range(len(X)):
            exact = _sqdist(X, i, C, 0, np.inf)
            above = np.nextafter(exact, np.inf)
            est = _qdist32(Q, i, qs[i], c)
            assert not _settled(est, qe[i], above, errk), (i, j, exact)
            # the flat phase's form of the same bound: one float32 threshold per row
            assert not est >= _flat_threshold(above, np.float64(qe[i]), errk), (i, j, exact)


def test_numba_is_exact_with_huge_coordinates():
    """Beyond the float32 range of the bound, the kernel switches it off: still bit-identical."""
    X = _data("gauss", 300, 5, seed=2) * np.float32(1e20)
    ref_p, ref_d = farthest_point_sampling_reference(X, 50)
    p, d, _ = _run(X, 50, "numba")
    np.testing.assert_array_equal(p, ref_p)
    np.testing.assert_array_equal(d, ref_d)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_rows_are_reported(backend, bad):
    X = _data("gauss", 30, 3, seed=0)
    X[7, 1] = bad
    with pytest.raises(InputError, match=r"1 row\(s\) with NaN or infinite values, e.g. rows \[7\]"):
        _run(X, 5, backend)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"n": -1}, ConfigError, r"The 'n' parameter must be an int in the range \[0, 10\] .* Got -1 instead"),
        ({"n": 11}, ConfigError, r"'n' parameter must be an int in the range \[0, 10\]"),
        ({"n": 9, "initial": [0, 1]}, ConfigError, r"\[0, 8\] \(10 samples, 2 initial centres\). Got 9"),
        ({"n": 2.5}, ConfigError, r"'n' parameter .* Got 2.5 instead"),
        ({"first": 10}, ConfigError, r"The 'first' parameter must be an int in the range \[0, 9\]. Got 10 instead"),
        ({"stop_radius": -0.1}, ConfigError, r"The 'stop_radius' parameter must be a float in the range \[0, inf\) or None. Got -0.1"),
        ({"stop_radius": float("nan")}, ConfigError, r"'stop_radius' parameter"),
        ({"backend": "cuda"}, ConfigError, r"The 'backend' parameter must be one of \{'auto', 'numpy', 'numba', 'torch'\}. Got 'cuda'"),
        ({"backend": "numba", "device": "cuda"}, ConfigError, r"'device' parameter applies to backend='torch' only"),
        ({"backend": "numpy", "storage": "float16"}, ConfigError, r"'storage' parameter applies to backend='torch' only"),
        ({"storage": "int8"}, ConfigError, r"The 'storage' parameter must be one of \{'float32', 'float16'\}. Got 'int8'"),
        ({"block": 0}, ConfigError, r"The 'block' parameter must be an int in the range \[1, inf\) or None. Got 0"),
        ({"initial": [0, 10]}, InputError, r"initial holds indices outside \[0, 10\); got min 0 max 10"),
    ],
)
def test_validation_messages(kwargs, error, match):
    X = np.zeros((10, 2), np.float32)
    kwargs = {"n": 3, **kwargs}
    n = kwargs.pop("n")
    with pytest.raises(error, match=match):
        farthest_point_sampling(X, n, **kwargs)


def test_bad_shape_is_an_input_error():
    with pytest.raises(InputError, match=r"shape \(n_samples, n_features\); got shape \(5,\)"):
        farthest_point_sampling(np.zeros(5, np.float32), 1)


def test_auto_backend_is_numba_without_cuda():
    import torch

    from labelscout.kernels.farthest_point import resolve_backend

    assert resolve_backend("auto") == ("torch" if torch.cuda.is_available() else "numba")
    assert resolve_backend("auto", device="cpu") == "numba"
    assert resolve_backend("auto", device="cuda") == "torch"
    assert resolve_backend("auto", storage="float16") == "torch"
