"""Versions in object storage: Redis mode with ``LABELLOOP_STORAGE=s3://...`` against a real
S3 API (moto's standalone server over HTTP), every server and worker in its own empty
folder, Redis and the bucket the only shared stores."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from support.buckets import BucketDeployment, MotoServer
from support.calls import predict, setup
from support.data import annotation_event
from support.servers import RedisServer
from support.waiting import settled, wait_until

pytestmark = pytest.mark.redis


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path / "moto")
    yield server
    server.stop()


@pytest.fixture
def bucket_mode(tmp_path: Path, redis_server: RedisServer,
                moto: MotoServer) -> Iterator[BucketDeployment]:
    dep = BucketDeployment(tmp_path, redis_server, moto)
    yield dep
    dep.stop()


@pytest.fixture
def control(tmp_path: Path) -> Path:
    folder = tmp_path / "control"
    folder.mkdir()
    return folder


def served(server: object) -> str:
    return setup(server)  # type: ignore[arg-type]


def test_a_version_trained_by_a_worker_serves_from_the_bucket(
        echo_backend: Path, bucket_mode: BucketDeployment, control: Path) -> None:
    (control / "load_files").write_text("1")
    env = {"ECHO_CONTROL": str(control)}
    a, b = bucket_mode.start(echo_backend, env=env), bucket_mode.start(echo_backend, env=env)
    health = a.client.get("/health").json()
    assert health["mode"] == "redis" and health["storage"] == "ok"
    untrained = served(a)
    a.client.post("/webhook", json=annotation_event(1, 1, "好", "积极"))
    job = settled(a, check=lambda j: j["state"] == "finished")
    version = str(job["version"])
    keys = bucket_mode.version_keys("1", version)
    assert {"job_result.json", "model.json", "train_data.json"} <= set(keys)
    new = f"EchoModel-{version}"
    wait_until(lambda: served(a) == new and served(b) == new, timeout=2, interval=0.02)
    assert new != untrained
    # b never saw the worker's folder: it loaded the version from the bucket into its cache
    answer = predict(b, ["x"])["results"][0]
    assert answer["model_version"] == new and answer["result"][0]["value"]["choices"] == ["积极"]
    cached = b.model_dir / ".cache" / "1" / version
    assert json.loads((cached / "model.json").read_text()) == {"积极": 1}
    assert not (b.model_dir / "1").exists()  # nothing of the version outside the cache


def versions_in_bucket(dep: BucketDeployment, project: str = "1") -> set[str]:
    base = f"{dep.prefix}/{project}/"
    return {k[len(base):].split("/", 1)[0] for k in dep.moto.keys(base)} - {".current"}


def train(server: object, ann: int, label: str) -> str:
    """A new version trained on one more annotation; its name."""
    before = server.client.get("/is_training",  # type: ignore[attr-defined]
                               params={"project": "1"}).json()["latest"]
    server.client.post("/webhook",  # type: ignore[attr-defined]
                       json=annotation_event(ann, ann, f"t{ann}", label))
    job = settled(server, besides=before["job_id"] if before else None,
                  check=lambda j: j["state"] == "finished")
    return str(job["version"])


def test_versions_pin_prune_rollback_promote_and_the_cli_work_on_a_bucket(
        echo_backend: Path, bucket_mode: BucketDeployment, tmp_path: Path) -> None:
    env = {"LABELLOOP_KEEP_VERSIONS": "1", "LABELLOOP_CACHE_MAX_MB": "0"}
    a, b = bucket_mode.start(echo_backend, env=env), bucket_mode.start(echo_backend, env=env)
    served(a)
    v1 = train(a, 1, "积极")
    assert bucket_mode.cli(echo_backend, "pin", "--project", "1", "--version", v1).returncode == 0
    v2 = train(a, 2, "消极")
    v3 = train(a, 3, "消极")
    # Retention after each job (once its record is written): v2, neither served, pinned nor
    # the newest ok, goes
    wait_until(lambda: versions_in_bucket(bucket_mode) == {v1, v3}, timeout=10)
    listing = bucket_mode.cli(echo_backend, "versions", "--project", "1")
    assert listing.returncode == 0, listing.stderr
    marks = {line.split("│")[2].strip(): line.split("│")[1].strip()
             for line in listing.stdout.splitlines() if line.count("│") > 3}
    assert marks.get(v1) == "p" and marks.get(v3) == "*" and v2 not in marks

    rolled = bucket_mode.cli(echo_backend, "rollback", "--project", "1", "--version", v1)
    assert rolled.returncode == 0, rolled.stderr
    old = f"EchoModel-{v1}"
    wait_until(lambda: served(a) == old and served(b) == old, timeout=2, interval=0.02)
    assert predict(b, ["x"])["results"][0]["result"][0]["value"]["choices"] == ["积极"]
    # b's cache holds at most what it loads last (LABELLOOP_CACHE_MAX_MB=0: the rest goes)
    assert {p.name for p in (b.model_dir / ".cache" / "1").iterdir()} == {v1}

    assert bucket_mode.cli(echo_backend, "unpin", "--project", "1",
                           "--version", v1).returncode == 0
    pruned = bucket_mode.cli(echo_backend, "prune", "--project", "1", env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert versions_in_bucket(bucket_mode) == {v1, v3}  # served and newest ok: both kept
    promoted = bucket_mode.cli(echo_backend, "promote", "--project", "1", "--version", v3)
    assert promoted.returncode == 0, promoted.stderr
    new = f"EchoModel-{v3}"
    wait_until(lambda: served(a) == new and served(b) == new, timeout=2, interval=0.02)
    pruned = bucket_mode.cli(echo_backend, "prune", "--project", "1", env=env)
    assert pruned.returncode == 0 and v1 in pruned.stdout, pruned.stdout + pruned.stderr
    assert versions_in_bucket(bucket_mode) == {v3}

    status = bucket_mode.cli(echo_backend, "status", "--project", "1")
    assert status.returncode == 0 and f"serving {new}" in status.stdout, status.stderr
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps([{"id": 1, "data": {"text": "x"}}]))
    offline = bucket_mode.cli(echo_backend, "predict", "--project", "1", "--tasks", str(tasks))
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["results"][0]["model_version"] == new
    metrics = a.client.get("/metrics").text
    assert f'labelloop_served_version_info{{model_version="{new}",project="1"}} 1.0' in metrics


def test_a_burst_to_two_servers_coalesces(echo_backend: Path, bucket_mode: BucketDeployment,
                                          control: Path) -> None:
    (control / "fit_sleep").write_text("3")
    env = {"ECHO_CONTROL": str(control)}
    servers = [bucket_mode.start(echo_backend, env=env) for _ in range(2)]
    jobs = set()
    for i in range(1, 41):
        resp = servers[i % 2].client.post("/webhook", json=annotation_event(i, i, f"t{i}", "积极"))
        assert resp.status_code == 200
        jobs.add(resp.json()["job"])
    assert len(jobs) <= 2  # one running, one queued: the burst is shorter than one fit
    settled(servers[0], check=lambda j: j["state"] == "finished")
    versions = sorted(versions_in_bucket(bucket_mode), key=int)
    assert len(versions) == len(jobs)
    info = bucket_mode.moto.client().get_object(
        Bucket="labelloop-test", Key=f"versions/1/{versions[-1]}/train_data_info.json")
    assert json.loads(info["Body"].read()) == {"count": 40}


def worker_tree(dep: BucketDeployment) -> list[psutil.Process]:
    root = psutil.Process(dep.workers[0].pid)
    return [root, *root.children(recursive=True)]


def kill_all(procs: list[psutil.Process]) -> None:
    """As if the machine died: every process of the worker at once."""
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)


def failed_job(server: object) -> dict[str, object]:
    """The project's latest job once it is reported failed (Redis mode: once the dead
    worker's project lock expires)."""
    return dict(wait_until(lambda: (j := server.client.get(  # type: ignore[attr-defined]
        "/is_training", params={"project": "1"}).json()["latest"]) and j["state"] == "failed"
        and j, timeout=20))


