"""Basic auth everywhere but /webhook; /webhook takes the shared secret or the basic auth."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from support.data import TEXT_CONFIG, annotation_event, ls_requests
from support.servers import Server
from support.waiting import wait_until

ARGS = ["--basic-auth-user", "ls", "--basic-auth-pass", "secret"]


def test_basic_auth_as_label_studio_sends_it(echo_backend: Path,
                                            start_server: Callable[..., Server]) -> None:
    server = start_server(echo_backend, args=ARGS)
    recorded = [r for r in ls_requests() if r["auth"]]
    assert recorded and recorded[0]["auth"] == "Basic bHM6c2VjcmV0"  # ls:secret
    for req in recorded:
        ok = server.client.request(req["method"], req["path"], json=req["body"],
                                   headers={"Authorization": req["auth"]})
        assert ok.status_code == 200, ok.text
    for path in ("/", "/health", "/versions"):
        denied = server.client.get(path)
        assert denied.status_code == 401 and denied.json()["error"] == "unauthorized"
        assert denied.headers["www-authenticate"].startswith("Basic")
    wrong = httpx.BasicAuth("ls", "wrong")
    assert server.client.get("/health", auth=wrong).status_code == 401
    assert server.client.post("/setup", json={}, auth=wrong).status_code == 401


def test_event_webhooks_need_no_auth_and_still_train(echo_backend: Path,
                                                     start_server: Callable[..., Server]) -> None:
    server = start_server(echo_backend, args=ARGS)
    resp = server.client.post("/webhook", json=annotation_event(1, 1, "好", "积极"))
    assert resp.status_code == 200 and resp.json()["training"] is True
    auth = httpx.BasicAuth("ls", "secret")

    def trained() -> bool:
        r = server.client.post("/setup", json={"project": "1.5", "schema": TEXT_CONFIG}, auth=auth)
        return r.json()["model_version"] != "EchoModel-untrained"

    wait_until(trained, timeout=30)


def test_webhook_secret(echo_backend: Path, start_server: Callable[..., Server]) -> None:
    server = start_server(echo_backend, args=[*ARGS, "--webhook-secret", "s3cret"])
    event = {"action": "TASKS_CREATED", "project": {"id": 1}}
    assert server.client.post("/webhook", json=event).status_code == 401
    assert server.client.post("/webhook?secret=nope", json=event).status_code == 401
    assert server.client.post("/webhook?secret=s3cret", json=event).status_code == 200
    assert server.client.post("/webhook", json=event,
                              headers={"X-Labelloop-Secret": "s3cret"}).status_code == 200
    # START_TRAINING comes from Label Studio's ML client: basic auth, no secret.
    assert server.client.post("/webhook", json=event,
                              auth=httpx.BasicAuth("ls", "secret")).status_code == 200
