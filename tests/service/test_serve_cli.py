"""``labelscout serve`` as a real process: --create-token, and a kill -9 of the server
mid-job followed by a restart that finishes every job."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from _service import REPO, free_port, images_zip, serve_process as _serve, wait_job

API = "/api/v1"


def test_create_token_then_a_killed_server_restarts_and_finishes_its_job(tmp_path):
    data_dir = tmp_path / "data"
    made = subprocess.run([sys.executable, "-m", "labelscout", "serve", "--data-dir", str(data_dir), "--create-token"],
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")}, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("ls_") and token not in (data_dir / "labelscout.db").read_bytes().decode("latin-1")
    headers = {"Authorization": f"Bearer {token}"}
    port = free_port()
    with open(tmp_path / "serve.log", "wb") as log:
        server = _serve(data_dir, port, log)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        try:
            assert client.get(f"{API}/jobs").status_code == 401
            ds = client.post(f"{API}/datasets", headers=headers,
                             files=[("file", ("a.zip", images_zip(16, skip=80), "application/zip"))]).json()
            job = client.post(f"{API}/jobs", headers=headers, json={
                "kind": "select", "dataset": ds["id"], "params": {"n": 4, "batch_size": 1, "report": False}}).json()
            running = wait_job(client, headers, job["id"], until=("running", "succeeded", "failed"))
            os.killpg(server.pid, signal.SIGKILL)  # the server, its pool and its task process
            server.wait(10)
            assert running["status"] == "running" and running["progress"]["select"]["status"] != "done", running
            server = _serve(data_dir, port, log)
            done = wait_job(client, headers, job["id"], timeout=180)
            assert done["status"] == "succeeded", done
            assert len(client.get(f"{API}/jobs/{job['id']}/files/selection.txt", headers=headers).text.split()) == 4
            assert [j["id"] for j in client.get(f"{API}/jobs", headers=headers).json()["jobs"]] == [job["id"]]
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(20)
