"""Fixtures of the service tests: an embedded (SQLite + process pool) server on a tiny real dataset."""
from __future__ import annotations

import pytest

from _service import images_zip


@pytest.fixture(scope="module")
def local_service(tmp_path_factory):
    """A running embedded server (TestClient runs its lifespan: pool threads, reaper)."""
    from fastapi.testclient import TestClient

    from labelscout.service import ServiceSettings, create_app
    from labelscout.service.store import JobStore

    data_dir = tmp_path_factory.mktemp("service")
    allowed = tmp_path_factory.mktemp("allowed")
    settings = ServiceSettings(data_dir=data_dir, allowed_roots=[allowed], shard_size=8, heartbeat_s=0.3,
                               stale_after_s=5, local_workers=2)
    token = JobStore(settings.db_url).create_token("tests")
    app = create_app(settings)
    with TestClient(app) as client:
        yield {"client": client, "headers": {"Authorization": f"Bearer {token}"}, "settings": settings, "app": app,
               "allowed": allowed}


@pytest.fixture(scope="module")
def dataset(local_service):
    """24 real JPEGs (3 per class) and a README that is not a sample, uploaded as one zip."""
    c, h = local_service["client"], local_service["headers"]
    r = c.post("/api/v1/datasets", headers=h,
               files=[("file", ("images.zip", images_zip(24, {"README.txt": b"not an image"}), "application/zip"))])
    assert r.status_code == 201, r.text
    return r.json()
