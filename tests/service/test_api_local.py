"""The REST API on the embedded default (SQLite job store, tasks in a process pool)."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from _service import copy_images, images_zip, same_as_single_run, wait_job

API = "/api/v1"


def test_every_route_but_health_needs_a_token(local_service):
    c, app = local_service["client"], local_service["app"]
    checked = 0
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith(API) or path == f"{API}/health":
            continue
        url = path.replace("{dataset_id}", "x").replace("{job_id}", "x").replace("{name:path}", "run.json")
        for method in route.methods - {"HEAD", "OPTIONS"}:
            for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
                r = c.request(method, url, headers=headers)
                assert r.status_code == 401, (method, url, headers, r.status_code)
                assert "token" in r.json()["detail"]["message"]
            checked += 1
    assert checked >= 9
    assert c.get(f"{API}/health").json()["status"] == "ok"


def test_openapi_schema_documents_the_api(local_service):
    c, h = local_service["client"], local_service["headers"]
    schema = c.get(f"{API}/openapi.json", headers=h).json()
    for path in (f"{API}/datasets", f"{API}/jobs", f"{API}/jobs/{{job_id}}", f"{API}/jobs/{{job_id}}/files/{{name}}"):
        assert path in schema["paths"], sorted(schema["paths"])
    assert "delete" in schema["paths"][f"{API}/jobs/{{job_id}}"]


def test_dataset_lists_samples_and_skipped_files_with_reasons(local_service, dataset):
    got = local_service["client"].get(f"{API}/datasets/{dataset['id']}", headers=local_service["headers"]).json()
    assert got["images"] == 24 and len(got["files"]) == 24 and got["videos"] == 0
    assert got["skipped"] == [{"file": "README.txt", "reason": got["skipped"][0]["reason"]}]
    assert "not an image or video" in got["skipped"][0]["reason"]
    assert got["size_bytes"] > 24 * 500


def test_upload_select_files_equal_the_library_run(local_service, dataset, tmp_path):
    import labelscout

    c, h = local_service["client"], local_service["headers"]
    r = c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": dataset["id"],
                                               "params": {"n": 6, "batch_size": 8, "report": False}})
    assert r.status_code == 201, r.text
    job = r.json()
    assert [t["name"] for t in job["tasks"]] == ["final", "shard-0000", "shard-0001", "shard-0002"]
    done = wait_job(c, h, job["id"])
    assert done["status"] == "succeeded", done
    embed = done["progress"]["embed"]
    assert {k: embed[k] for k in ("done", "total", "running")} == {"done": 3, "total": 3, "running": 0}
    # in-stage progress from the library's Reporter: the images the shards embedded (those an
    # earlier job of this module left in the content cache are not embedded again)...
    reported = [t["progress"]["embedding"] for t in done["tasks"] if t["name"] != "final" and t["progress"]]
    assert reported and all(p["done"] == p["total"] <= 8 for p in reported), done["tasks"]
    assert embed["stages"]["embedding"] == {"done": sum(p["done"] for p in reported), "total": sum(p["total"] for p in reported)}
    # ...and the final task's own stages (the images are cached by then: nothing left to embed)
    stages = done["progress"]["select"]["stages"]
    assert stages and all(s["total"] is None or s["done"] <= s["total"] for s in stages.values()), stages
    assert done["timings"]["select_s"] > 0 and done["timings"]["embed_shards_s"] > 0
    files = c.get(f"{API}/jobs/{job['id']}/files", headers=h).json()["files"]
    assert {"selection.txt", "selection.csv", "run.json", "embeddings/embeddings.npy"} <= set(files)
    served = c.get(f"{API}/jobs/{job['id']}/files/selection.txt", headers=h).text.split()
    # the same images through the library in one process, no cache: the same selection
    ref = labelscout.select(copy_images(24, tmp_path / "imgs"), 6, batch_size=8, cache_dir=None, report=False,
                            progress=False)
    vecs = np.load(local_service["settings"].job_dir(job["id"]) / "out" / "embeddings" / "embeddings.npy")
    same_as_single_run(vecs, ref.embeddings.vectors)
    same_as_single_run(served, ref.selection.ids)
    run = json.loads(c.get(f"{API}/jobs/{job['id']}/files/run.json", headers=h).text)
    assert run["status"] == "finished" and run["counts"]["selected"] == 6
    vecs = np.load(local_service["settings"].job_dir(job["id"]) / "out" / "embeddings" / "embeddings.npy")
    same_as_single_run(vecs, ref.embeddings.vectors)
    for bad in ("../../labelscout.db", "/etc/passwd", "missing.txt"):
        assert c.get(f"{API}/jobs/{job['id']}/files/{bad}", headers=h).status_code == 404
    listed = c.get(f"{API}/jobs", headers=h, params={"status": "succeeded"}).json()["jobs"]
    assert job["id"] in [j["id"] for j in listed] and all(j["status"] == "succeeded" for j in listed)
    # the report of that run, as a job of its own
    bad = c.post(f"{API}/jobs", headers=h, json={"kind": "report", "params": {"job": dataset["id"]}})
    assert bad.status_code == 422 and bad.json()["detail"]["param"] == "job"
    rep = c.post(f"{API}/jobs", headers=h, json={"kind": "report", "params": {"job": job["id"]}}).json()
    assert wait_job(c, h, rep["id"])["status"] == "succeeded"
    page = c.get(f"{API}/jobs/{rep['id']}/files/report.html", headers=h)
    assert page.status_code == 200 and page.text.lstrip().lower().startswith("<!doctype html")


def test_idempotency_key_returns_the_same_job(local_service, dataset):
    c, h = local_service["client"], local_service["headers"]
    body = {"kind": "inspect", "dataset": dataset["id"], "params": {"detectors": ["exact-duplicates"], "batch_size": 8}}
    first = c.post(f"{API}/jobs", headers={**h, "Idempotency-Key": "retry-1"}, json=body)
    again = c.post(f"{API}/jobs", headers={**h, "Idempotency-Key": "retry-1"}, json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = c.post(f"{API}/jobs", headers={**h, "Idempotency-Key": "retry-1"}, json={**body, "params": {"batch_size": 16}})
    assert other.status_code == 409 and other.json()["detail"]["job"] == first.json()["id"]
    assert wait_job(c, h, first.json()["id"])["status"] == "succeeded"
    files = c.get(f"{API}/jobs/{first.json()['id']}/files", headers=h).json()["files"]
    assert "issues.csv" in files


@pytest.mark.parametrize("params,param", [
    ({"n": 5, "metric": "cosin"}, "metric"),
    ({"n": 500}, "n"),
    ({"n": 5, "strategy_params": {"k": 3}}, "strategy_params.k"),
    ({"n": 5, "out": "/tmp/elsewhere"}, "out"),
    ({"n": 5, "batch_size": "many"}, "batch_size"),
])
def test_bad_params_are_a_422_naming_them_and_queue_nothing(local_service, dataset, params, param):
    c, h = local_service["client"], local_service["headers"]
    before = sum(c.get(f"{API}/jobs", headers=h).json()["counts"].values())
    r = c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": dataset["id"], "params": params})
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["param"] == param and param in r.json()["detail"]["message"]
    assert sum(c.get(f"{API}/jobs", headers=h).json()["counts"].values()) == before


def test_missing_dataset_and_unknown_kind_are_422(local_service):
    c, h = local_service["client"], local_service["headers"]
    assert c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": "nope", "params": {"n": 1}}).status_code == 422
    r = c.post(f"{API}/jobs", headers=h, json={"kind": "retrain", "dataset": "nope", "params": {}})
    assert r.status_code == 422


def test_train_job_writes_the_model_folder_of_labelscout_train(local_service, dataset):
    c, h = local_service["client"], local_service["headers"]
    params = {"method": "autoencoder", "epochs": 2, "batch_size": 8,
              "params": {"width": 4, "embedding_dim": 16, "monitor": "none", "seed": 0, "device": "cpu"}}
    bad = c.post(f"{API}/jobs", headers=h, json={"kind": "train", "dataset": dataset["id"], "params": {"epochs": 0}})
    assert bad.status_code == 422 and bad.json()["detail"]["param"] == "epochs"
    r = c.post(f"{API}/jobs", headers=h, json={"kind": "train", "dataset": dataset["id"], "params": params})
    assert r.status_code == 201, r.text
    job = r.json()
    assert [t["name"] for t in job["tasks"]] == ["final"]  # training reads images itself: no shards
    assert job["params"] == {**params, "temporal": None, "init": None}  # exactly a TrainConfig, less its source
    done = wait_job(c, h, job["id"], timeout=240)
    assert done["status"] == "succeeded", done
    assert done["progress"]["train"]["status"] == "done"
    # the trainer's stages (decoding, steps) as it reported them, finished
    steps = [s for name, s in done["progress"]["train"]["stages"].items() if name.startswith("training")]
    assert steps and steps[0]["done"] == steps[0]["total"] > 0, done["progress"]
    files = c.get(f"{API}/jobs/{job['id']}/files", headers=h).json()["files"]
    assert {"model.json", "model.safetensors", "train.json"} <= set(files), files
    record = json.loads(c.get(f"{API}/jobs/{job['id']}/files/train.json", headers=h).text)
    assert record["train_config"]["epochs"] == 2 and record["train_config"]["method"] == "autoencoder"


def test_cancel_stops_a_running_job_and_it_stays_cancelled(local_service, dataset):
    c, h = local_service["client"], local_service["headers"]
    job = c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": dataset["id"],
                                                 "params": {"n": 4, "batch_size": 1, "report": False}}).json()
    wait_job(c, h, job["id"], until=("running", "succeeded", "failed"))
    r = c.delete(f"{API}/jobs/{job['id']}", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert c.delete(f"{API}/jobs/{job['id']}", headers=h).status_code == 409
    time.sleep(2 * local_service["settings"].heartbeat_s + 1)
    after = c.get(f"{API}/jobs/{job['id']}", headers=h).json()
    assert after["status"] == "cancelled"
    assert not any(t["status"] == "done" and t["name"] == "final" for t in after["tasks"])
    assert "selection.txt" not in c.get(f"{API}/jobs/{job['id']}/files", headers=h).json()["files"]


def test_events_stream_ends_with_the_finished_job(local_service, dataset):
    c, h = local_service["client"], local_service["headers"]
    job = c.post(f"{API}/jobs", headers=h, json={"kind": "embed", "dataset": dataset["id"], "params": {"batch_size": 8}}).json()
    events = []
    with c.stream("GET", f"{API}/jobs/{job['id']}/events", headers=h) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert events[-1]["status"] == "succeeded" and events[-1]["id"] == job["id"]
    assert len({json.dumps(e, sort_keys=True) for e in events}) == len(events)  # only changes are sent


def test_videos_are_shards_of_their_own_and_gather_to_the_single_run(local_service, tmp_path):
    import labelscout
    from _video import encode_video, scene_frame

    c, h = local_service["client"], local_service["headers"]
    src = copy_images(8, tmp_path / "set")
    for k in range(2):  # two real 2-second H.264 clips, 3 scenes each
        encode_video(src / f"clip{k}.mp4", [scene_frame(s + 3 * k, t) for s in range(3) for t in range(17)], fps=25)
    files = [("file", (p.relative_to(src).as_posix(), p.read_bytes())) for p in sorted(src.rglob("*")) if p.is_file()]
    ds = c.post(f"{API}/datasets", headers=h, files=files).json()
    assert (ds["images"], ds["videos"]) == (8, 2)
    job = c.post(f"{API}/jobs", headers=h, json={"kind": "embed", "dataset": ds["id"], "params": {"batch_size": 8, "fps": 2}}).json()
    specs = [t["name"] for t in job["tasks"]]
    assert specs == ["final", "shard-0000", "shard-0001", "shard-0002"]  # one for the images, one per video
    assert wait_job(c, h, job["id"])["status"] == "succeeded"
    out = local_service["settings"].job_dir(job["id"]) / "out" / "embeddings"
    served = labelscout.EmbeddingSet.load(out)
    single = labelscout.embed(src, batch_size=8, fps=2, cache_dir=None, progress=False).embeddings
    assert served.ids == single.ids and any("#frame=" in i for i in served.ids)
    same_as_single_run(served.vectors, single.vectors)


def _digests(folder) -> dict:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _upload(c, h, name: str, data: bytes) -> dict:
    r = c.post(f"{API}/datasets", headers=h, files=[("file", (name, data, "application/zip"))])
    assert r.status_code == 201, r.text
    return r.json()


def test_select_with_a_validation_dataset_equals_the_library_run(local_service, dataset, tmp_path):
    """density-match through the service: the validation images are a dataset of their own,
    named by id; the job picks what `labelscout select --validation FOLDER` picks."""
    import labelscout

    c, h = local_service["client"], local_service["headers"]
    val = _upload(c, h, "validation.zip", images_zip(16, skip=24))  # other images of the same classes
    before = _digests(local_service["settings"].dataset_dir(val["id"]))
    r = c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": dataset["id"], "params": {
        "n": 5, "strategy": "density-match", "strategy_params": {"k": 5}, "validation": val["id"], "batch_size": 8,
        "report": False}})
    assert r.status_code == 201, r.text
    done = wait_job(c, h, r.json()["id"])
    assert done["status"] == "succeeded", done
    served = c.get(f"{API}/jobs/{done['id']}/files/selection.txt", headers=h).text.split()
    run = json.loads(c.get(f"{API}/jobs/{done['id']}/files/run.json", headers=h).text)
    root = local_service["settings"].dataset_dir(val["id"]) / "files"  # the server resolved the id to the folder
    assert run["validation"] == {**run["validation"], "source": str(root), "samples": 16}, run.get("validation")
    ref = labelscout.select(copy_images(24, tmp_path / "imgs"), 5, strategy="density-match", strategy_params={"k": 5},
                            validation=copy_images(16, tmp_path / "val", skip=24), batch_size=8, cache_dir=None,
                            report=False, progress=False)
    same_as_single_run(served, ref.selection.ids)
    assert _digests(local_service["settings"].dataset_dir(val["id"])) == before  # read, never changed


def test_a_bad_validation_dataset_is_a_422_before_anything_is_queued(local_service, dataset):
    import io
    import zipfile

    from _service import sample_images

    c, h = local_service["client"], local_service["headers"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:  # loose images: no class folders
        for i, p in enumerate(sample_images(6, skip=40)):
            z.write(p, f"img{i}.jpg")
    flat = _upload(c, h, "flat.zip", buf.getvalue())
    before = sum(c.get(f"{API}/jobs", headers=h).json()["counts"].values())
    for params, words in [
        ({"n": 3, "strategy": "density-match", "validation": "no-such-dataset"}, "no dataset"),
        ({"n": 3, "strategy": "fisher-match", "validation": flat["id"]}, "class folders"),
        ({"n": 3, "strategy": "coreset", "validation": flat["id"]}, "does not use it"),
        ({"n": 3, "strategy": "density-match"}, "needs a validation dataset"),
    ]:
        r = c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": dataset["id"], "params": params})
        assert r.status_code == 422, (params, r.text)
        detail = r.json()["detail"]
        assert detail["param"] == "validation" and words in detail["message"], detail
    assert sum(c.get(f"{API}/jobs", headers=h).json()["counts"].values()) == before
    # a flat folder is fine where no labels are needed
    ok = c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": dataset["id"], "params": {
        "n": 3, "strategy": "density-match", "validation": flat["id"], "batch_size": 8, "report": False}})
    assert ok.status_code == 201, ok.text
    assert wait_job(c, h, ok.json()["id"])["status"] == "succeeded"


def test_select_with_a_predictions_file_of_the_dataset_picks_the_unsure_samples(local_service, tmp_path):
    """A team's own model: its class probabilities travel in the dataset's zip beside the
    images; `predictions` names the file by its path there."""
    import csv
    import io

    from _service import SAMPLE, sample_images

    c, h = local_service["client"], local_service["headers"]
    images = sample_images(20, skip=60)
    ids = [p.relative_to(SAMPLE).as_posix() for p in images]
    classes = sorted(p.name for p in SAMPLE.iterdir() if p.is_dir())
    unsure = ids[3:6]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", *classes])
    for i in ids:
        sure = [0.91 if k == 0 else 0.01 for k in range(len(classes))]
        w.writerow([i, *([1 / len(classes)] * len(classes) if i in unsure else sure)])
    data = images_zip(20, {"model/preds.csv": buf.getvalue().encode()}, skip=60)
    ds = _upload(c, h, "with-preds.zip", data)
    assert [s["file"] for s in c.get(f"{API}/datasets/{ds['id']}", headers=h).json()["skipped"]] == ["model/preds.csv"]
    missing = c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": ds["id"], "params": {
        "n": 3, "strategy": "uncertainty", "predictions": "preds.csv"}})
    assert missing.status_code == 422 and missing.json()["detail"]["param"] == "predictions", missing.text
    assert "no file 'preds.csv'" in missing.json()["detail"]["message"]
    r = c.post(f"{API}/jobs", headers=h, json={"kind": "select", "dataset": ds["id"], "params": {
        "n": 3, "strategy": "uncertainty", "strategy_params": {"measure": "margin"}, "predictions": "model/preds.csv",
        "batch_size": 8, "report": False}})
    assert r.status_code == 201, r.text
    done = wait_job(c, h, r.json()["id"])
    assert done["status"] == "succeeded", done
    served = c.get(f"{API}/jobs/{done['id']}/files/selection.txt", headers=h).text.split()
    assert sorted(served) == sorted(unsure)
    run = json.loads(c.get(f"{API}/jobs/{done['id']}/files/run.json", headers=h).text)
    root = (local_service["settings"].dataset_dir(ds["id"]) / "files").resolve()
    assert run["config"]["predictions"] == str(root / "model" / "preds.csv")
    assert run["predictions"]["matched"] == 20 and run["predictions"]["classes"] == classes
