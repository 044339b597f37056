"""The calls Label Studio makes to a backend, as the tests make them."""

from __future__ import annotations

from typing import Any

from support.data import TEXT_CONFIG
from support.servers import Server

UID = "1.1795555597"  # project 1, as Label Studio names it in /setup and /predict


def setup(server: Server, project: str = UID, config: str = TEXT_CONFIG) -> str:
    """POST /setup as Label Studio sends it; the model version the backend answers."""
    resp = server.client.post("/setup", json={"project": project, "schema": config,
                                              "hostname": "http://127.0.0.1:9", "access_token": "t",
                                              "extra_params": None})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["model_version"])


def predict(server: Server, texts: list[str], project: str = UID) -> dict[str, Any]:
    """POST /predict for one task per text."""
    tasks = [{"id": i, "data": {"text": t}} for i, t in enumerate(texts)]
    resp = server.client.post("/predict", json={"tasks": tasks, "project": project,
                                                "label_config": TEXT_CONFIG,
                                                "params": {"login": None, "password": None,
                                                           "context": None}})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())
