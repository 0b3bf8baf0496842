"""Fisher-kernel matching: the factored kernel equals inner products of explicit last-layer
gradients; the blockwise top lists and the round-robin equal a full-matrix reference; on a
biased pool it finds the rare classes (against uncertainty: ``labelscout bench active``)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import ConfigError, InputError
from labelscout.strategies import FisherMatchSelector
from labelscout.strategies import fisher_match as fm
from labelscout.strategies._predictive import onehot_residual

from _active import class_blobs, random_probabilities


def explicit_gradients(P, Z, y=None):
    E = onehot_residual(P, y)
    return np.stack([np.outer(E[i], Z[i]).ravel() for i in range(P.shape[0])])


def reference_match(R, candidates, turns, n):
    """Turn t: row turns[t % T] takes its best free candidate (largest R, lowest index)."""
    free = candidates.copy()
    picks, t = [], 0
    while len(picks) < n:
        v = turns[t % len(turns)]
        t += 1
        options = [j for j in range(R.shape[1]) if free[j]]
        j = min(options, key=lambda j: (-R[v, j], j))
        picks.append(j)
        free[j] = False
    return picks


def test_kernel_is_the_inner_product_of_last_layer_gradients():
    rng = np.random.default_rng(0)
    Pv, P = random_probabilities(5, 4, 1), random_probabilities(9, 4, 2)
    Zv, Z = rng.normal(size=(5, 3)), rng.normal(size=(9, 3))
    yv = np.array([0, 1, 2, 3, 0])
    R = fm.fisher_kernel(Zv, onehot_residual(Pv, yv), Z, onehot_residual(P))
    np.testing.assert_allclose(R, explicit_gradients(Pv, Zv, yv) @ explicit_gradients(P, Z).T, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 12), n_pool=st.integers(2, 60), c=st.integers(2, 4), seed=st.integers(0, 1000),
       block=st.sampled_from([1, 7, 1 << 22]), data=st.data())
def test_blockwise_matching_equals_the_full_matrix(monkeypatch_module, m, n_pool, c, seed, block, data):
    monkeypatch_module.setattr(fm, "_BLOCK_ELEMS", block)  # block=1: one 256-row block... or many for big pools
    rng = np.random.default_rng(seed)
    Zv, Z = rng.normal(size=(m, 3)), rng.normal(size=(n_pool, 3))
    Ev, E = onehot_residual(random_probabilities(m, c, seed)), onehot_residual(random_probabilities(n_pool, c, seed + 1))
    cand = rng.random(n_pool) < 0.8
    cand[0] = True
    R = fm.fisher_kernel(Zv, Ev, Z, E)
    k = data.draw(st.integers(1, n_pool + 2))
    idx, val = fm.fisher_topk(Zv, Ev, Z, E, cand, k)
    for v in range(m):
        want = sorted(np.flatnonzero(cand), key=lambda j: (-R[v, j], j))[:k]
        got = idx[v][idx[v] >= 0].tolist()
        assert got == want
        np.testing.assert_allclose(val[v][: len(want)], R[v, want], atol=1e-12)
    turns = fm.turn_order(rng.random(m) < 0.4, rng.random(m), data.draw(st.integers(1, 3)))
    n = data.draw(st.integers(1, int(cand.sum())))
    picks, values, owners = fm.fisher_match_order(Zv, Ev, Z, E, cand, turns, n)
    assert picks.tolist() == reference_match(R, cand, turns, n)
    np.testing.assert_allclose(values, R[owners, picks], atol=1e-12)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_blocks_over_a_pool_larger_than_one_block(monkeypatch):
    monkeypatch.setattr(fm, "_BLOCK_ELEMS", 1)  # 256-row blocks
    rng = np.random.default_rng(3)
    Zv, Z = rng.normal(size=(4, 5)), rng.normal(size=(1000, 5))
    Ev, E = onehot_residual(random_probabilities(4, 3, 1)), onehot_residual(random_probabilities(1000, 3, 2))
    cand = np.ones(1000, bool)
    turns = fm.turn_order(np.array([True, False, True, False]), np.arange(4.0), 2)
    picks, _, _ = fm.fisher_match_order(Zv, Ev, Z, E, cand, turns, 120)  # rows run out of kept candidates
    assert picks.tolist() == reference_match(fm.fisher_kernel(Zv, Ev, Z, E), cand, turns, 120)


def test_turn_order_puts_misclassified_first_emphasis_times():
    mis = np.array([False, True, False, True])
    loss = np.array([0.1, 0.5, 0.9, 2.0])
    assert fm.turn_order(mis, loss, 2).tolist() == [3, 1, 3, 1, 2, 0]


def test_on_a_biased_pool_it_finds_the_rare_classes():
    rng = np.random.default_rng(1)
    counts = [300, 300, 300, 8, 8, 8]
    Xp, yp = class_blobs(counts, d=12, sep=2.2, seed=2)
    # validation: 20 of every class from the same distribution (the same centres: same seed)
    Xall, yall = class_blobs([320, 320, 320, 28, 28, 28], d=12, sep=2.2, seed=2)
    val = np.concatenate([np.flatnonzero(yall == c)[-20:] for c in range(6)])
    labeled = np.concatenate([rng.choice(np.flatnonzero(yp == c), 10, replace=False) for c in range(3)]
                             + [np.flatnonzero(yp == c)[:1] for c in range(3, 6)])
    labels = [str(yp[i]) if i in set(labeled.tolist()) else None for i in range(yp.size)]
    fisher = FisherMatchSelector(30, validation_vectors=Xall[val], validation_labels=[str(v) for v in yall[val]]).fit(
        Xp, labels=labels)
    rare = int(np.sum(yp[fisher.selected_] >= 3))
    # the rare classes are 2.6 % of the pool (0.8 of 30 random picks); the matching finds them
    assert rare >= 8, rare
    assert fisher.misclassified_.sum() > 0 and not set(fisher.selected_.tolist()) & set(labeled.tolist())


def test_validation_ids_and_errors():
    X, y = class_blobs([40, 40], d=4, seed=5)
    labels = [str(v) for v in y]
    sel = FisherMatchSelector(10, validation_ids=list(range(8))).fit(X, labels=labels)
    assert not set(sel.selected_.tolist()) & set(range(8))
    with pytest.raises(ConfigError, match="exactly one of 'validation_ids'"):
        FisherMatchSelector(3).fit(X, labels=labels)
    with pytest.raises(ConfigError, match="'validation_labels'"):
        FisherMatchSelector(3, validation_vectors=X[:4]).fit(X, labels=labels)
    P = random_probabilities(80, 2, 0)
    with pytest.raises(InputError, match="predictions for the validation samples"):
        FisherMatchSelector(3, validation_vectors=X[:4], validation_labels=["0", "1", "0", "1"]).fit(X, predictions=P)
    with pytest.raises(InputError, match=r"validation label\(s\) \['7'\]"):
        FisherMatchSelector(3, validation_vectors=X[:2], validation_labels=["0", "7"],
                            validation_probabilities=P[:2]).fit(X, predictions=P)
    with pytest.raises(InputError, match=r"shape \(n_validation, 4\)"):
        FisherMatchSelector(3, validation_vectors=X[:2, :3], validation_labels=["0", "1"]).fit(X, labels=labels)
    ok = FisherMatchSelector(5, validation_vectors=X[:4], validation_labels=["0", "1", "0", "1"],
                             validation_probabilities=P[:4], validation_targets="labels").fit(X, predictions=P)
    assert len(ok.selected_) == 5


def test_fisher_and_vaal_combine_with_coreset():
    from labelscout.pool import Pool
    from labelscout.strategies import CombineSelector

    X, y = class_blobs([40, 40], d=4, seed=9)
    labels = [str(v) if i < 16 else None for i, v in enumerate(y)]
    pool = Pool(X, [f"s{i}" for i in range(80)], labels=labels)
    sel = CombineSelector(10, strategies={"coreset": 1.0, "fisher-match": 1.0, "vaal": 0.5},
                          component_params={"fisher-match": {"validation_ids": list(range(6))},
                                            "vaal": {"steps": 20, "hidden": 16, "latent": 4, "batch_size": 16}}).fit(pool)
    assert not set(sel.selected_.tolist()) & set(range(16))  # labeled (and validation) samples are never picked


def test_attach_validation_reaches_the_strategy_or_every_fisher_component_of_a_combination():
    from labelscout.pool import Pool
    from labelscout.strategies import CombineSelector, CoresetSelector
    from labelscout.strategies.fisher_match import accepts_validation, attach_validation

    X, y = class_blobs([40, 40], d=4, seed=3)
    labels = [str(v) if i < 20 else None for i, v in enumerate(y)]
    V, vl = X[20:26], [str(v) for v in y[20:26]]
    alone = FisherMatchSelector(6)
    attach_validation(alone, validation_vectors=V, validation_labels=vl)
    combo = CombineSelector(6, strategies={"fisher-match": 1.0, "coreset": 1.0},
                            component_params={"fisher-match": {"emphasis": 2}})
    assert accepts_validation(alone) and accepts_validation(combo)
    attach_validation(combo, validation_vectors=V, validation_labels=vl)
    assert combo.component_params["fisher-match"]["emphasis"] == 2  # explicit component parameters stay
    assert combo.component_params["fisher-match"]["validation_labels"] == vl and "coreset" not in combo.component_params
    pool = Pool(X, [f"s{i}" for i in range(80)], labels=labels)
    reference = CombineSelector(6, strategies={"fisher-match": 1.0, "coreset": 1.0},
                                component_params={"fisher-match": {"emphasis": 2, "validation_vectors": V,
                                                                   "validation_labels": vl}}).fit(pool)
    assert combo.fit(pool).selected_.tolist() == reference.selected_.tolist()
    assert alone.fit(pool).selected_.size == 6
    plain = CoresetSelector(6)
    assert not accepts_validation(plain)
    with pytest.raises(ConfigError, match="does not use it"):
        attach_validation(plain, validation_vectors=V, validation_labels=vl)
