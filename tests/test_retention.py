"""Versions don't pile up: pruning keeps the served version, pinned ones, the newest ok
ones and recent failures, under any interleaving of prune, promotion and rollback."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any

from support.calls import predict, setup
from support.data import TEXT_CONFIG, annotation_event
from support.servers import Deployment, Server
from support.waiting import settled, wait_until

KEEP = 2


def folders(deployment: Deployment) -> set[str]:
    return {p.name for p in (deployment.model_dir / "1").iterdir() if p.name.isdigit()}


def served_version(server: Server) -> str:
    return setup(server).rsplit("-", 1)[1]


def test_a_stream_leaves_the_newest_versions_the_pinned_one_and_every_annotation(
        echo_backend: Path, deployment: Deployment) -> None:
    server = deployment.start(echo_backend, env={"LABELLOOP_KEEP_VERSIONS": str(KEEP)})
    server.client.post("/webhook", json=annotation_event(1, 1, "t1", "积极"))
    first = wait_until(lambda: (v := served_version(server)) != "untrained" and v)
    pinned = deployment.cli(echo_backend, "pin", "--project", "1", "--version", first)
    assert pinned.returncode == 0, pinned.stderr
    trained_on: dict[str, set[str]] = {}
    for i in range(2, 40):
        server.client.post("/webhook", json=annotation_event(i, i, f"t{i}", "消极"))
        for name in folders(deployment):  # note what each version trained on, while it exists
            data = deployment.model_dir / "1" / name / "train_data.json"
            if name not in trained_on and data.exists():
                trained_on[name] = {str(a["id"]) for t in json.loads(data.read_text())
                                    for a in t["annotations"]}
        time.sleep(0.15)
    settled(server)
    kept = folders(deployment)
    listed = server.client.get("/versions", params={"project": "1"}).json()["projects"]["1"]
    assert {v["version"] for v in listed} == kept  # /versions shows what is kept
    ok = sorted((v["version"] for v in listed if v["status"] == "ok"), key=int)
    served = served_version(server)
    assert first in kept and served in kept
    assert set(ok) <= {first, served, *ok[-KEEP:]}
    assert len(trained_on) > len(kept), "the stream made more versions than are kept"
    annotations = deployment.annotation_ids("1")
    for version, ids in trained_on.items():  # pruned or not: nothing lost from training
        assert ids <= annotations, version


def test_served_version_survives_prune_promotion_and_rollback_interleaved(
        echo_backend: Path, deployment: Deployment) -> None:
    server = deployment.start(echo_backend, env={"LABELLOOP_KEEP_VERSIONS": "1"})
    server.client.post("/webhook", json=annotation_event(1, 1, "t1", "积极"))
    wait_until(lambda: served_version(server) != "untrained")
    failures: list[Any] = []
    stop = threading.Event()

    def annotations() -> None:  # training jobs: each promotes, then prunes
        i = 2
        while not stop.is_set():
            server.client.post("/webhook", json=annotation_event(i, i, f"t{i}", "积极"))
            i += 1
            time.sleep(0.3)

    def rollbacks() -> None:  # a person switching back and forth, and pruning by hand
        rng = random.Random(7)
        while not stop.is_set():
            candidates = sorted(folders(deployment), key=int)
            if candidates:  # the oldest is the one pruning wants gone
                deployment.cli(echo_backend, "rollback", "--project", "1", "--version",
                               candidates[0] if rng.random() < 0.7 else rng.choice(candidates))
            if rng.random() < 0.5:  # keeping no ok version: only "served" protects one
                deployment.cli(echo_backend, "prune", "--project", "1",
                               env={"LABELLOOP_KEEP_VERSIONS": "0"})

    def watch() -> None:  # the served version always answers, and its folder is there
        while not stop.is_set():
            resp = server.client.post("/predict", json={
                "tasks": [{"data": {"text": "x"}}], "project": "1.1",
                "label_config": TEXT_CONFIG})
            if resp.status_code != 200:
                failures.append(resp.text)
            served = served_version(server)
            folder = deployment.model_dir / "1" / served
            if not (folder / "job_result.json").exists() and served_version(server) == served:
                failures.append(f"version {served} is served but its folder is gone")
            time.sleep(0.02)

    threads = [threading.Thread(target=f) for f in (annotations, rollbacks, rollbacks, watch)]
    for t in threads:
        t.start()
    time.sleep(20)
    stop.set()
    for t in threads:
        t.join(60)
    settled(server)
    assert not failures, failures[:3]
    served = served_version(server)
    result = json.loads((deployment.model_dir / "1" / served / "job_result.json").read_text())
    assert result["status"] == "ok"
    assert predict(server, ["x"])["results"][0]["model_version"] == f"EchoModel-{served}"
