"""Versions in object storage: Redis mode with ``LABELLOOP_STORAGE=s3://...`` against a real
S3 API (moto's standalone server over HTTP), every server and worker in its own empty
folder, Redis and the bucket the only shared stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

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
