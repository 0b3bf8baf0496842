"""The Pool keeps every per-sample field aligned by id; estimators declare what they need."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelscout.errors import InputError
from labelscout.pool import REQUIREMENTS, Pool, check_requirements


@dataclass
class _Pred:  # the shape of labelscout.sources.predictions.Predictions
    probabilities: np.ndarray
    class_names: list
    present: np.ndarray


def _pool(n, rng, **kw):
    P = rng.dirichlet(np.ones(3), size=n)
    return Pool(rng.normal(size=(n, 4)).astype(np.float32), [f"s/{i}.jpg" for i in range(n)],
                labels=[i % 3 for i in range(n)], content_hashes=[f"h{i}" for i in range(n)],
                meta={"video": [""] * n}, predictions=_Pred(P, ["a", "b", "c"], np.ones(n, bool)),
                features=rng.normal(size=(n, 2)), **kw)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), data=st.data())
def test_subset_keeps_every_field_aligned(n, data):
    rng = np.random.default_rng(n)
    pool = _pool(n, rng)
    rows = data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
    sub = pool.subset(rows)
    assert sub.ids == [pool.ids[r] for r in rows]
    for j, r in enumerate(rows):
        assert np.array_equal(sub.vectors[j], pool.vectors[r])
        assert sub.labels[j] == pool.labels[r] and sub.content_hashes[j] == pool.content_hashes[r]
        assert np.array_equal(sub.predictions.probabilities[j], pool.predictions.probabilities[r])
        assert np.array_equal(sub.features[j], pool.features[r])
    assert sub.predictions.class_names == ["a", "b", "c"] and len(sub.predictions.present) == len(rows)
    assert np.array_equal(pool.positions(sub.ids), np.asarray(rows, dtype=np.int64))


@pytest.mark.parametrize("field, value, message", [
    ("ids", ["a", "b"], r"ids has 2 entries for 3 samples \(embeddings shape \(3, 4\)\)"),
    ("ids", ["a", "a", "b"], "duplicate sample id 'a'"),
    ("labels", [1, 2], "labels has 2 entries for 3 samples"),
    ("content_hashes", ["x"], "content_hashes has 1 entries for 3 samples"),
    ("meta", {"video": ["v"]}, "metadata column 'video' has 1 entries"),
    ("predictions", _Pred(np.full((2, 2), 0.5), ["a", "b"], np.ones(2, bool)), "predictions has 2 entries for 3 samples"),
    ("predictions", _Pred(np.full((3, 2), 0.5), ["a"], np.ones(3, bool)), "2 columns but 1 class names"),
    ("predictions", np.full((3, 2), 0.5), "must carry 'probabilities'"),
    ("features", np.zeros((4, 2)), "features has 4 entries for 3 samples"),
])
def test_misaligned_fields_are_named(field, value, message):
    with pytest.raises(InputError, match=message):
        Pool(np.zeros((3, 4), np.float32), **({"ids": ["a", "b", "c"]} if field != "ids" else {}), **{field: value})


def test_default_ids_and_requirements():
    pool = Pool(np.zeros((3, 2)))
    assert pool.ids == ["0", "1", "2"] and not pool.has("labels") and not pool.has("predictions")
    with pytest.raises(InputError, match="Thing needs labels .* and model predictions .*; none were given") as err:
        check_requirements("Thing", {"predictions", "labels"}, pool)
    assert REQUIREMENTS["labels"] in err.value.hint and REQUIREMENTS["predictions"] in err.value.hint
    check_requirements("Thing", set(), pool)
    with pytest.raises(ValueError, match="unknown pool requirement"):
        pool.has("colour")
    assert "3 samples" in repr(pool) and "labels" not in repr(pool)
    with pytest.raises(InputError, match="are not in the pool"):
        pool.positions(["7"])
