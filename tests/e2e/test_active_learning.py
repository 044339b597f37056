"""Live active learning in a real Label Studio 1.23.2: after training, the project samples
the unlabeled task the served version is least sure of; new versions and new tasks follow."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from conftest import EXAMPLE, Deployment, make_backend, wait_until
from labelloop.cli.studio import StudioClient
from labelloop.examples.corpus import as_tasks, sentiment_corpus

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
          '<Choice value="积极"/><Choice value="消极"/></Choices></View>')
UNLABELED, ANNOTATED = 300, 200


def rescored(server: Any, project: int, after: float) -> dict[str, Any]:
    """Once nothing runs or waits: the re-scoring job, ended after ``after``, of the
    version that serves."""
    def done() -> dict[str, Any] | None:
        answer = server.client.get("/is_training", params={"project": str(project)}).json()
        latest = answer["rescoring"]["latest"]
        busy = answer["is_training"] or answer["rescoring"]["queued"]
        if busy or not latest or latest["state"] not in ("finished", "failed"):
            return None
        served = server.client.post("/setup", json={"project": f"{project}.1",
                                                    "schema": CONFIG}).json()["model_version"]
        if (latest["ended"] or 0) > after and served.endswith(f"-{latest['version']}"):
            return dict(latest)
        return None

    return dict(wait_until(done, timeout=120, interval=0.5))


def lowest_scored(ls: StudioClient, project: int, model_version: str) -> tuple[float, int]:
    """(score, task id) of the unlabeled task whose current prediction is least sure."""
    scored = [(p["score"], t["id"]) for t in ls.tasks(project) if not t["annotations"]
              for p in t["predictions"] if p["model_version"] == model_version]
    return min(scored)


def test_next_task_follows_the_served_version(ls: StudioClient, tmp_path: Path,
                                              deployment: Deployment) -> None:
    # Every new version serves (the test follows versions, not their judging).
    server = deployment.start(make_backend(tmp_path / "backend", EXAMPLE),
                              args=["--active-learning"],
                              env={"LABELLOOP_PROMOTE": "always", "LABELLOOP_RESCORE": "true"})
    pairs = sentiment_corpus(seed=21)
    truth = dict(pairs[:UNLABELED])
    project = ls.create_project(f"e2e active learning ({deployment.mode})", CONFIG)
    ls.import_tasks(project, [{"text": t} for t, _ in pairs[:UNLABELED]])
    ls.import_tasks(project, [{"data": t["data"], "annotations": [
        {"result": t["annotations"][0]["result"]}]} for t in as_tasks(
            pairs[UNLABELED:UNLABELED + ANNOTATED])])
    ml = ls.connect_backend(project, server.url)
    assert ls.call("GET", f"/api/projects/{project}")["sampling"] != "Uncertainty sampling"

    started = time.time()
    ls.call("POST", f"/api/ml/{ml['id']}/train")
    job = rescored(server, project, started)
    assert job["outcome"] == "rescored" and job["metrics"]["tasks"] == UNLABELED, job
    settings = ls.call("GET", f"/api/projects/{project}")
    first = f"SimpleTextClassifier-{job['version']}"
    assert settings["model_version"] == first
    assert settings["sampling"] == "Uncertainty sampling"
    score, lowest = lowest_scored(ls, project, first)
    nxt = ls.call("GET", f"/api/projects/{project}/next/")
    assert nxt["id"] == lowest, (nxt["id"], lowest, score)

    # Annotate what the model asks about; a new version takes over the order.
    for _ in range(6):
        task = ls.call("GET", f"/api/projects/{project}/next/")
        ls.annotate(task["id"], [{"from_name": "sentiment", "to_name": "text",
                                  "type": "choices",
                                  "value": {"choices": [truth[task["data"]["text"]]]}}])
    started = time.time()
    ls.call("POST", f"/api/ml/{ml['id']}/train")
    job = rescored(server, project, started)
    second = f"SimpleTextClassifier-{job['version']}"
    assert second != first and job["outcome"] == "rescored"
    assert ls.call("GET", f"/api/projects/{project}")["model_version"] == second
    score, lowest = lowest_scored(ls, project, second)
    assert ls.call("GET", f"/api/projects/{project}/next/")["id"] == lowest

    # Tasks imported later are scored by the served version too.
    started = time.time()
    ls.call("POST", f"/api/projects/{project}/import", json=[{"text": "物流很快，很满意"},
                                                             {"text": "质量太差，退货"}])
    assert rescored(server, project, started)["metrics"]["tasks"] == 2
    newest = sorted(ls.tasks(project), key=lambda t: t["id"])[-2:]
    assert all([p["model_version"] for p in t["predictions"]] == [second] for t in newest)
