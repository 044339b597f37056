"""Stopping: ``labelloop worker`` and ``labelloop start`` exit within 10 s of SIGTERM, whatever
Redis does, and leave nothing half-written; ``labelloop train`` waits its turn beside a
runner that fits."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from support.calls import predict, setup
from support.data import TEXT_CONFIG, annotation_event
from support.jobs import (
    fit_under_way,
    next_job_sweeps,
    start_slow_job,
    supervisor,
    train_first_version,
)
from support.servers import Deployment, RedisServer
from support.waiting import settled, wait_until

STOP_WITHIN_S = 10.0


@pytest.fixture
def redis_mode(tmp_path: Path, redis_server: RedisServer) -> Iterator[Deployment]:
    dep = Deployment("redis", tmp_path, redis_server)
    yield dep
    dep.stop()


def stop_and_time(proc: subprocess.Popen[bytes]) -> float:
    """Send SIGTERM; how long the process took to exit (fails past the limit)."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(STOP_WITHIN_S + 5)
    return time.monotonic() - started


def gone(family: list[psutil.Process]) -> bool:
    return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in family)


def versions_left_whole(project_dir: Path) -> list[str]:
    """The version folders; each holds a complete job_result.json, or none at all."""
    found = []
    for folder in project_dir.iterdir():
        if folder.name.isdigit():
            result = folder / "job_result.json"
            if result.exists():
                json.loads(result.read_text())  # not half-written
            assert not list(folder.glob(".*.tmp")), list(folder.iterdir())
            found.append(folder.name)
    return found


def test_a_worker_stops_within_10s_when_redis_stops_at_the_same_moment(
        echo_backend: Path, redis_mode: Deployment, redis_server: RedisServer,
        control: Path, tmp_path: Path) -> None:
    env = {"ECHO_CONTROL": str(control)}
    server = redis_mode.start(echo_backend, env=env)
    fit = fit_under_way(server, redis_mode, control)
    v1, folder, project_dir = fit.v1, fit.folder, tmp_path / "models" / "1"
    family = [fit.root, *fit.root.children(recursive=True)]
    assert redis_server.proc is not None
    redis_server.proc.terminate()  # as `docker compose down` stops everything at once
    took = stop_and_time(redis_mode.workers[0])
    assert took < STOP_WITHIN_S, took
    wait_until(lambda: gone(family), timeout=3)  # its RQ worker, horse and fit too
    assert folder.name in versions_left_whole(project_dir)
    assert not (folder / "job_result.json").exists()  # killed mid-fit: incomplete, never served
    assert predict(server, ["好"])["results"][0]["model_version"] == v1  # still serving

    redis_server.proc.wait()
    redis_server.start()  # the same data: a new worker marks the abandoned version failed
    (control / "fit_sleep").unlink()
    redis_mode.start_worker(echo_backend, env)
    next_job_sweeps(server, v1, folder)


def test_a_worker_stops_within_10s_while_redis_is_down(
        echo_backend: Path, redis_mode: Deployment, redis_server: RedisServer) -> None:
    """The old worker looped forever on "lost Redis ... starting a new worker"."""
    server = redis_mode.start(echo_backend)
    train_first_version(server)
    redis_server.stop()
    time.sleep(3)  # long enough for the worker to notice and start retrying
    worker = redis_mode.workers[0]
    family = [psutil.Process(worker.pid), *psutil.Process(worker.pid).children(recursive=True)]
    assert stop_and_time(worker) < STOP_WITHIN_S
    wait_until(lambda: gone(family), timeout=3)


def test_a_worker_gives_its_job_the_grace_then_stops(
        echo_backend: Path, redis_mode: Deployment, control: Path, tmp_path: Path) -> None:
    """Redis up: RQ's warm shutdown lets the job go on for the grace period; a job that
    needs longer is killed, and the previous version serves."""
    env = {"ECHO_CONTROL": str(control), "LABELLOOP_SHUTDOWN_GRACE": "2"}
    server = redis_mode.start(echo_backend, env=env)
    fit = fit_under_way(server, redis_mode, control)
    v1, folder, project_dir = fit.v1, fit.folder, tmp_path / "models" / "1"
    took = stop_and_time(redis_mode.workers[0])
    assert 2.0 <= took < STOP_WITHIN_S, took
    assert folder.name in versions_left_whole(project_dir)
    assert setup(server) == v1
    job = wait_until(lambda: (j := server.client.get(
        "/is_training", params={"project": "1"}).json()["latest"])["state"] == "failed" and j,
        timeout=10)  # once the killed job's lock expires
    assert job["version"] == folder.name


def test_start_stops_within_10s_while_redis_is_down(
        echo_backend: Path, redis_mode: Deployment, redis_server: RedisServer) -> None:
    server = redis_mode.start(echo_backend)
    v1 = train_first_version(server)
    redis_server.stop()
    assert predict(server, ["好"])["results"][0]["model_version"] == v1
    assert stop_and_time(server.proc) < STOP_WITHIN_S  # type: ignore[arg-type]


def test_start_stops_within_10s_while_its_runner_fits(
        echo_backend: Path, tmp_path: Path, control: Path) -> None:
    local = Deployment("local", tmp_path, None)
    try:
        server = local.start(echo_backend, env={"ECHO_CONTROL": str(control)})
        v1 = train_first_version(server)
        start_slow_job(server, control, tmp_path / "models" / "1", {v1.rsplit("-", 1)[1]})
        assert stop_and_time(server.proc) < STOP_WITHIN_S  # type: ignore[arg-type]
    finally:
        for runner in [*supervisor(local).children(recursive=True), supervisor(local)]:
            runner.kill()
        local.stop()


def test_train_waits_for_a_runner_that_fits_and_neither_fails_the_other(
        echo_backend: Path, deployment: Deployment, control: Path, tmp_path: Path) -> None:
    env = {"ECHO_CONTROL": str(control)}
    server = deployment.start(echo_backend, env=env)
    v1 = train_first_version(server)
    project_dir = tmp_path / "models" / "1"
    (control / "fit_sleep").write_text("3")
    server.client.post("/webhook", json=annotation_event(2, 2, "差", "消极"))
    served = wait_until(lambda: next((p for p in project_dir.iterdir() if p.name.isdigit()
                                      and p.name != v1.rsplit("-", 1)[1]), None), timeout=30)
    export = tmp_path / "export.json"
    export.write_text(json.dumps([
        {"id": i, "data": {"text": f"t{i}"}, "annotations": [{"id": 100 + i, "result": [
            {"from_name": "sentiment", "to_name": "text", "type": "choices",
             "value": {"choices": ["消极"]}}]}]} for i in range(4)]))
    config = tmp_path / "config.xml"
    config.write_text(TEXT_CONFIG)
    result = deployment.cli(echo_backend, "train", "--tasks", str(export), "--project", "1",
                            "--label-config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    trained = result.stdout.split("trained version ")[1].split()[0]
    settled(server)
    statuses = {v["version"]: v["status"] for v in server.client.get(
        "/versions", params={"project": "1"}).json()["projects"]["1"]}
    assert statuses[served.name] == "ok" and statuses[trained] == "ok", statuses
    assert int(trained) > int(served.name)  # it waited for the runner's job to end
