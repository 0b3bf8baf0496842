from __future__ import annotations

import pytest

from _review_data import make_dataset


@pytest.fixture
def dataset(tmp_path):
    return make_dataset(tmp_path / "data")
