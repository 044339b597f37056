"""Driving training jobs in tests: the first version, a slow job, and the processes that
run them (to kill or to watch)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import psutil

from support.calls import setup
from support.data import annotation_event
from support.servers import Deployment, Server, local_runners
from support.waiting import wait_until


def supervisor(deployment: Deployment) -> psutil.Process:
    """The process that runs training: the local runner, or the RQ worker."""
    if deployment.workers:
        return psutil.Process(deployment.workers[0].pid)
    roots = local_runners(deployment.model_dir)
    if len(roots) != 1:
        raise LookupError(f"expected one runner, found {len(roots)}")
    return roots[0]


def fit_process(root: psutil.Process, deployment: Deployment) -> psutil.Process | None:
    """The process running fit(), once it runs: the supervisor's child in local mode; in
    Redis mode the child of the RQ work-horse, whose RQ worker `labelloop worker` runs
    (the RQ worker also runs a scheduler process, at the horse's depth)."""
    depth = 3 if deployment.workers else 1
    base = len(root.parents())
    found = [p for p in root.children(recursive=True) if len(p.parents()) - base == depth]
    return found[0] if found else None


def train_first_version(server: Server) -> str:
    untrained = setup(server)
    answer = server.client.post("/webhook", json=annotation_event(1, 1, "好", "积极"))
    assert answer.status_code == 200, answer.text
    return str(wait_until(lambda: (v := setup(server)) != untrained and v, timeout=30))


def start_slow_job(server: Server, control: Path, project_dir: Path, known: set[str]) -> Path:
    (control / "fit_sleep").write_text("120")
    server.client.post("/webhook", json=annotation_event(2, 2, "差", "消极"))
    return Path(wait_until(lambda: next(
        (p for p in project_dir.iterdir() if p.name.isdigit() and p.name not in known), None),
        timeout=30))




@dataclass
class FitUnderWay:
    """A first version serves; a second job's fit runs (it sleeps 120 s)."""

    v1: str  # the model version that serves
    folder: Path  # the running job's version folder
    root: psutil.Process  # the process that supervises the fit


def fit_under_way(server: Server, deployment: Deployment, control: Path) -> FitUnderWay:
    v1 = train_first_version(server)
    folder = start_slow_job(server, control, deployment.model_dir / "1",
                            {v1.rsplit("-", 1)[1]})
    root = supervisor(deployment)
    wait_until(lambda: fit_process(root, deployment), timeout=10)
    return FitUnderWay(v1, folder, root)


def next_job_sweeps(server: Server, v1: str, folder: Path) -> None:
    """The next annotation trains a new version, and that job marks the abandoned folder
    failed (it holds the project's lock, so nothing else can be writing it)."""
    server.client.post("/webhook", json=annotation_event(3, 3, "很好", "积极"))
    wait_until(lambda: setup(server) not in (v1, f"EchoModel-{folder.name}"), timeout=30)
    swept = json.loads((folder / "job_result.json").read_text())
    assert swept["status"] == "error" and swept["error"].startswith("abandoned")
