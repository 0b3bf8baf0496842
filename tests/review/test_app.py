"""The review server over real HTTP: views, marks, and what it refuses to serve."""
from __future__ import annotations

import io
import os
import shutil

import httpx
import pytest
from PIL import Image

import labelscout
from labelscout.errors import ConfigError
from labelscout.review import ReviewServer, open_review
from labelscout.review.server import check_bind
from _review_data import make_dataset


def _serve(dataset, out):
    # the kNN posterior is enough here and fast; test_misfits checks the default ensemble
    session = open_review(dataset.root, out=out, labels=str(dataset.labels), embeddings=dataset.embeddings,
                          reviewer="ann", method="knn")
    return ReviewServer(session).start()


@pytest.fixture
def served(dataset, tmp_path):
    """A server of its own, for tests that change files or decisions."""
    server = _serve(dataset, tmp_path / "run")
    with httpx.Client(base_url=server.url.rstrip("/"), timeout=10) as client:
        yield server, client, dataset
    server.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for the tests that only read."""
    folder = tmp_path_factory.mktemp("shared")
    data = make_dataset(folder / "data")
    server = _serve(data, folder / "run")
    with httpx.Client(base_url=server.url.rstrip("/"), timeout=10) as client:
        yield server, client, data
    server.stop()


def test_meta_and_a_class_misfits_first(shared):
    server, client, data = shared
    meta = client.get("/api/meta").json()
    assert meta["n"] == 60 and meta["reviewer"] == "ann" and meta["source"] == "embeddings"
    assert [(c["name"], c["count"]) for c in meta["classes"]] == [("blue", 20), ("green", 20), ("red", 20)]
    view = client.get("/api/class", params={"name": "red"}).json()
    assert len(view["idx"]) == 20 and set(view["id"][:3]) <= data.wrong
    assert view["score"] == sorted(view["score"], reverse=True)
    assert {data.ids[i] for i in view["idx"]} == {i for i, g in zip(data.ids, data.given) if g == "red"}
    file_order = client.get("/api/class", params={"name": "red", "sort": "file"}).json()
    assert file_order["idx"] == sorted(view["idx"])
    bad = client.get("/api/class", params={"name": "purple"})
    assert bad.status_code == 400 and "not a class" in bad.json()["error"]


def test_similar_to_this_sorts_by_cosine_similarity(shared):
    server, client, _ = shared
    view = client.get("/api/class", params={"name": "green"}).json()
    like = view["idx"][5]
    got = client.get("/api/class", params={"name": "green", "sort": "similar", "like": like}).json()["idx"]
    V = server.session.vectors
    ref = sorted(view["idx"], key=lambda i: (-float(V[i] @ V[like]), i))
    assert got[0] == like and sorted(got) == sorted(ref)
    sims = [float(V[i] @ V[like]) for i in got]
    assert all(a >= b - 1e-6 for a, b in zip(sims, sims[1:]))


def test_elsewhere_shows_images_the_data_assigns_to_a_class_they_are_not_labeled_with(shared):
    server, client, data = shared
    got = client.get("/api/elsewhere", params={"name": "blue"}).json()
    truly_blue_labeled_otherwise = {i for i, g, t in zip(data.ids, data.given, data.truth) if t == "blue" and g != "blue"}
    assert truly_blue_labeled_otherwise <= set(got["id"])
    assert all(data.given[data.ids.index(i)] != "blue" for i in got["id"])


def test_marks_are_stored_at_once_and_bad_marks_are_refused(served):
    server, client, data = served
    r = client.post("/api/decisions", json={"reviewer": "bob", "marks": [{"idx": 0, "verdict": "wrong", "new": "red"},
                                                                          {"idx": 1, "verdict": "correct"}]})
    assert r.status_code == 200
    rows = r.json()["decisions"]
    assert [(d["sample"], d["reviewer"], d["verdict"], d["old"], d["new"]) for d in rows] == [
        (data.ids[0], "bob", "wrong", data.given[0], "red"), (data.ids[1], "bob", "correct", data.given[1], None)]
    assert len(server.session.store.since(0)) == 2  # committed before the answer
    for marks in ([{"idx": 999, "verdict": "wrong"}], [{"idx": 2, "verdict": "wrong", "new": "purple"}], [{"idx": 2, "verdict": "?"}]):
        bad = client.post("/api/decisions", json={"marks": marks})
        assert bad.status_code == 400 and bad.json()["error"]
    assert client.post("/api/decisions", content=b"not json").status_code == 400
    assert client.get("/api/decisions", params={"since": 1}).json()["decisions"][0]["idx"] == 1
    assert len(server.session.store.since(0)) == 2


def test_thumbnails_are_made_once_and_kept(served):
    server, client, data = served
    r = client.get("/thumb/4")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (48, 48)
    assert client.get("/thumb/4").content == r.content
    assert client.get("/thumb/60").status_code == 404 and client.get("/thumb/-1").status_code == 404
    (data.root / data.ids[7]).unlink()
    assert client.get("/thumb/7").status_code == 404  # a vanished file is a 404, not a 500


@pytest.mark.parametrize("path", ["../labels.csv", "%2e%2e/labels.csv", "red/../../labels.csv", "%2Fetc%2Fpasswd",
                                  "/etc/passwd", "notes.txt", "red", "red/0000.jpg/", "ids.txt"])
def test_only_dataset_files_are_served(shared, path):
    server, client, data = shared
    (data.root / "notes.txt").write_text("not a sample")
    r = client.get("/file/" + path)
    assert r.status_code == 404, (path, r.status_code)


def test_a_link_out_of_the_root_is_refused_and_one_inside_is_served(served, tmp_path):
    server, client, data = served
    outside = tmp_path / "secret.jpg"
    shutil.copy(data.root / data.ids[0], outside)
    os.unlink(data.root / data.ids[1])
    os.symlink(outside, data.root / data.ids[1])
    os.unlink(data.root / data.ids[2])
    os.symlink(data.root / data.ids[0], data.root / data.ids[2])
    assert client.get("/file/" + data.ids[1]).status_code == 404
    assert client.get("/thumb/1").status_code == 404
    inside = client.get("/file/" + data.ids[2])
    assert inside.status_code == 200 and inside.content == (data.root / data.ids[0]).read_bytes()
    assert client.get("/file/" + data.ids[3]).content == (data.root / data.ids[3]).read_bytes()


def test_requests_for_another_host_name_are_refused(shared):
    server, client, _ = shared
    assert client.get("/api/meta", headers={"Host": "attacker.example"}).status_code == 403
    assert client.get("/api/meta", headers={"Host": f"localhost:{server.port}"}).status_code == 200


def test_another_host_needs_a_token_and_the_token_guards_every_request(dataset, tmp_path):
    with pytest.raises(ConfigError, match="--token"):
        check_bind("0.0.0.0", None)
    session = open_review(dataset.root, out=tmp_path / "run", labels=str(dataset.labels), embeddings=dataset.embeddings,
                          method="knn")
    with pytest.raises(ConfigError, match="--token"):
        ReviewServer(session, host="0.0.0.0")
    server = ReviewServer(session, host="127.0.0.1", token="s3cret").start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert "token=s3cret" in server.url
        assert httpx.get(base + "/api/meta").status_code == 403
        assert httpx.get(base + "/api/meta", params={"token": "wrong"}).status_code == 403
        assert httpx.get(base + "/api/meta", headers={"X-Labelscout-Token": "s3cret"}).status_code == 200
        with httpx.Client(base_url=base) as c:
            page = c.get("/", params={"token": "s3cret"})
            assert page.status_code == 200 and "review.js" in page.text
            assert c.get("/api/meta").status_code == 200  # the cookie carries it from here
    finally:
        server.stop()


def test_the_page_and_its_assets_come_from_the_package(shared):
    server, client, _ = shared
    page = client.get("/").text
    assert 'src="static/review.js"' in page and "http" not in page.split("<body>")[0].replace('http-equiv', '')
    for name in ("review.js", "review.css"):
        r = client.get("/static/" + name)
        assert r.status_code == 200 and len(r.content) > 1000
        assert "http://" not in r.text and "https://" not in r.text  # nothing from a CDN
    assert client.get("/static/../app.py").status_code == 404


def test_notebook_entry_shows_the_same_app_inline(dataset, tmp_path):
    handle = labelscout.review(dataset.root, out=tmp_path / "nb", labels=str(dataset.labels), embeddings=dataset.embeddings,
                               reviewer="nb", method="knn")
    try:
        html = handle._repr_html_()
        assert f'<iframe src="{handle.url}"' in html and "review.sqlite" in html
        assert "review.js" in httpx.get(handle.url).text
        r = httpx.post(handle.url + "api/decisions", json={"marks": [{"idx": 3, "verdict": "correct"}]})
        assert r.json()["decisions"][0]["reviewer"] == "nb"
        assert handle.session.store.current()[dataset.ids[3]]["nb"].verdict == "correct"
    finally:
        handle.stop()


def test_many_thumbnails_in_one_answer_match_the_single_ones(served):
    server, client, data = served
    (data.root / data.ids[2]).unlink()
    r = client.get("/thumbs", params={"i": "0,2,5,60"})
    assert r.status_code == 200
    head, _, body = r.content.partition(b"\n")
    lengths = __import__("json").loads(head)
    assert lengths[1] == -1 and lengths[3] == -1  # a vanished file and an index out of range
    assert body == client.get("/thumb/0").content + client.get("/thumb/5").content
    assert lengths[0] + lengths[2] == len(body)
    assert client.get("/thumbs", params={"i": "1,x"}).status_code == 400
    assert client.get("/thumbs", params={"i": ",".join(["1"] * 600)}).status_code == 400


def test_a_sprite_sheet_holds_the_single_thumbnails_side_by_side(served):
    import json

    import numpy as np

    server, client, data = served
    (data.root / data.ids[2]).unlink()
    r = client.get("/sprite", params={"i": "0,2,5,60"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    head = json.loads(r.headers["x-sprite"])
    slot, sides = head["slot"], head["sides"]
    assert sides == [48, -1, 48, -1]  # a vanished file and an index out of range: grey slots
    sheet = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"), dtype=float)
    assert sheet.shape == (slot, 4 * slot, 3)
    for k, i in ((0, 0), (2, 5)):
        one = np.asarray(Image.open(io.BytesIO(client.get(f"/thumb/{i}").content)).convert("RGB"), dtype=float)
        off = (slot - 48) // 2
        part = sheet[off:off + 48, k * slot + off:k * slot + off + 48]
        assert np.abs(part - one).mean() < 6, (k, np.abs(part - one).mean())  # the same picture, re-encoded once
    assert client.get("/sprite", params={"i": "1,x"}).status_code == 400
    assert client.get("/sprite", params={"i": ""}).status_code == 400
    assert client.get("/sprite", params={"i": ",".join(["1"] * 300)}).status_code == 400


def test_accepted_connections_have_tcp_nodelay():
    # Linux hands the listening socket's TCP_NODELAY to every accepted connection; that is
    # the only place the review sets it, since uvicorn serves sockets it is given as they are
    import socket

    from labelscout.review.server import _bind

    sock = _bind("127.0.0.1", 0)
    try:
        with socket.create_connection(sock.getsockname()) as client:
            conn, _ = sock.accept()
            with conn:
                assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        sock.close()


def test_small_keep_alive_answers_do_not_wait_for_a_delayed_ack(shared):
    # without TCP_NODELAY each small answer waits ~40 ms (Nagle + delayed ACK); the bound is
    # far above the ~0.2 ms measured so a loaded machine does not fail it
    import statistics
    import time

    server, client, data = shared
    times = []
    for _ in range(15):
        t = time.perf_counter()
        assert client.get("/api/summary").status_code == 200
        times.append(time.perf_counter() - t)
    assert statistics.median(times[1:]) < 0.02, times
