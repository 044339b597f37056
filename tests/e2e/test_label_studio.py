"""End to end: a real Label Studio 1.23.2 drives `labelloop init` + `labelloop start`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from labelloop.examples.corpus import as_tasks, sentiment_corpus
from labelloop.sdk.label_studio import LabelStudioClient
from support.data import EXAMPLE, MODELS
from support.servers import Deployment, Server, make_backend
from support.waiting import wait_until

from .conftest import validate_with_label_studio

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
          '<Choice value="积极"/><Choice value="消极"/><Choice value="中性"/></Choices></View>')
HELD_OUT = 200
ANNOTATED = 1000


def choice(text: str, label: str) -> list[dict[str, Any]]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices",
             "value": {"choices": [label]}}]


def studio_token(ls: LabelStudioClient) -> str:
    return ls.api_key


def current_version(ls: LabelStudioClient, ml_id: int) -> str:
    return str(ls.ml(ml_id)["model_version"])


def predictions_of(ls: LabelStudioClient, project: int, version: str) -> dict[int, dict[str, Any]]:
    out = {}
    for task in ls.tasks(project):
        mine = [p for p in task["predictions"] if p["model_version"] == version]
        if mine:
            assert len(mine) == 1, f"duplicate predictions for task {task['id']}"
            out[task["id"]] = mine[0]
    return out


def test_the_whole_loop(ls: LabelStudioClient, ls_venv: Path, tmp_path: Path,
                        deployment: Deployment) -> None:
    """Local mode, and Redis mode with one `labelloop worker`."""
    started = time.monotonic()
    text_server = deployment.start(make_backend(tmp_path / "backend", EXAMPLE))
    pairs = sentiment_corpus(seed=11)
    truth = dict(pairs[:HELD_OUT + ANNOTATED])
    project = ls.create_project(f"e2e 情感 ({deployment.mode})", CONFIG)
    ls.import_tasks(project, [{"text": t} for t, _ in pairs[:HELD_OUT]])
    ls.import_annotated(project, as_tasks(pairs[HELD_OUT:HELD_OUT + ANNOTATED]))

    # The SDK's client reads the project back with the same kind of token /setup hands us.
    with LabelStudioClient(ls.url, studio_token(ls)) as sdk_client:
        raw = sdk_client.fetch(f"/api/projects/{project}")
    assert json.loads(raw)["title"] == f"e2e 情感 ({deployment.mode})"

    ml = ls.connect_backend(project, text_server.url)
    assert ml["state"] == "CO" and ml["model_version"] == "SimpleTextClassifier-untrained"

    # Retrieve Predictions: one /predict for all tasks. The untrained model has nothing to
    # suggest, which is no prediction: Label Studio stores none (issue 19; the trained
    # version's predictions are stored below).
    held_out = [t["id"] for t in ls.tasks(project) if not t["annotations"]]
    assert len(held_out) == HELD_OUT
    assert ls.retrieve_predictions(project, held_out)["processed_items"] == HELD_OUT
    assert predictions_of(ls, project, ml["model_version"]) == {}

    # Annotations made in Label Studio reach the backend through the automatic webhook.
    by_id = {t["id"]: t for t in ls.tasks(project)}
    made = [ls.annotate(tid, choice(by_id[tid]["data"]["text"],
                                    truth[by_id[tid]["data"]["text"]]))["id"]
            for tid in held_out[:4]]
    wait_until(lambda: {str(a) for a in made} <= deployment.annotation_ids(str(project)),
               timeout=10)

    # "Train" in Label Studio: START_TRAINING, the backend fetches every annotation itself.
    ls.call("POST", f"/api/ml/{ml['id']}/train")

    def trained_on_export() -> str | None:
        version = current_version(ls, ml["id"])
        folder = text_server.model_dir / str(project) / version.rsplit("-", 1)[1]
        info = folder / "train_data_info.json"
        ok = info.exists() and json.loads(info.read_text())["count"] >= ANNOTATED
        return version if ok else None

    version = wait_until(trained_on_export, timeout=120, interval=0.5)
    assert version != ml["model_version"]

    rest = held_out[4:]
    ls.retrieve_predictions(project, rest)
    fresh = predictions_of(ls, project, version)
    assert set(rest) <= set(fresh)
    right = sum(fresh[t]["result"][0]["value"]["choices"][0] == truth[by_id[t]["data"]["text"]]
                for t in rest)
    accuracy = right / len(rest)
    assert accuracy > 0.6, accuracy  # two classes: chance is 0.5
    assert not validate_with_label_studio(ls_venv, CONFIG, [fresh[t] for t in rest[:20]])

    # Opening a task that has no prediction yet makes Label Studio ask for one.
    new_task = ls.call("POST", f"/api/projects/{project}/import", json=[{"text": "非常满意"}])
    assert new_task["task_count"] == 1
    newest = max(t["id"] for t in ls.tasks(project))
    opened = ls.call("GET", f"/api/tasks/{newest}")
    assert [p["model_version"] for p in opened["predictions"]] == [version]

    # The model-version dropdown lists our versions, and so does the project's listing.
    listed = ls.call("GET", f"/api/ml/{ml['id']}/versions")["versions"]
    assert version in listed and listed[0] == version
    known = ls.call("GET", f"/api/projects/{project}/model-versions/",
                    params={"extended": "true", "include_live_models": "true"})
    assert version in {v["model_version"] for v in known["static"]}
    assert known["live"][0]["model_version"] == version
    print(f"\ne2e loop ({deployment.mode}): accuracy {accuracy:.3f} on {len(rest)} tasks, "
          f"{time.monotonic() - started:.1f}s")


def test_basic_auth_with_unauthenticated_event_webhooks(
        ls: LabelStudioClient, tmp_path: Path, start_server: Callable[..., Server]) -> None:
    server = start_server(make_backend(tmp_path / "auth_backend", EXAMPLE),
                          args=["--basic-auth-user", "ls", "--basic-auth-pass", "pw"])
    assert httpx.get(f"{server.url}/health").status_code == 401
    project = ls.create_project("e2e auth", CONFIG)
    ls.import_tasks(project, [{"text": t} for t in ("真好", "太差", "很好", "很差")])
    ml = ls.connect_backend(project, server.url, auth_method="BASIC_AUTH",
                            basic_auth_user="ls", basic_auth_pass="pw")
    assert ml["state"] == "CO", ml
    tasks = ls.tasks(project)
    for task, label in zip(tasks, ["积极", "消极", "积极", "消极"], strict=True):
        ls.annotate(task["id"], choice(task["data"]["text"], label))
    # Event webhooks carry no auth, yet they train; /setup (with auth) reports the version.
    wait_until(lambda: current_version(ls, ml["id"]) != "SimpleTextClassifier-untrained",
               timeout=60, interval=0.5)
    ls.retrieve_predictions(project)
    assert all(t["predictions"] for t in ls.tasks(project))


def test_ner_and_boxes_pass_label_studio_validation(
        ls: LabelStudioClient, ls_venv: Path, tmp_path: Path,
        start_server: Callable[..., Server]) -> None:
    server = start_server(make_backend(tmp_path / "echo", MODELS / "echo_model.py"))
    configs = {
        "text": ('<View><Labels name="label" toName="text"><Label value="PER"/>'
                 '<Label value="ORG"/></Labels><Text name="text" value="$text"/></View>'),
        "image": ('<View><Image name="image" value="$image"/><RectangleLabels name="label" '
                  'toName="image"><Label value="Car"/></RectangleLabels></View>'),
    }
    for key, config in configs.items():
        project = ls.create_project(f"e2e {key}", config)
        ls.import_tasks(project, [{key: "Alice works at ACME"}])
        ls.connect_backend(project, server.url)
        ls.retrieve_predictions(project)
        [task] = ls.tasks(project)
        assert len(task["predictions"]) == 1, task
        assert not validate_with_label_studio(ls_venv, config, task["predictions"])


def test_training_with_a_personal_access_token(
        ls: LabelStudioClient, tmp_path: Path, start_server: Callable[..., Server],
        pat: str) -> None:
    """LABEL_STUDIO_API_KEY may be a personal access token (a JWT), LS 1.23's default kind."""
    project = ls.create_project("e2e PAT", CONFIG)
    annotated = as_tasks(sentiment_corpus(seed=5)[:60])
    ls.import_annotated(project, annotated)
    url = ls.url
    with LabelStudioClient(url, pat) as by_pat:
        assert len(by_pat.annotated_tasks(project)) == len(annotated)

    # The key configured on the backend wins over the legacy token /setup hands it, so
    # the imported annotations (no webhook ever carried them) can only come through the PAT.
    server = start_server(make_backend(tmp_path / "pat_backend", EXAMPLE),
                          env={"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": pat})
    ml = ls.connect_backend(project, server.url)
    ls.call("POST", f"/api/ml/{ml['id']}/train")

    def finished() -> dict[str, Any] | None:
        job = server.client.get("/is_training", params={"project": str(project)}).json()
        latest = job["latest"]
        return latest if latest and latest["state"] in ("finished", "failed") else None

    job = wait_until(finished, timeout=60, interval=0.5)
    assert job["state"] == "finished" and job["source"] == "label_studio", job
    info = server.model_dir / str(project) / str(job["version"]) / "train_data_info.json"
    assert json.loads(info.read_text()) == {"count": len(annotated)}
