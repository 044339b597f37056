"""Integration: real `labelloop start` processes over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from support.calls import UID, predict, setup
from support.data import TEXT_CONFIG, annotation_event, ls_requests
from support.servers import Deployment, Server
from support.waiting import settled, wait_until

POSITIVE = ["这本书写得真好，非常喜欢", "质量很好，推荐购买", "服务周到，很满意", "好看，值得一读",
            "物流快，包装好，喜欢"]
NEGATIVE = ["太差了，完全不推荐", "质量很差，失望", "服务态度恶劣，差评", "难看，浪费钱",
            "物流慢，包装破损，差"]


def annotate_all(server: Server, start_id: int = 1) -> int:
    """Send one ANNOTATION_CREATED per sample; returns the next free id."""
    ann_id = start_id
    for texts, label in ((POSITIVE, "积极"), (NEGATIVE, "消极")):
        for text in texts:
            r = server.client.post("/webhook", json=annotation_event(ann_id, ann_id, text, label))
            assert r.status_code == 200 and r.json()["training"] is True, r.text
            ann_id += 1
    return ann_id


def test_replay_every_recorded_request(echo_backend: Path,
                                       start_server: Callable[..., Server]) -> None:
    """Every body Label Studio 1.23.2 really sent gets a well-formed 2xx answer."""
    server = start_server(echo_backend)
    setup_versions: dict[str, str] = {}
    for req in ls_requests():
        body = req["body"]
        resp = server.client.request(req["method"], req["path"], json=body)
        assert resp.status_code == 200, (req["path"], resp.text)
        answer = resp.json()
        if req["path"] == "/health":
            assert answer["status"] == "UP" and answer["model_class"] == "EchoModel"
        elif req["path"] == "/setup":
            assert isinstance(answer["model_version"], str)
            setup_versions[body["project"]] = answer["model_version"]
        elif req["path"] == "/predict":
            assert len(answer["results"]) == len(body["tasks"])
            for pred in answer["results"]:
                assert pred["model_version"] == setup_versions[body["project"]]
                assert pred["result"] and isinstance(pred["score"], float)
        elif req["path"] == "/versions":
            assert isinstance(answer["versions"], list)


def test_predict_before_training_is_valid_and_empty(text_backend: Path,
                                                    start_server: Callable[..., Server]) -> None:
    server = start_server(text_backend)
    version = setup(server)
    assert version == "SimpleTextClassifier-untrained"
    answer = predict(server, ["好", "差"])
    # Nothing to suggest is no prediction: an empty list per task, which Label Studio
    # 1.23 stores nothing for (issue 19; it was a stored empty prediction, score 0).
    assert answer["results"] == [[], []]
    assert answer["model_version"] == version


def test_webhook_training_makes_founding_layout_and_switches_version(
        text_backend: Path, deployment: Deployment, tmp_path: Path) -> None:
    server = deployment.start(text_backend)
    untrained = setup(server)
    next_id = annotate_all(server)
    wait_until(lambda: setup(server) != untrained, timeout=60)
    settled(server)  # the burst may have made a follow-up version too
    v1 = setup(server)
    version = v1.rsplit("-", 1)[1]
    folder = tmp_path / "models" / "1" / version
    assert sorted(p.name for p in folder.iterdir()) == [
        "job_result.json", "model.pkl", "train_data.json", "train_data_info.json"]
    result = json.loads((folder / "job_result.json").read_text())
    assert result["status"] == "ok" and result["version"] == version
    assert result["project"] == "1" and result["workdir"] == str(folder)
    assert isinstance(result["job_id"], str) and result["time"] > 0
    assert result["train_output"]["labels"] == ["消极", "积极"]
    assert result["train_output"]["model_file"] == str(folder / "model.pkl")
    count = json.loads((folder / "train_data_info.json").read_text())["count"]
    assert count == len(json.loads((folder / "train_data.json").read_text()))
    assert count >= 1

    answer = predict(server, ["非常好，很喜欢", "太差了，失望"])
    assert [p["result"][0]["value"]["choices"] for p in answer["results"]] == [["积极"], ["消极"]]
    assert {p["model_version"] for p in answer["results"]} == {v1}

    # More annotations: a second version, seen by /setup and /predict of the same server.
    server.client.post("/webhook", json=annotation_event(next_id, next_id, "一般般吧", "中性"))
    wait_until(lambda: setup(server) != v1, timeout=60)
    settled(server)
    v2 = setup(server)
    assert predict(server, ["好"])["results"][0]["model_version"] == v2
    listed = server.client.get("/versions").json()["versions"]
    assert listed[:2] == [v2, v1]
    job = server.client.get("/is_training", params={"project": UID}).json()["latest"]
    assert job["state"] == "finished" and job["version"] == v2.rsplit("-", 1)[1]
    status = server.client.get("/job_status", params={"job_id": job["job_id"]}).json()
    assert status["state"] == "finished" and status["version"] == job["version"]


def test_burst_coalesces_into_few_jobs(echo_backend: Path, deployment: Deployment,
                                       tmp_path: Path) -> None:
    control = tmp_path / "control"
    control.mkdir()
    (control / "fit_sleep").write_text("1")
    server = deployment.start(echo_backend, env={"ECHO_CONTROL": str(control)})
    setup(server)
    for i in range(1, 51):
        r = server.client.post("/webhook", json=annotation_event(i, i, f"text {i}", "积极"))
        assert r.status_code == 200
    project_dir = tmp_path / "models" / "1"

    settled(server)
    versions = [p for p in project_dir.iterdir() if p.name.isdigit()]
    assert 1 <= len(versions) <= 3  # one job running, at most one follow-up per burst
    newest = max(versions, key=lambda p: int(p.name))
    assert json.loads((newest / "train_data_info.json").read_text()) == {"count": 50}


def test_legacy_train_endpoint(echo_backend: Path, deployment: Deployment) -> None:
    server = deployment.start(echo_backend)
    tasks = [{"id": i, "data": {"text": f"t{i}"},
              "annotations": [{"id": 100 + i, "result": [
                  {"from_name": "sentiment", "to_name": "text", "type": "choices",
                   "value": {"choices": ["消极"]}}]}]} for i in range(3)]
    resp = server.client.post("/train", json={"annotations": tasks, "project": "9.1795555284",
                                              "label_config": TEXT_CONFIG,
                                              "params": {"login": None, "password": None}})
    assert resp.status_code == 201 and len(resp.json()["job"]) == 32
    wait_until(lambda: setup(server, "9.1795555284") != "EchoModel-untrained", timeout=30)
    answer = predict(server, ["x"], project="9.1795555284")
    assert answer["results"][0]["result"][0]["value"]["choices"] == ["消极"]


def test_skipped_annotation_and_deletion_leave_the_training_set(
        echo_backend: Path, start_server: Callable[..., Server], tmp_path: Path) -> None:
    server = start_server(echo_backend, args=[])
    event = annotation_event(1, 1, "a", "积极")
    event["annotation"]["was_cancelled"] = True
    server.client.post("/webhook", json=annotation_event(2, 2, "b", "消极"))
    server.client.post("/webhook", json=annotation_event(3, 3, "c", "消极"))
    server.client.post("/webhook", json=event)
    server.client.post("/webhook", json={"action": "ANNOTATIONS_DELETED",
                                         "annotations": [{"id": 3}], "project": {"id": 1}})
    stored = sorted(p.stem for p in (tmp_path / "models" / "1" / ".annotations").glob("*.json"))
    assert stored == ["2"]


@pytest.mark.parametrize("action", ["TASKS_CREATED", "PROJECT_UPDATED", "LABEL_LINK_CREATED",
                                    "SOMETHING_NEW"])
def test_other_actions_are_acknowledged_without_training(
        echo_backend: Path, start_server: Callable[..., Server], action: str) -> None:
    server = start_server(echo_backend)
    resp = server.client.post("/webhook", json={"action": action, "project": {"id": 3}})
    assert resp.status_code == 200 and resp.json()["training"] is False


def test_one_lingering_runner_trains_consecutive_jobs_then_exits_with_the_server(
        echo_backend: Path, start_server: Callable[..., Server], tmp_path: Path) -> None:
    server = start_server(echo_backend)
    versions = [setup(server)]
    for ann in (1, 2):
        server.client.post("/webhook", json=annotation_event(ann, ann, "好", "积极"))
        versions.append(wait_until(lambda: (v := setup(server)) not in versions and v))
    log = tmp_path / "models" / "1" / ".jobs" / "runner.log"
    # The job finishes (its record) just after its version goes live; then the runner
    # lingers for 30 s, and lingering is not training.
    wait_until(lambda: server.client.get("/is_training", params={"project": "1"}).json()[
        "is_training"] is False, timeout=10)
    server.stop()
    wait_until(lambda: "ran 2 job(s)" in log.read_text(), timeout=10)
    assert log.read_text().count("ran ") == 1  # one process ran both jobs
