"""Bad input gets a 4xx JSON error naming the field; the server keeps serving. Pure
request and response behaviour: the app runs in-process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.data import TEXT_CONFIG
from support.inprocess import InProcess


@pytest.fixture
def echo_server(echo_backend: Path, tmp_path: Path, control: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    monkeypatch.setenv("ECHO_CONTROL", str(control))
    server = InProcess(echo_backend, tmp_path / "models")
    server.control = control  # type: ignore[attr-defined]
    yield server
    server.close()


def body(tasks: Any = None, **kw: Any) -> dict[str, Any]:
    return {"tasks": [{"id": 1, "data": {"text": "x"}}] if tasks is None else tasks,
            "project": "1.17", "label_config": TEXT_CONFIG, **kw}


@pytest.mark.parametrize("path, payload, status, field", [
    ("/predict", b"{not json", 422, "body"),
    ("/predict", {"project": "1.17"}, 422, "tasks"),
    ("/predict", body(tasks="nope"), 422, "tasks"),
    ("/predict", body(tasks=[{"id": 1, "data": {"other": 1}}]), 422, "tasks[0].data"),
    ("/predict", body(tasks=[{"id": 1}]), 422, "tasks[0].data"),
    ("/predict", body(project="../../etc"), 422, "project"),
    ("/predict", body(project="/abs/path"), 422, "project"),
    ("/predict", body(project="a\u0000b"), 422, "project"),
    ("/predict", body(label_config="<View"), 422, "label_config"),
    ("/predict", body(params={"context": "x"}), 422, "params.context"),
    ("/setup", {"project": "1.17"}, 422, "schema"),
    ("/setup", {"project": "1.17", "schema": "<!DOCTYPE x [<!ENTITY a 'b'>]><View/>"}, 422,
     "schema"),
    ("/webhook", b"[]", 422, "body"),
    ("/webhook", b"garbage", 422, "body"),
    ("/webhook", {"project": {"id": 1}}, 422, "action"),
    ("/webhook", {"action": "ANNOTATION_CREATED"}, 422, "project"),
    ("/webhook", {"action": "ANNOTATION_CREATED", "project": {"id": "../x"}}, 422, "project.id"),
    ("/webhook", {"action": "ANNOTATION_CREATED", "project": {"id": 1},
                  "annotation": {"id": "../1"}, "task": {"id": 1, "data": {}}}, 422,
     "annotation.id"),
    ("/webhook", {"action": "ANNOTATIONS_DELETED", "project": {"id": 1}}, 422, "annotations"),
    ("/train", {"project": "1"}, 422, "annotations"),
])
def test_bad_requests_name_the_field(echo_server: InProcess, path: str, payload: Any,
                                     status: int, field: str) -> None:
    if isinstance(payload, bytes):
        resp = echo_server.client.post(path, content=payload,
                                       headers={"content-type": "application/json"})
    else:
        resp = echo_server.client.post(path, json=payload)
    assert resp.status_code == status, resp.text
    assert resp.json()["field"] == field
    assert "Traceback" not in resp.text
    assert echo_server.client.get("/health").status_code == 200


def test_missing_query_parameters_and_unknown_job(echo_server: InProcess) -> None:
    resp = echo_server.client.get("/job_status")
    assert resp.status_code == 422 and resp.json()["field"] == "job_id"
    resp = echo_server.client.get("/job_status", params={"job_id": "0" * 32})
    assert resp.status_code == 404 and resp.json()["error"] == "not_found"
    resp = echo_server.client.get("/job_status", params={"job_id": "../../etc/passwd"})
    assert resp.status_code == 422 and resp.json()["field"] == "job_id"
    resp = echo_server.client.get("/is_training", params={"project": "../x"})
    assert resp.status_code == 422 and resp.json()["field"] == "project"


def test_nothing_is_written_for_a_hostile_project_id(echo_server: InProcess,
                                                     tmp_path: Path) -> None:
    before = sorted(p.name for p in tmp_path.rglob("*"))
    echo_server.client.post("/setup", json={"project": "../escape", "schema": TEXT_CONFIG})
    echo_server.client.post("/webhook", json={"action": "START_TRAINING",
                                              "project": {"id": "../../escape"}})
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("mode, needle", [
    ("raise", "EchoModel.predict() raised RuntimeError: the model exploded"),
    ("short", "one prediction per task: got 0 for 1 tasks"),
    ("junk", "must be a dict with a 'result' list"),
])
def test_a_broken_model_gives_a_clear_500(echo_server: InProcess, mode: str, needle: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    (echo_server.control / "predict").write_text(mode)  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR, logger="labelloop"):
        resp = echo_server.client.post("/predict", json=body())
    assert resp.status_code == 500
    assert resp.json()["error"] == "model_error" and needle in resp.json()["message"]
    assert "Traceback" not in resp.text
    if mode == "raise":  # the traceback goes to the server log, never to the client
        logged = [r for r in caplog.records if r.exc_info]
        assert logged and "the model exploded" in str(logged[0].exc_info[1])  # type: ignore[index]
    (echo_server.control / "predict").unlink()  # type: ignore[attr-defined]
    assert echo_server.client.post("/predict", json=body()).status_code == 200


def test_body_limit(echo_backend: Path, tmp_path: Path) -> None:
    server = InProcess(echo_backend, tmp_path / "models", max_body_bytes=2000)
    resp = server.client.post("/predict", json=body(tasks=[{"data": {"text": "x" * 3000}}]))
    assert resp.status_code == 413 and resp.json()["error"] == "payload_too_large"
    assert server.client.post("/predict", json=body()).status_code == 200


def test_openapi_lists_every_endpoint(echo_server: InProcess) -> None:
    paths = echo_server.client.get("/openapi.json").json()["paths"]
    for path in ("/", "/health", "/setup", "/predict", "/webhook", "/versions", "/train",
                 "/is_training", "/job_status"):
        assert path in paths
    schema = paths["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "tasks" in schema["required"]