def test_a_worker_killed_mid_fit_leaves_nothing_in_the_bucket(
        echo_backend: Path, bucket_mode: BucketDeployment, control: Path) -> None:
    env = {"ECHO_CONTROL": str(control)}
    server = bucket_mode.start(echo_backend, env=env)
    served(server)
    v1 = train(server, 1, "积极")
    (control / "fit_sleep").write_text("120")
    server.client.post("/webhook", json=annotation_event(2, 2, "差", "消极"))
    running = wait_until(lambda: (j := server.client.get(
        "/is_training", params={"project": "1"}).json()["latest"]) and j["state"] == "running"
        and j.get("version") and j, timeout=30)
    kill_all(worker_tree(bucket_mode))
    assert failed_job(server)["job_id"] == running["job_id"]
    assert versions_in_bucket(bucket_mode) == {v1}  # the version never left the worker
    assert served(server) == f"EchoModel-{v1}"
    assert predict(server, ["x"])["results"][0]["model_version"] == f"EchoModel-{v1}"
    (control / "fit_sleep").unlink()
    bucket_mode.start_worker(echo_backend, env)  # another machine takes over
    v3 = train(server, 3, "消极")
    assert served(server) == f"EchoModel-{v3}" and versions_in_bucket(bucket_mode) == {v1, v3}


