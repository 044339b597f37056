"""Redis mode with a real redis-server, real `labelloop start` servers and RQ workers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from labelloop.cli.studio import free_port
from support.calls import predict, setup
from support.data import annotation_event
from support.servers import Deployment, RedisServer, Server
from support.waiting import wait_until


@pytest.fixture
def redis_mode(tmp_path: Path, redis_server: RedisServer) -> Iterator[Deployment]:
    dep = Deployment("redis", tmp_path, redis_server)
    yield dep
    dep.stop()


@pytest.fixture
def control(tmp_path: Path) -> Path:
    folder = tmp_path / "control"
    folder.mkdir()
    return folder


def latest_job(server: Server, project: str = "1") -> dict[str, object] | None:
    return server.client.get("/is_training", params={"project": project}).json()["latest"]


def test_health_says_redis_mode(echo_backend: Path, redis_mode: Deployment) -> None:
    server = redis_mode.start(echo_backend)
    health = server.client.get("/health").json()
    assert health["mode"] == "redis" and health["redis"] == "ok"
    assert "in redis mode (redis://" in server.log.read_text()


def test_two_workers_train_projects_in_parallel_never_one_project_twice(
        echo_backend: Path, redis_mode: Deployment, control: Path) -> None:
    (control / "fit_sleep").write_text("2.5")
    server = redis_mode.start(echo_backend, env={"ECHO_CONTROL": str(control)}, workers=2)
    for project in (1, 2):
        for i in range(3):
            ann = project * 100 + i
            event = annotation_event(ann, ann, f"t{ann}", "积极", project=project)
            assert server.client.post("/webhook", json=event).status_code == 200
            time.sleep(0.3)
    jobs: dict[str, list[dict[str, Any]]] = {}
    for project in ("1", "2"):
        wait_until(lambda p=project: not server.client.get(
            "/is_training", params={"project": p}).json()["is_training"], timeout=60)
        folders = [d for d in (redis_mode.model_dir / project).iterdir() if d.name.isdigit()]
        jobs[project] = [server.client.get("/job_status", params={
            "job_id": json.loads((d / "job_result.json").read_text())["job_id"]}).json()
            for d in folders]
    for runs in jobs.values():  # within a project: one job at a time
        spans = sorted((j["started"], j["ended"]) for j in runs)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(spans))
        assert all(j["state"] == "finished" for j in runs)
    # across projects, the two workers overlapped
    first = min(jobs["1"], key=lambda j: j["started"])
    second = min(jobs["2"], key=lambda j: j["started"])
    assert second["started"] < first["ended"]


def test_a_burst_to_three_servers_coalesces(echo_backend: Path, redis_mode: Deployment,
                                            control: Path) -> None:
    (control / "fit_sleep").write_text("3")
    env = {"ECHO_CONTROL": str(control)}
    servers = [redis_mode.start(echo_backend, env=env) for _ in range(3)]
    jobs = set()
    for i in range(1, 101):
        resp = servers[i % 3].client.post("/webhook", json=annotation_event(i, i, f"t{i}", "积极"))
        assert resp.status_code == 200
        jobs.add(resp.json()["job"])
    assert len(jobs) <= 2  # one running, one queued: the burst is shorter than one fit
    wait_until(lambda: not servers[0].client.get(
        "/is_training", params={"project": "1"}).json()["is_training"], timeout=60)
    folders = sorted((d for d in (redis_mode.model_dir / "1").iterdir() if d.name.isdigit()),
                     key=lambda d: int(d.name))
    assert len(folders) == len(jobs)
    assert json.loads((folders[-1] / "train_data_info.json").read_text()) == {"count": 100}


def test_every_server_switches_within_two_seconds(echo_backend: Path, redis_mode: Deployment,
                                                  tmp_path: Path) -> None:
    a, b = redis_mode.start(echo_backend), redis_mode.start(echo_backend)
    untrained = setup(a)
    assert setup(b) == untrained
    a.client.post("/webhook", json=annotation_event(1, 1, "好", "积极"))
    job = wait_until(lambda: (j := latest_job(a)) and j["state"] == "finished" and j, timeout=30)
    new = f"EchoModel-{job['version']}"
    wait_until(lambda: setup(a) == new and setup(b) == new, timeout=2, interval=0.02)
    assert predict(b, ["x"])["results"][0]["model_version"] == new
    # A second version, then a rollback from the CLI: both servers follow at once.
    a.client.post("/webhook", json=annotation_event(2, 2, "差", "消极"))
    wait_until(lambda: setup(b) not in (untrained, new), timeout=30)
    result = subprocess.run([sys.executable, "-m", "labelloop.cli.main", "rollback",
                             str(echo_backend), "--redis-url", str(redis_mode.redis.url),  # type: ignore[union-attr]
                             "--model-dir", str(redis_mode.model_dir), "--project", "1",
                             "--version", str(job["version"])], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    wait_until(lambda: setup(a) == new and setup(b) == new, timeout=2, interval=0.02)
    listing = subprocess.run([sys.executable, "-m", "labelloop.cli.main", "versions",
                              str(echo_backend), "--redis-url", str(redis_mode.redis.url),  # type: ignore[union-attr]
                              "--model-dir", str(redis_mode.model_dir)],
                             capture_output=True, text=True).stdout
    served = [line for line in listing.splitlines() if str(job["version"]) in line]
    assert served and served[0].split("│")[1].strip() == "*"


def test_redis_outage_keeps_predictions_and_refuses_webhooks(
        echo_backend: Path, redis_mode: Deployment, redis_server: RedisServer) -> None:
    server = redis_mode.start(echo_backend)
    untrained = setup(server)
    server.client.post("/webhook", json=annotation_event(1, 1, "好", "积极"))
    v1 = wait_until(lambda: (v := setup(server)) != untrained and v, timeout=30)
    assert predict(server, ["x"])["results"][0]["model_version"] == v1

    redis_server.stop()
    started = time.monotonic()
    health = server.client.get("/health")
    assert time.monotonic() - started < 1.0
    assert health.status_code == 200 and health.json()["redis"] == "unreachable"
    answer = predict(server, ["x"])  # the loaded version keeps serving
    assert answer["results"][0]["model_version"] == v1
    assert setup(server) == v1
    refused = server.client.post("/webhook", json=annotation_event(2, 2, "差", "消极"))
    assert refused.status_code == 503 and refused.json()["error"] == "store_unavailable"
    assert "Traceback" not in refused.text

    redis_server.start()  # same data dir: the append-only file brings the state back
    resent = server.client.post("/webhook", json=annotation_event(2, 2, "差", "消极"))
    assert resent.status_code == 200, resent.text
    v2 = wait_until(lambda: (v := setup(server)) not in (v1, untrained) and v, timeout=30)
    folder = redis_mode.model_dir / "1" / v2.rsplit("-", 1)[1]
    assert json.loads((folder / "train_data_info.json").read_text()) == {"count": 2}


def test_worker_without_redis_is_a_clear_error(echo_backend: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "labelloop.cli.main", "worker",
                             str(echo_backend)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "needs Redis" in result.stderr


def test_unreachable_redis_at_start_still_serves_health(echo_backend: Path,
                                                        start_server: object) -> None:
    server = start_server(echo_backend, args=[  # type: ignore[operator]
        "--redis-url", f"redis://127.0.0.1:{free_port()}/0"])
    assert server.client.get("/health").json()["redis"] == "unreachable"
    assert "NOT answering" in server.log.read_text()
    resp = server.client.post("/webhook", json=annotation_event(1, 1, "a", "积极"))
    assert resp.status_code == 503
    assert isinstance(httpx.get(f"{server.url}/versions").status_code, int)
