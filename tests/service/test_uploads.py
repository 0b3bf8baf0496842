"""Upload safety: archives that escape the dataset are refused whole, limits hold while
streaming, server paths must lie under an allowed root."""
from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile

import pytest

from _service import SAMPLE, images_zip, sample_images

API = "/api/v1"


def _zip(members: dict[str, bytes], symlink: tuple[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:  # deflated: a zip bomb is small
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)  # ZipInfo keeps the name as given (writestr(str) would too)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink[0])
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, symlink[1])
    return buf.getvalue()


def _tar(members: dict[str, bytes], link: tuple[str, str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        if link is not None:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = link[2], link[1]
            t.addfile(info)
    return buf.getvalue()


JPEG = sample_images(1)[0].read_bytes()
BAD_ARCHIVES = {
    "zip-dotdot": ("a.zip", _zip({"ok/1.jpg": JPEG, "../../escaped.jpg": JPEG})),
    "zip-absolute": ("a.zip", _zip({"ok/1.jpg": JPEG, "/tmp/escaped.jpg": JPEG})),
    "zip-backslash-dotdot": ("a.zip", _zip({"ok\\..\\..\\escaped.jpg": JPEG})),
    "zip-symlink": ("a.zip", _zip({"ok/1.jpg": JPEG}, symlink=("ok/link.jpg", "/etc/passwd"))),
    "tar-dotdot": ("a.tar.gz", _tar({"ok/1.jpg": JPEG, "ok/../../escaped.jpg": JPEG})),
    "tar-absolute": ("a.tgz", _tar({"/tmp/escaped.jpg": JPEG})),
    "tar-symlink": ("a.tar.gz", _tar({"ok/1.jpg": JPEG}, link=("ok/link.jpg", "/etc/passwd", tarfile.SYMTYPE))),
    "tar-hardlink": ("a.tar.gz", _tar({"ok/1.jpg": JPEG}, link=("ok/hard.jpg", "/etc/passwd", tarfile.LNKTYPE))),
    "tar-device": ("a.tar.gz", _tar({"ok/1.jpg": JPEG}, link=("ok/dev", "", tarfile.CHRTYPE))),
    "plain-dotdot-filename": ("../escaped.jpg", JPEG),
    "plain-absolute-filename": ("/tmp/escaped.jpg", JPEG),
}


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_escaping_uploads_are_refused_whole_and_leave_nothing(local_service, case):
    c, h, settings = local_service["client"], local_service["headers"], local_service["settings"]
    before = set(os.listdir(settings.data_dir / "datasets")) if (settings.data_dir / "datasets").exists() else set()
    filename, data = BAD_ARCHIVES[case]
    good = ("file", ("good.jpg", JPEG, "image/jpeg"))  # a good file in the same request is refused too
    r = c.post(f"{API}/datasets", headers=h, files=[good, ("file", (filename, data, "application/octet-stream"))])
    assert r.status_code == 400, (case, r.status_code, r.text)
    assert "refused" in r.json()["detail"]["message"] or "link" in r.json()["detail"]["message"]
    after = set(os.listdir(settings.data_dir / "datasets")) if (settings.data_dir / "datasets").exists() else set()
    assert after == before
    assert not (settings.data_dir / "escaped.jpg").exists() and not (settings.data_dir.parent / "escaped.jpg").exists()


def test_nested_folders_and_several_files_upload(local_service):
    c, h = local_service["client"], local_service["headers"]
    files = [("file", ("cls/a/one.jpg", JPEG, "image/jpeg")), ("file", ("two.jpg", JPEG, "image/jpeg")),
             ("file", ("more.tar.gz", _tar({"x/three.jpg": JPEG}), "application/gzip")),
             ("file", ("more.zip", images_zip(3), "application/zip"))]
    r = c.post(f"{API}/datasets", headers=h, files=files, data={"note": "ignored form field"})
    assert r.status_code == 201, r.text
    zipped = {p.relative_to(SAMPLE).as_posix() for p in sample_images(3)}
    assert zipped <= set(r.json()["files"])
    assert {"cls/a/one.jpg", "two.jpg", "x/three.jpg"} <= set(r.json()["files"]) and r.json()["images"] == 6


def test_upload_without_files_or_not_multipart_is_refused(local_service):
    c, h = local_service["client"], local_service["headers"]
    assert c.post(f"{API}/datasets", headers=h, data={"x": "1"}, files=[("other", ("a.jpg", JPEG))]).status_code == 400
    assert c.post(f"{API}/datasets", headers={**h, "Content-Type": "text/plain"}, content=b"hello").status_code == 415


@pytest.mark.parametrize("limit,files,what", [
    ({"max_upload_bytes": 3 * len(JPEG)}, [("file", (f"{i}.jpg", JPEG)) for i in range(4)], "larger"),
    ({"max_upload_files": 3}, [("file", (f"{i}.jpg", JPEG)) for i in range(4)], "more than 3 files"),
    ({"max_upload_files": 3}, [("file", ("a.zip", images_zip(4)))], "holds 4 files"),
    ({"max_upload_bytes": 2000}, [("file", ("a.zip", _zip({"big.jpg": b"\0" * 100_000})))], "unpacks to"),
])
def test_limits_refuse_an_upload_as_it_crosses_them(tmp_path, limit, files, what):
    from fastapi.testclient import TestClient

    from labelscout.service import ServiceSettings, create_app
    from labelscout.service.store import JobStore

    settings = ServiceSettings(data_dir=tmp_path, **limit)
    token = JobStore(settings.db_url).create_token()
    client = TestClient(create_app(settings))  # no lifespan: uploads need no task pool
    r = client.post(f"{API}/datasets", headers={"Authorization": f"Bearer {token}"}, files=files)
    assert r.status_code == 413 and what in r.json()["detail"]["message"], r.text
    assert not any((tmp_path / "datasets").iterdir())


def test_server_paths_must_lie_under_an_allowed_root(local_service, tmp_path):
    c, h, allowed = local_service["client"], local_service["headers"], local_service["allowed"]
    (allowed / "set1" / "cls").mkdir(parents=True, exist_ok=True)
    (allowed / "set1" / "cls" / "a.jpg").write_bytes(JPEG)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "b.jpg").write_bytes(JPEG)
    (allowed / "sneaky").symlink_to(outside)
    r = c.post(f"{API}/datasets", headers=h, json={"path": str(allowed / "set1")})
    assert r.status_code == 201 and r.json()["files"] == ["cls/a.jpg"] and r.json()["origin"] == "path"
    for path in (str(allowed / "set1" / ".." / ".." / outside.name), str(allowed / "sneaky"), "/etc", str(outside)):
        r = c.post(f"{API}/datasets", headers=h, json={"path": path})
        assert r.status_code == 403 and "outside" in r.json()["detail"]["message"], (path, r.text)
    assert c.post(f"{API}/datasets", headers=h, json={"path": str(allowed / "missing")}).status_code == 404
    assert (outside / "b.jpg").read_bytes() == JPEG  # user data untouched
