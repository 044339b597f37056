"""A bounded load-and-fault run, in both modes.

8 clients send predictions and annotation webhooks for LABELLOOP_LOAD_SECONDS (60 s by
default) while training processes are SIGKILLed at random and, in Redis mode, Redis is
restarted once. Then: zero 5xx on /predict, every acknowledged annotation in the next
training set, every version folder complete-and-ok or marked failed.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from support.calls import setup
from support.data import TEXT_CONFIG, annotation_event
from support.servers import Deployment, local_runners
from support.waiting import wait_until

SECONDS = float(os.environ.get("LABELLOOP_LOAD_SECONDS", "60"))
CLIENTS = 8


def training_processes(dep: Deployment) -> list[psutil.Process]:
    """Runner / work-horse processes and their fit children (never the server)."""
    try:
        return _training_processes(dep)
    except psutil.Error:  # one exited while we looked: try again next round
        return []


def _training_processes(dep: Deployment) -> list[psutil.Process]:
    roots = [psutil.Process(w.pid) for w in dep.workers if w.poll() is None]
    if not dep.workers:
        return [q for r in local_runners(dep.model_dir) for q in [r, *r.children(recursive=True)]]
    return [q for r in roots for q in r.children(recursive=True)]  # horses and fits


class Load:
    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.statuses: dict[str, Counter[int]] = {"predict": Counter(), "webhook": Counter()}
        self.acked: set[int] = set()
        self.ids = itertools.count(1000)
        self.lock = threading.Lock()

    def client(self, seed: int) -> None:
        rnd = random.Random(seed)
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stop.is_set():
                if rnd.random() < 0.5:
                    tasks = [{"id": i, "data": {"text": f"t{i}"}} for i in range(rnd.randint(1, 5))]
                    status = http.post("/predict", json={
                        "tasks": tasks, "project": "1.1795555597",
                        "label_config": TEXT_CONFIG}).status_code
                    self.record("predict", status)
                else:
                    with self.lock:
                        ann = next(self.ids)
                    event = annotation_event(ann, ann, f"text {ann}", rnd.choice(["积极", "消极"]))
                    status = http.post("/webhook", json=event).status_code
                    self.record("webhook", status, ann if status == 200 else None)

    def record(self, kind: str, status: int, acked: int | None = None) -> None:
        with self.lock:
            self.statuses[kind][status] += 1
            if acked is not None:
                self.acked.add(acked)


def inject_faults(dep: Deployment, load: Load, faults: Counter[str], backend: Path) -> None:
    rnd = random.Random(7)
    restart_at = time.monotonic() + SECONDS / 2
    while not load.stop.wait(rnd.uniform(1.0, 3.0)):
        if dep.redis and restart_at and time.monotonic() > restart_at:
            dep.redis.stop()
            time.sleep(2)
            dep.redis.start()
            faults["redis restarts"] += 1
            restart_at = 0
            continue
        victims = training_processes(dep)
        if victims:
            victim = rnd.choice(victims)
            try:
                victim.send_signal(signal.SIGKILL)
                faults["training processes killed"] += 1
            except psutil.NoSuchProcess:
                pass


@pytest.mark.timeout(SECONDS * 2 + 360)
def test_load_with_faults_loses_nothing(echo_backend: Path, deployment: Deployment,
                                        tmp_path: Path) -> None:
    control = tmp_path / "control"
    control.mkdir()
    (control / "fit_sleep").write_text("0.5")  # long enough for kills to land mid-fit
    server = deployment.start(echo_backend, env={"ECHO_CONTROL": str(control)})
    setup(server)
    load, faults = Load(server.url), Counter[str]()
    threads = [threading.Thread(target=load.client, args=(i,)) for i in range(CLIENTS)]
    threads.append(threading.Thread(target=inject_faults,
                                    args=(deployment, load, faults, echo_backend)))
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    load.stop.set()
    for t in threads:
        t.join(60)

    # One more annotation after the storm; the version that includes it must hold them all.
    final = annotation_event(1, 1, "final", "积极")
    assert server.client.post("/webhook", json=final).status_code == 200
    load.acked.add(1)
    project_dir = deployment.model_dir / "1"

    def trained_on_final() -> dict[str, Any] | None:
        """The newest version trained with the final annotation: promoted or not (judging
        may reject it), its training set is what must hold every acknowledged one."""
        for folder in sorted(project_dir.iterdir(), key=lambda p: p.name, reverse=True):
            result = folder / "job_result.json"
            if folder.name.isdigit() and result.exists() and json.loads(
                    result.read_text())["status"] in ("ok", "rejected"):
                tasks = json.loads((folder / "train_data.json").read_text())
                ids = {a["id"] for t in tasks for a in t["annotations"]}
                if 1 in ids:
                    return {"ids": ids, "version": folder.name}
        return None

    newest = wait_until(trained_on_final, timeout=240, interval=0.5)  # a busy machine
    wait_until(lambda: not server.client.get("/is_training", params={"project": "1"}).json()[
        "is_training"], timeout=60)
    lost = load.acked - newest["ids"]
    folders = [p for p in project_dir.iterdir() if p.name.isdigit()]
    states = Counter(json.loads((p / "job_result.json").read_text())["status"]
                     if (p / "job_result.json").exists() else "incomplete" for p in folders)
    print(f"\n[{deployment.mode}] {SECONDS:.0f}s, {CLIENTS} clients: "
          f"predict {dict(load.statuses['predict'])}, webhook {dict(load.statuses['webhook'])}, "
          f"faults {dict(faults)}, versions {dict(states)}, "
          f"annotations acknowledged {len(load.acked)}, lost {len(lost)}")
    assert not [s for s in load.statuses["predict"] if s >= 500]
    assert sum(load.statuses["predict"].values()) > 100 and len(load.acked) > 100
    assert faults["training processes killed"] >= 3
    assert deployment.mode == "local" or faults["redis restarts"] == 1
    assert not lost
    # The final job ran under the project lock and swept abandoned folders.
    assert set(states) <= {"ok", "rejected", "error"}, states
    for p in folders:
        result = json.loads((p / "job_result.json").read_text())
        assert result["status"] == "error" or (p / "model.json").exists()
