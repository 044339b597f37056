"""A failed or killed training job never becomes current; the previous version serves on."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import psutil

from support.calls import predict, setup
from support.data import annotation_event
from support.jobs import fit_process, fit_under_way, next_job_sweeps, train_first_version
from support.servers import Deployment, Server, local_runners
from support.waiting import wait_until


def assert_previous_serves(server: Server, v1: str, folder: Path) -> None:
    assert setup(server) == v1
    assert predict(server, ["好"])["results"][0]["model_version"] == v1
    assert not list(folder.glob("*.tmp")) and not list(folder.glob(".*.tmp"))
    assert (folder.parent / ".current").read_text() == v1.rsplit("-", 1)[1]


def test_killing_the_fit_process_marks_the_version_failed(
        echo_backend: Path, deployment: Deployment, tmp_path: Path, control: Path) -> None:
    server = deployment.start(echo_backend, env={"ECHO_CONTROL": str(control)})
    under_way = fit_under_way(server, deployment, control)
    v1, folder = under_way.v1, under_way.folder
    fit = fit_process(under_way.root, deployment)
    assert fit is not None
    fit.send_signal(signal.SIGKILL)
    result = wait_until(lambda: json.loads((folder / "job_result.json").read_text()), timeout=10)
    assert result["status"] == "error" and "killed by signal 9" in result["error"]
    assert_previous_serves(server, v1, folder)
    job = server.client.get("/is_training", params={"project": "1"}).json()["latest"]
    assert job["state"] == "failed" and "signal 9" in job["error"]


def test_killing_the_whole_runner_leaves_an_incomplete_folder(
        echo_backend: Path, deployment: Deployment, tmp_path: Path, control: Path) -> None:
    env = {"ECHO_CONTROL": str(control)}
    server = deployment.start(echo_backend, env=env)
    under_way = fit_under_way(server, deployment, control)
    v1, folder, root = under_way.v1, under_way.folder, under_way.root
    for proc in [root, *root.children(recursive=True)]:  # as if the machine died, mid-fit
        proc.send_signal(signal.SIGKILL)
    wait_until(lambda: not root.is_running() or root.status() == psutil.STATUS_ZOMBIE)
    assert not (folder / "job_result.json").exists()  # nothing half-written
    assert_previous_serves(server, v1, folder)
    listed = server.client.get("/versions").json()["projects"]["1"]
    assert {i["version"]: i["status"] for i in listed}[folder.name] == "incomplete"

    def reported_failed() -> bool:
        job = server.client.get("/is_training", params={"project": "1"}).json()["latest"]
        return job["state"] == "failed" or deployment.mode == "local"

    wait_until(reported_failed, timeout=15)  # Redis mode: once the dead worker's lock expires
    # The lock died with its holder: the next job trains normally.
    (control / "fit_sleep").unlink()
    if deployment.workers:
        deployment.start_worker(echo_backend, env)
    next_job_sweeps(server, v1, folder)


def test_a_fit_that_raises_keeps_the_previous_version(
        echo_backend: Path, deployment: Deployment, tmp_path: Path, control: Path) -> None:
    server = deployment.start(echo_backend, env={"ECHO_CONTROL": str(control)})
    v1 = train_first_version(server)
    (control / "fit_fail").write_text("1")
    server.client.post("/webhook", json=annotation_event(2, 2, "差", "消极"))

    def failed() -> dict[str, object] | None:
        job = server.client.get("/is_training", params={"project": "1"}).json()["latest"]
        return job if job["state"] == "failed" else None

    job = wait_until(failed, timeout=30)
    assert "fit failed on purpose" in str(job["error"])
    folder = tmp_path / "models" / "1" / str(job["version"])
    assert json.loads((folder / "job_result.json").read_text())["status"] == "error"
    assert "ValueError: fit failed on purpose" in (folder / "error.log").read_text()
    assert_previous_serves(server, v1, folder)


def test_a_local_runner_yields_the_cpu_to_serving(
        echo_backend: Path, start_server: Any, tmp_path: Path) -> None:
    """Local mode: training and re-scoring run LABELLOOP_RUNNER_NICE (10) below the server
    (a runner lingers after its job: there is time to look)."""
    server = start_server(echo_backend)
    assert server.client.post("/webhook", json=annotation_event(1, 1, "好", "积极")
                              ).status_code == 200
    runner = wait_until(lambda: local_runners(tmp_path / "models"), timeout=30)[0]
    server_nice = psutil.Process(server.proc.pid).nice()
    wait_until(lambda: runner.nice() == server_nice + 10, timeout=20)  # once it has started
