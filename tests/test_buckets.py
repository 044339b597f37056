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
