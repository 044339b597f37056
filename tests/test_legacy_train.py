"""The old ``POST /train`` (Label Studio 0.8/0.9) never loses annotations: an empty one is
refused as Label Studio 0.9 refused it, a non-empty one adds and updates, and neither
removes what webhooks delivered. Real ``labelloop start`` processes over real HTTP."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import httpx

from support.data import TEXT_CONFIG, annotation_event
from support.servers import Deployment, Server

PROJECT = "1"  # webhooks key the project by Label Studio's id


def old_task(ann_id: int, label: str = "积极") -> dict[str, Any]:
    """One task as Label Studio 0.9 exported it: annotations under "completions"."""
    return {"id": ann_id, "data": {"text": f"text {ann_id}"}, "completions": [
        {"id": ann_id, "result": [{"from_name": "sentiment", "to_name": "text",
                                   "type": "choices", "value": {"choices": [label]}}]}]}


def old_train(server: Server, tasks: list[dict[str, Any]],
              project: str | None = PROJECT) -> Any:
    body: dict[str, Any] = {"completions": tasks, "label_config": TEXT_CONFIG,
                            "params": {"login": None, "password": None}}
    if project is not None:
        body["project"] = project
    return server.client.post("/train", json=body)


def test_empty_old_train_is_refused_and_changes_nothing(echo_backend: Path,
                                                        deployment: Deployment) -> None:
    server = deployment.start(echo_backend)
    for i in (1, 2):
        assert server.client.post("/webhook", json=annotation_event(
            i, i, f"t{i}", "积极")).status_code == 200
    resp = old_train(server, [])
    assert resp.status_code == 400, resp.text
    assert resp.json()["message"] == "No completions found."
    assert resp.json()["field"] == "completions"
    empty_new = server.client.post("/train", json={"annotations": [], "project": PROJECT})
    assert empty_new.status_code == 400 and empty_new.json()["field"] == "annotations"
    assert deployment.annotation_ids(PROJECT) == {"1", "2"}
    state = server.client.get("/is_training", params={"project": PROJECT}).json()
    jobs = [j for j in (state["latest"], state["queued"]) if j]
    assert all(j["source"] != "train_request" for j in jobs), jobs  # no job was asked for


def test_old_train_adds_and_updates_and_keeps_the_rest(echo_backend: Path,
                                                       deployment: Deployment) -> None:
    server = deployment.start(echo_backend)
    for i in (1, 2, 3):
        server.client.post("/webhook", json=annotation_event(i, i, f"t{i}", "积极"))
    resp = old_train(server, [old_task(2, "消极"), old_task(7)])
    assert resp.status_code == 201, resp.text
    assert resp.json()["job"] and resp.json()["annotations"] == 2
    assert deployment.annotation_ids(PROJECT) == {"1", "2", "3", "7"}


def test_project_is_optional_on_train_and_is_training(echo_backend: Path,
                                                      deployment: Deployment) -> None:
    """The same default as /predict: LABELLOOP_DEFAULT_PROJECT."""
    server = deployment.start(echo_backend, env={"LABELLOOP_DEFAULT_PROJECT": "porting"})
    resp = old_train(server, [old_task(5)], project=None)
    assert resp.status_code == 201, resp.text
    assert deployment.annotation_ids("porting") == {"5"}
    answer = server.client.get("/is_training")
    assert answer.status_code == 200, answer.text
    latest = answer.json()["latest"]
    queued = answer.json()["queued"]
    assert (latest or queued)["project"] == "porting"
    predicted = server.client.post("/predict", json={
        "tasks": [{"data": {"text": "x"}}], "label_config": TEXT_CONFIG})
    assert predicted.status_code == 200, predicted.text


def test_webhook_stream_and_old_train_bodies_lose_nothing(echo_backend: Path,
                                                          deployment: Deployment) -> None:
    """1,000 ANNOTATION_CREATED webhooks while old /train bodies (empty, partial, full)
    arrive from another client: at the end every annotation is in the training set."""
    server = deployment.start(echo_backend)
    total = 1000
    sent: list[int] = []  # annotation ids the webhooks delivered so far
    done = threading.Event()
    named: set[int] = set()  # annotation ids old /train bodies carried
    answers: list[tuple[str, int]] = []
    rng = random.Random(19)

    def old_trainer() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            kinds = ["empty", "partial", "full"]
            while not done.is_set() or len(answers) < 3:
                kind = kinds[len(answers) % 3]
                known = list(sent)
                ids = {"empty": [], "full": known,
                       "partial": rng.sample(known, min(len(known), 25))}[kind]
                # An old body may also hold annotations the webhooks never delivered.
                extra = [total + 1 + len(answers)] if kind != "empty" else []
                body = {"completions": [old_task(i) for i in ids + extra],
                        "project": PROJECT, "label_config": TEXT_CONFIG}
                resp = c.post("/train", json=body)
                answers.append((kind, resp.status_code))
                if resp.status_code == 201:
                    named.update(ids + extra)

    trainer = threading.Thread(target=old_trainer)
    trainer.start()
    try:
        for i in range(1, total + 1):
            resp = server.client.post("/webhook", json=annotation_event(
                i, i, f"text {i}", "积极" if i % 2 else "消极"))
            assert resp.status_code == 200, resp.text
            sent.append(i)
    finally:
        done.set()
        trainer.join(120)
    kinds = {kind for kind, _ in answers}
    assert kinds == {"empty", "partial", "full"}, answers
    assert all(status == (400 if kind == "empty" else 201) for kind, status in answers)
    expected = {str(i) for i in range(1, total + 1)} | {str(i) for i in named}
    assert deployment.annotation_ids(PROJECT) == expected
