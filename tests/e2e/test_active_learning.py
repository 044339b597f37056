"""Live active learning in a real Label Studio 1.23.2: after training, the project samples
the unlabeled task the served version is least sure of; new versions and new tasks follow."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from labelloop.cli.studio import LabelStudio
from labelloop.examples.corpus import as_tasks, sentiment_corpus
from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.settings import Settings
from labelloop.store.factory import open_stores
from labelloop.store.jobs import JobRecord, new_job_id
from labelloop.training.rescoring import rescore_job
from support.calls import predict
from support.data import EXAMPLE, TWO_LABEL_CONFIG, annotation_event
from support.servers import Deployment, make_backend
from support.waiting import settled, wait_until

CONFIG = TWO_LABEL_CONFIG
UNLABELED, ANNOTATED = 300, 200


def rescored(server: Any, project: int, after: float) -> dict[str, Any]:
    """Once nothing runs or waits: the re-scoring job, ended after ``after``, of the
    version that serves."""
    def of_the_served_version(job: dict[str, Any]) -> bool:
        served = server.client.post("/setup", json={"project": f"{project}.1",
                                                    "schema": CONFIG}).json()["model_version"]
        return (job["ended"] or 0) > after and bool(served.endswith(f"-{job['version']}"))

    return settled(server, str(project), "rescore", check=of_the_served_version, timeout=120)


def lowest_scored(ls: LabelStudioClient, project: int, model_version: str) -> tuple[float, int]:
    """(score, task id) of the unlabeled task whose current prediction is least sure."""
    scored = [(p["score"], t["id"]) for t in ls.tasks(project) if not t["annotations"]
              for p in t["predictions"] if p["model_version"] == model_version]
    return min(scored)


def test_next_task_follows_the_served_version(ls: LabelStudioClient, tmp_path: Path,
                                              deployment: Deployment) -> None:
    # Every new version serves (the test follows versions, not their judging).
    server = deployment.start(make_backend(tmp_path / "backend", EXAMPLE),
                              args=["--active-learning"],
                              env={"LABELLOOP_PROMOTE": "always", "LABELLOOP_RESCORE": "true"})
    pairs = sentiment_corpus(seed=21)
    truth = dict(pairs[:UNLABELED])
    project = ls.create_project(f"e2e active learning ({deployment.mode})", CONFIG)
    ls.import_tasks(project, [{"text": t} for t, _ in pairs[:UNLABELED]])
    ls.import_annotated(project, as_tasks(pairs[UNLABELED:UNLABELED + ANNOTATED]))
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


def test_label_studio_refusing_the_token_fails_the_rescoring(studio: LabelStudio,
                                                            tmp_path: Path,
                                                            deployment: Deployment) -> None:
    server = deployment.start(make_backend(tmp_path / "backend", EXAMPLE),
                              env={"LABEL_STUDIO_URL": studio.url, "LABEL_STUDIO_API_KEY":
                                   "0" * 40, "LABELLOOP_RESCORE": "true"})
    for i in range(1, 13):
        event = annotation_event(i, i, f"{'很好' if i % 2 else '很差'} {i}",
                                 "积极" if i % 2 else "消极")
        assert server.client.post("/webhook", json=event).status_code == 200
    job = settled(server, kind="rescore")
    assert job["state"] == "failed" and "Label Studio answered 401" in job["error"], job
    answer = predict(server, ["很好"])["results"][0]
    assert answer["model_version"].endswith(f"-{job['version']}")  # serving goes on


def test_a_due_training_job_cancels_the_rescoring(ls: LabelStudioClient, tmp_path: Path,
                                                  deployment: Deployment) -> None:
    """The job checks between pages; cancelled, it stores nothing. Run in this process, on
    the deployment's own stores, so the test decides when a training job "falls due"."""
    backend = make_backend(tmp_path / "backend", EXAMPLE)
    server = deployment.start(backend)  # re-scoring off: this test runs it
    pairs = sentiment_corpus(seed=22)
    project = ls.create_project(f"e2e stale re-scoring ({deployment.mode})", CONFIG)
    ls.import_tasks(project, [{"text": t} for t, _ in pairs[:250]])
    ls.import_annotated(project, as_tasks(pairs[250:300]))
    ml = ls.connect_backend(project, server.url)
    ls.call("POST", f"/api/ml/{ml['id']}/train")

    def trained() -> dict[str, Any] | None:
        latest = server.client.get("/is_training", params={"project": str(project)}).json()
        done = latest["latest"] and latest["latest"]["state"] == "finished"
        return dict(latest["latest"]) if done and not latest["is_training"] else None

    version = wait_until(trained, timeout=60)["version"]
    settings = Settings(backend_dir=backend, model_dir=deployment.model_dir,
                        redis_url=deployment.redis.url if deployment.redis else None,
                        rescore_page_size=100)
    stores = open_stores(settings)
    record = JobRecord(new_job_id(), str(project), "running", kind="rescore")
    asked: list[int] = []

    def due_after_two_pages() -> bool:
        asked.append(1)
        return len(asked) > 2

    job = rescore_job(settings, stores, record, due_after_two_pages, lambda _p, _m: None)
    assert job.outcome == "cancelled" and "a training job is due" in (job.error or ""), job
    model_version = f"SimpleTextClassifier-{version}"
    stored = [p for t in ls.tasks(project) for p in t["predictions"]
              if p["model_version"] == model_version]
    assert stored == [] and len(asked) == 3

    job = rescore_job(settings, stores, record, lambda: False, lambda _p, _m: None)
    assert job.outcome == "rescored" and job.metrics == {"tasks": 250}, job
    stored = [p for t in ls.tasks(project) for p in t["predictions"]
              if p["model_version"] == model_version]
    assert len(stored) == 250