def test_a_worker_killed_mid_upload_leaves_a_prefix_no_server_loads_and_retention_cleans(
        echo_backend: Path, bucket_mode: BucketDeployment, control: Path) -> None:
    env = {"ECHO_CONTROL": str(control), "LABELLOOP_KEEP_FAILED_HOURS": "0"}
    a, b = bucket_mode.start(echo_backend, env=env), bucket_mode.start(echo_backend, env=env)
    served(a)
    v1 = train(a, 1, "积极")
    (control / "fit_bytes").write_text(str(100 * 1024 * 1024))  # a slow upload
    a.client.post("/webhook", json=annotation_event(2, 2, "差", "消极"))

    def half_uploaded() -> str | None:
        for version in versions_in_bucket(bucket_mode) - {v1}:
            keys = set(bucket_mode.version_keys("1", version))
            if keys and "job_result.json" not in keys:
                return version
        return None

    procs = worker_tree(bucket_mode)
    half = str(wait_until(half_uploaded, timeout=60, interval=0.01))
    kill_all(procs)
    assert "job_result.json" not in bucket_mode.version_keys("1", half)
    failed_job(a)
    for server in (a, b):  # the previous version serves; the half-uploaded one is listed
        assert served(server) == f"EchoModel-{v1}"
        assert predict(server, ["x"])["results"][0]["model_version"] == f"EchoModel-{v1}"
    listed = a.client.get("/versions").json()["projects"]["1"]
    assert {i["version"]: i["status"] for i in listed}[half] == "incomplete"
    assert not (b.model_dir / ".cache" / "1" / half).exists()
    # The next job (on another worker) marks it failed, and retention removes its prefix.
    (control / "fit_bytes").unlink()
    bucket_mode.start_worker(echo_backend, env)
    v3 = train(a, 3, "消极")
    wait_until(lambda: versions_in_bucket(bucket_mode) == {v1, v3}, timeout=10)
    wait_until(lambda: served(a) == served(b) == f"EchoModel-{v3}", timeout=2)


def test_an_unreachable_bucket_fails_the_job_and_the_served_version_serves_on(
        echo_backend: Path, bucket_mode: BucketDeployment, moto: MotoServer) -> None:
    server = bucket_mode.start(echo_backend)
    served(server)
    v1 = f"EchoModel-{train(server, 1, '积极')}"
    assert predict(server, ["x"])["results"][0]["model_version"] == v1
    moto.stop()

    def health() -> dict[str, object]:
        started = time.monotonic()
        answer = server.client.get("/health")
        # A closed loopback port refuses at once: 3 s is room for a busy machine, far
        # below what unbounded S3 retries would take.
        assert time.monotonic() - started < 3.0 and answer.status_code == 200
        return dict(answer.json())

    wait_until(lambda: health()["storage"] == "unreachable", timeout=5)
    resp = server.client.post("/webhook", json=annotation_event(2, 2, "差", "消极"))
    assert resp.status_code == 200, resp.text
    job = failed_job(server)
    assert "unreachable" in str(job["error"]) and "Traceback" not in str(job["error"])
    assert served(server) == v1
    assert predict(server, ["x"])["results"][0]["model_version"] == v1


def test_a_redis_restart_keeps_serving_and_training_from_the_bucket(
        echo_backend: Path, bucket_mode: BucketDeployment, redis_server: RedisServer) -> None:
    a, b = bucket_mode.start(echo_backend), bucket_mode.start(echo_backend)
    served(a)
    v1 = f"EchoModel-{train(a, 1, '积极')}"
    wait_until(lambda: served(b) == v1, timeout=2)
    redis_server.stop()
    for server in (a, b):
        assert predict(server, ["x"])["results"][0]["model_version"] == v1
    redis_server.start()
    v2 = f"EchoModel-{train(b, 2, '消极')}"
    wait_until(lambda: served(a) == served(b) == v2, timeout=2)
    assert predict(a, ["x"])["results"][0]["model_version"] == v2


