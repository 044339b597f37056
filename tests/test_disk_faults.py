"""A full disk: training fails with a message, serving goes on, nothing is acknowledged
that was not written. (The server runs with RLIMIT_FSIZE: writes past it fail, EFBIG.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from support.calls import predict, setup
from support.data import annotation_event
from support.servers import Server
from support.waiting import wait_until

LIMIT = 32 * 1024
START = {"action": "START_TRAINING", "project": {"id": 1}}


def test_disk_full_during_training_fails_cleanly(echo_backend: Path,
                                                 start_server: Callable[..., Server],
                                                 tmp_path: Path) -> None:
    # One job per START_TRAINING, so the test knows which job meets the full disk.
    server = start_server(echo_backend, max_file_bytes=LIMIT,
                          env={"LABELLOOP_TRAIN_ON_ANNOTATION": "false"})
    untrained = setup(server)
    server.client.post("/webhook", json=annotation_event(1, 1, "好", "积极"))
    server.client.post("/webhook", json=START)
    v1 = wait_until(lambda: (v := setup(server)) != untrained and v, timeout=30)

    # 60 tasks of ~1 KiB: train_data.json outgrows what the "disk" takes.
    for i in range(2, 62):
        resp = server.client.post("/webhook", json=annotation_event(i, i, "很" * 400, "消极"))
        assert resp.status_code == 200
    server.client.post("/webhook", json=START)

    def failed() -> dict[str, object] | None:
        job = server.client.get("/is_training", params={"project": "1"}).json()["latest"]
        return job if job["state"] == "failed" and not server.client.get(
            "/is_training", params={"project": "1"}).json()["is_training"] else None

    job = wait_until(failed, timeout=30)
    assert "cannot write the new version" in str(job["error"])
    assert "File too large" in str(job["error"])
    folder = tmp_path / "models" / "1" / str(job["version"])
    result = json.loads((folder / "job_result.json").read_text())
    assert result["status"] == "error" and "File too large" in result["error"]
    assert setup(server) == v1  # serving continues on the previous version
    assert predict(server, ["x"])["results"][0]["model_version"] == v1


def test_an_annotation_that_cannot_be_written_is_refused(echo_backend: Path,
                                                         start_server: Callable[..., Server]
                                                         ) -> None:
    server = start_server(echo_backend, max_file_bytes=LIMIT)
    resp = server.client.post("/webhook", json=annotation_event(1, 1, "长" * 20000, "积极"))
    assert resp.status_code == 503
    assert resp.json()["error"] == "store_unavailable"
    assert "cannot write to the model directory" in resp.json()["message"]
    assert server.client.get("/health").status_code == 200
