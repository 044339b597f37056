"""Live active learning in a real Label Studio 1.23.2: after training, the project samples
the unlabeled task the served version is least sure of; new versions and new tasks follow."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labelloop.cli.studio import LabelStudio
from labelloop.examples.corpus import as_tasks, sentiment_corpus
from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.settings import Settings
from labelloop.store.factory import open_stores
from labelloop.store.jobs import JobRecord, new_job_id
from labelloop.training.rescoring import rescore_job
from labelloop.training.task_pool import POOL_DIR, TaskPool
from support.calls import predict
from support.data import EXAMPLE, TWO_LABEL_CONFIG, annotation_event
from support.servers import Deployment, make_backend
from support.waiting import settled

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


def trained_project(ls: LabelStudioClient, server: Any, seed: int,
                    title: str) -> tuple[int, dict[str, Any], list[tuple[str, str]], str]:
    """A project of 250 unlabeled and 50 annotated tasks, connected and trained once:
    (project, its ML backend, the corpus pairs, the version served)."""
    pairs = sentiment_corpus(seed=seed)
    project = ls.create_project(title, CONFIG)
    ls.import_tasks(project, [{"text": t} for t, _ in pairs[:250]])
    ls.import_annotated(project, as_tasks(pairs[250:300]))
    ml = ls.connect_backend(project, server.url)
    ls.call("POST", f"/api/ml/{ml['id']}/train")
    return project, ml, pairs, settled(server, str(project))["version"]


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


def test_the_least_certain_go_first_and_a_due_training_job_stops_the_rest(
        ls: LabelStudioClient, tmp_path: Path, deployment: Deployment) -> None:
    """Run in this process, on the deployment's own stores, so the test decides when a
    training job "falls due". Listing is resumable; the least certain 20 go in first and
    the project switches to them at once; a due training job stops the rest; the next job
    of the same version stores only what is missing."""
    backend = make_backend(tmp_path / "backend", EXAMPLE)
    server = deployment.start(backend)  # re-scoring off: this test runs it
    project, _ml, _pairs, version = trained_project(
        ls, server, 22, f"e2e first batch ({deployment.mode})")
    model_version = f"SimpleTextClassifier-{version}"
    settings = Settings(backend_dir=backend, model_dir=deployment.model_dir,
                        redis_url=deployment.redis.url if deployment.redis else None,
                        rescore_page_size=100, rescore_first=20, rescore_batch=30,
                        active_learning=True)
    stores = open_stores(settings)
    record = JobRecord(new_job_id(), str(project), "running", kind="rescore")
    checks: list[int] = []

    def due_after(n: int) -> Callable[[], bool]:
        checks.clear()
        return lambda: checks.append(1) is None and len(checks) > n

    # Due while the pool is listed (a check before each page of 100): nothing is stored.
    job = rescore_job(settings, stores, record, due_after(2), lambda _p, _m: None)
    assert job.outcome == "cancelled" and "a training job is due" in (job.error or ""), job
    assert stored_of(ls, project, model_version) == {}
    # Due once the first batch is in: the listing resumes (one page), the 20 least certain
    # go in, the project switches, and the rest waits.
    job = rescore_job(settings, stores, record, due_after(1), lambda _p, _m: None)
    assert job.outcome == "cancelled" and job.metrics == {"tasks": 20}, job
    first = stored_of(ls, project, model_version)
    assert len(first) == 20
    assert ls.call("GET", f"/api/projects/{project}")["model_version"] == model_version
    # Label Studio serves the task this version is least sure of, of all 250.
    unlabeled = [t for t in ls.tasks(project) if not t["annotations"]]
    answer = server.client.post("/predict", json={
        "tasks": [{"id": t["id"], "data": t["data"]} for t in unlabeled],
        "project": f"{project}.1", "label_config": CONFIG}).json()["results"]
    own = {t["id"]: p["score"] for t, p in zip(unlabeled, answer, strict=True)}
    least_sure = min(own, key=own.__getitem__)
    assert ls.call("GET", f"/api/projects/{project}/next/")["id"] == least_sure
    assert least_sure in first
    # Label Studio holds the model's own confidence, as /predict gives it.
    assert all(abs(score - own[task]) < 1e-5 for task, score in first.items()), first

    job = rescore_job(settings, stores, record, lambda: False, lambda _p, _m: None)
    assert job.outcome == "rescored" and job.metrics == {"tasks": 230}, job
    assert len(stored_of(ls, project, model_version)) == 250


def stored_of(ls: LabelStudioClient, project: int, model_version: str) -> dict[int, float]:
    """Task id -> the score of its stored prediction of ``model_version``."""
    return {t["id"]: p["score"] for t in ls.tasks(project) for p in t["predictions"]
            if p["model_version"] == model_version}


def test_a_new_version_stores_its_least_certain_candidates_first(
        ls: LabelStudioClient, tmp_path: Path, deployment: Deployment,
        caplog: pytest.LogCaptureFixture) -> None:
    """With candidates (the last whole scoring's least certain, and tasks listed since),
    a new version scores only them before its first batch, switches, then scores the
    whole pool (the next candidates) and stores the rest."""
    backend = make_backend(tmp_path / "backend", EXAMPLE)
    server = deployment.start(backend, env={"LABELLOOP_PROMOTE": "always"})
    project, ml, pairs, first_version = trained_project(
        ls, server, 23, f"e2e candidates ({deployment.mode})")
    truth = dict(pairs[:250])
    settings = Settings(backend_dir=backend, model_dir=deployment.model_dir,
                        redis_url=deployment.redis.url if deployment.redis else None,
                        rescore_page_size=100, rescore_first=20, rescore_batch=100,
                        rescore_candidates=60, active_learning=True)
    stores = open_stores(settings)
    pool = TaskPool(deployment.model_dir / str(project) / POOL_DIR)

    def job(preempt: Callable[[], bool]) -> JobRecord:
        record = JobRecord(new_job_id(), str(project), "running", kind="rescore")
        return rescore_job(settings, stores, record, preempt, lambda _p, _m: None)

    assert job(lambda: False).outcome == "rescored"  # no candidates yet: the whole pool
    candidates = pool.candidates()
    assert candidates is not None and len(candidates.tasks) == 60 and candidates.pool == 250

    # Annotate 10 tasks, import 3 new ones (never scored: candidates too), train again.
    for task in ls.tasks(project)[:10]:
        ls.annotate(task["id"], [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                                  "value": {"choices": [truth[task["data"]["text"]]]}}])
    ls.call("POST", f"/api/projects/{project}/import",
            json=[{"text": "物流很快，很满意"}, {"text": "质量太差，退货"}, {"text": "一般吧"}])
    started = time.time()
    ls.call("POST", f"/api/ml/{ml['id']}/train")
    version = settled(server, str(project), check=lambda j: (j["ended"] or 0) > started)["version"]
    assert version != first_version
    model_version = f"SimpleTextClassifier-{version}"

    # A training job falls due at the first check after the first batch.
    checks: list[int] = []
    caplog.set_level(logging.INFO, "labelloop.training")
    cancelled = job(lambda: checks.append(1) is None and len(checks) > 1)
    assert cancelled.outcome == "cancelled" and cancelled.metrics == {"tasks": 20}, cancelled
    unlabeled = [t for t in ls.tasks(project) if not t["annotations"]]
    assert len(unlabeled) == 243
    eligible = [t for t in unlabeled if t["id"] in candidates]
    new_ids = {t["id"] for t in unlabeled[-3:]}
    assert new_ids <= {t["id"] for t in eligible} and len(eligible) < len(unlabeled)
    assert f"scored {len(eligible)} candidate tasks" in caplog.text
    # The 20 stored are the 20 least certain candidates, and Label Studio serves the least.
    answer = server.client.post("/predict", json={
        "tasks": [{"id": t["id"], "data": t["data"]} for t in eligible],
        "project": f"{project}.1", "label_config": CONFIG}).json()["results"]
    own = sorted((p["score"], t["id"]) for t, p in zip(eligible, answer, strict=True))
    first = stored_of(ls, project, model_version)
    assert set(first) == {task for _, task in own[:20]}
    assert ls.call("GET", f"/api/projects/{project}")["model_version"] == model_version
    assert ls.call("GET", f"/api/projects/{project}/next/")["id"] == own[0][1]
    # The whole pool was scored after the switch: the next version's candidates.
    refreshed = pool.candidates()
    assert refreshed is not None and refreshed.pool == 243 and refreshed.tasks != candidates.tasks

    finished = job(lambda: False)
    assert finished.outcome == "rescored" and finished.metrics == {"tasks": 223}, finished
    assert len(stored_of(ls, project, model_version)) == 243