def test_a_bucket_without_redis_is_a_clear_error(echo_backend: Path, tmp_path: Path) -> None:
    for command in (["start", str(echo_backend)], ["versions", str(echo_backend)]):
        result = subprocess.run([sys.executable, "-m", "labelloop.cli.main", *command,
                                 "--model-dir", str(tmp_path / "m"), "--storage",
                                 "s3://bucket/prefix"], capture_output=True, text=True,
                                timeout=60, env={**os.environ, "REDIS_URL": "",
                                                 "LABELLOOP_REDIS_URL": ""})
        assert result.returncode != 0 and "needs Redis mode" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    bad = subprocess.run([sys.executable, "-m", "labelloop.cli.main", "versions",
                          str(echo_backend), "--storage", "ftp://x"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode != 0 and "expected file://" in bad.stderr


def test_the_status_page_of_one_server_serves_a_version_through_another(
        echo_backend: Path, bucket_mode: BucketDeployment) -> None:
    env = {"LABELLOOP_WEBHOOK_SECRET": "s3cret"}  # machines share no folder: nor a key file
    a, b = bucket_mode.start(echo_backend, env=env), bucket_mode.start(echo_backend, env=env)
    served(a)
    versions = []
    for ann, label in ((1, "积极"), (2, "消极")):
        before = a.client.get("/is_training", params={"project": "1"}).json()["latest"]
        a.client.post("/webhook", params={"secret": "s3cret"},
                      json=annotation_event(ann, ann, f"t{ann}", label))
        job = settled(a, besides=before["job_id"] if before else None,
                      check=lambda j: j["state"] == "finished")
        versions.append(str(job["version"]))
    page = a.client.get("/status")
    assert page.status_code == 200 and all(v in page.text for v in versions)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    answer = b.client.post("/status/serve", headers={"Origin": b.url},
                           data={"project": "1", "version": versions[0], "csrf": token[1]})
    assert answer.status_code == 303, answer.text
    old = f"EchoModel-{versions[0]}"
    wait_until(lambda: served(a) == served(b) == old, timeout=2)


def test_refused_credentials_fail_the_job_with_the_reason(
        echo_backend: Path, redis_server: RedisServer, tmp_path: Path) -> None:
    # moto checks credentials after its first request (the bucket's creation): the
    # deployment's keys are then unknown to it, as revoked keys would be.
    moto = MotoServer(tmp_path / "moto-auth", env={"INITIAL_NO_AUTH_ACTION_COUNT": "1"})
    dep = BucketDeployment(tmp_path, redis_server, moto)
    try:
        server = dep.start(echo_backend)
        assert server.client.get("/health").json()["storage"] == "unreachable"
        served(server)
        resp = server.client.post("/webhook", json=annotation_event(1, 1, "好", "积极"))
        assert resp.status_code == 200, resp.text
        job = failed_job(server)
        assert "refused the credentials" in str(job["error"]), job
        assert served(server) == "EchoModel-untrained"
    finally:
        dep.stop()
        moto.stop()


def test_a_bucket_lost_mid_upload_fails_the_job_and_promotes_nothing(
        echo_backend: Path, bucket_mode: BucketDeployment, moto: MotoServer,
        control: Path) -> None:
    env = {"ECHO_CONTROL": str(control)}
    a, b = bucket_mode.start(echo_backend, env=env), bucket_mode.start(echo_backend, env=env)
    served(a)
    v1 = f"EchoModel-{train(a, 1, '积极')}"
    wait_until(lambda: served(b) == v1, timeout=2)
    for server in (a, b):  # each has loaded the served version
        assert predict(server, ["x"])["results"][0]["model_version"] == v1
    (control / "fit_bytes").write_text(str(100 * 1024 * 1024))  # a slow upload
    a.client.post("/webhook", json=annotation_event(2, 2, "差", "消极"))
    wait_until(lambda: len(versions_in_bucket(bucket_mode)) > 1, timeout=60, interval=0.01)
    moto.stop()
    job = failed_job(a)
    assert "unreachable" in str(job["error"]) and "Traceback" not in str(job["error"])
    for server in (a, b):
        assert served(server) == v1
        assert predict(server, ["x"])["results"][0]["model_version"] == v1
