"""Every version is evaluated on held-out annotations; a worse one does not serve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.calls import predict, setup
from support.data import annotation_event
from support.servers import Deployment, Server
from support.waiting import settled, wait_until

POSITIVE_SHARE = 0.8


def annotate(server: Server, first: int, count: int) -> None:
    """``count`` annotations, 80 % 积极: the majority label is right 80 % of the time."""
    for i in range(first, first + count):
        label = "积极" if (i * 7919) % 100 < POSITIVE_SHARE * 100 else "消极"
        resp = server.client.post("/webhook", json=annotation_event(i, i, f"t{i}", label))
        assert resp.status_code == 200


def job_result(deployment: Deployment, version: str) -> dict[str, Any]:
    return dict(json.loads((deployment.model_dir / "1" / version / "job_result.json").read_text()))


def test_a_version_that_gets_worse_is_rejected_and_the_old_one_serves(
        echo_backend: Path, deployment: Deployment, tmp_path: Path) -> None:
    control = tmp_path / "control"
    control.mkdir()
    # One job per START_TRAINING: the test knows which version each one is.
    server = deployment.start(echo_backend, env={"ECHO_CONTROL": str(control),
                                                 "LABELLOOP_TRAIN_ON_ANNOTATION": "false"})
    annotate(server, 1, 150)
    server.client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 1}})
    first = settled(server)
    assert first["outcome"] == "promoted", first
    v1 = str(first["version"])
    result = job_result(deployment, v1)
    assert result["status"] == "ok" and result["evaluation"]["method"] == "holdout"
    assert result["n_train"] == 150 and 20 <= result["n_eval"] <= 50
    assert result["metrics"]["primary"] == "accuracy" and result["metrics"]["score"] > 0.6
    assert (deployment.model_dir / "1" / v1 / "eval").is_dir()  # kept, to judge the next one

    (control / "fit_worse").write_text("1")  # the next fit learns the minority label
    annotate(server, 151, 5)
    server.client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 1}})
    second = settled(server, besides=first["job_id"])
    assert second["outcome"] == "rejected" and second["version"] != v1, second
    v2 = str(second["version"])
    rejected = job_result(deployment, v2)
    promotion = rejected["promotion"]
    assert rejected["status"] == "rejected" and promotion["current_version"] == v1
    assert promotion["candidate"] < promotion["current"] - promotion["tolerance"]
    assert second["metrics"]["score"] == promotion["candidate"]
    assert setup(server) == f"EchoModel-{v1}"  # the old version keeps serving
    assert predict(server, ["x"])["results"][0]["model_version"] == f"EchoModel-{v1}"
    listed = server.client.get("/versions", params={"project": "1"}).json()
    statuses = {v["version"]: v["status"] for v in listed["projects"]["1"]}
    assert statuses == {v1: "ok", v2: "rejected"}
    assert listed["versions"] == [f"EchoModel-{v1}"]  # Label Studio lists servable ones

    # A person may still decide: rollback refuses a rejected version, promote serves it.
    args = ["--project", "1", "--version", v2]
    refused = deployment.cli(echo_backend, "rollback", *args)
    assert refused.returncode != 0 and "rejected, not ok" in refused.stderr
    promoted = deployment.cli(echo_backend, "promote", *args)
    assert promoted.returncode == 0, promoted.stderr
    wait_until(lambda: setup(server) == f"EchoModel-{v2}", timeout=5)


def test_few_annotations_are_cross_validated(echo_backend: Path,
                                             start_server: Any, tmp_path: Path) -> None:
    server = start_server(echo_backend)
    annotate(server, 1, 40)
    job = settled(server)
    result = json.loads((tmp_path / "models" / "1" / str(job["version"]) /
                         "job_result.json").read_text())
    assert result["evaluation"]["method"] == "kfold" and result["n_eval"] == 40
    assert 0.0 <= result["metrics"]["score"] <= 1.0
    assert not (tmp_path / "models" / "1" / str(job["version"]) / "eval").exists()


def test_promote_always_and_evaluation_off(echo_backend: Path, start_server: Any,
                                          tmp_path: Path) -> None:
    control = tmp_path / "control"
    control.mkdir()
    env = {"ECHO_CONTROL": str(control), "LABELLOOP_PROMOTE": "always",
           "LABELLOOP_TRAIN_ON_ANNOTATION": "false"}
    server = start_server(echo_backend, env=env)
    annotate(server, 1, 150)
    server.client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 1}})
    first = settled(server)
    assert first["outcome"] == "promoted"
    (control / "fit_worse").write_text("1")
    server.client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 1}})
    worse = settled(server, besides=first["job_id"])
    assert worse["outcome"] == "promoted"  # "always": judged, and served anyway
    assert setup(server) == f"EchoModel-{worse['version']}"

    off = start_server(echo_backend, model_dir=tmp_path / "other",
                       env={"LABELLOOP_EVALUATE": "false"})
    annotate(off, 1, 150)
    job = settled(off)
    result = json.loads((tmp_path / "other" / "1" / str(job["version"]) /
                         "job_result.json").read_text())
    assert result["metrics"] is None and result["evaluation"]["method"] == "skipped"


def test_without_refit_the_evaluation_model_serves(echo_backend: Path, start_server: Any,
                                                    tmp_path: Path) -> None:
    server = start_server(echo_backend, env={"LABELLOOP_REFIT": "false"})
    annotate(server, 1, 120)
    job = settled(server)
    result = json.loads((tmp_path / "models" / "1" / str(job["version"]) /
                         "job_result.json").read_text())
    assert result["train_output"] == result["evaluation"]["train_output"]
    assert result["train_output"]["count"] == result["n_train"] - result["n_eval"]
    assert predict(server, ["x"])["results"][0]["result"]  # and it serves


def test_progress_reported_by_fit_reaches_is_training(echo_backend: Path, start_server: Any,
                                                       tmp_path: Path) -> None:
    control = tmp_path / "control"
    control.mkdir()
    (control / "fit_progress").write_text("15")  # 3 s of reported steps
    server = start_server(echo_backend, env={"ECHO_CONTROL": str(control)})
    server.client.post("/webhook", json=annotation_event(1, 1, "好", "积极"))

    def reported() -> dict[str, Any] | None:
        latest = server.client.get("/is_training", params={"project": "1"}).json()["latest"]
        progress = (latest or {}).get("progress") or {}
        return progress if str(progress.get("message", "")).startswith("fit: step") else None

    progress = wait_until(reported, timeout=30)
    assert 0 < progress["fraction"] <= 1
    assert settled(server)["progress"] is None  # cleared when the job ends
