"""A real S3 API for the tests (moto's standalone server, its own process over HTTP), and
Redis-mode deployments whose versions live in a bucket: every server, worker and CLI call
in its own empty folder, Redis and the bucket the only things they share."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from labelloop.cli.studio import free_port
from support.servers import FAST_CADENCE, Deployment, RedisServer, Server
from support.waiting import wait_until

BUCKET = "labelloop-test"


class MotoServer:
    """``moto_server`` on a free port; clients reach it through the standard AWS
    variables (:attr:`env`), as they would a real S3 endpoint."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.server_env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "moto.log"
        self.env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": self.url}
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True,
                                         env={**os.environ, **self.server_env})
        wait_until(self._up, timeout=30)

    def _up(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def put(self, bucket: str, key: str, body: bytes) -> None:
        """One object, in ``bucket`` (made when missing)."""
        client = self.client()
        if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key=key, Body=body)

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class BucketDeployment(Deployment):
    """Redis mode with ``LABELLOOP_STORAGE=s3://...``; no folder is shared."""

    def __init__(self, tmp_path: Path, redis: RedisServer, moto: MotoServer,
                 prefix: str = "versions") -> None:
        super().__init__("redis", tmp_path, redis)
        self.moto = moto
        self.prefix = prefix
        self.storage = f"s3://{BUCKET}/{prefix}"
        self.env = {**moto.env, "LABELLOOP_STORAGE": self.storage}
        self.count = 0
        moto.client().create_bucket(Bucket=BUCKET)

    def own_folder(self, kind: str, backend_dir: Path) -> tuple[Path, Path]:
        """A fresh folder for one process: its copy of the backend, its model dir."""
        self.count += 1
        folder = self.tmp_path / f"{kind}-{self.count}"
        folder.mkdir()
        return (Path(shutil.copytree(backend_dir, folder / "backend")), folder / "models")

    def start(self, backend_dir: Path, env: dict[str, str] | None = None,
              args: list[str] | None = None, workers: int = 1) -> Server:
        own_backend, model_dir = self.own_folder("server", backend_dir)
        assert self.redis
        server = Server(own_backend, model_dir, env={**self.env, **(env or {})},
                        args=["--redis-url", self.redis.url, *(args or [])])
        self.servers.append(server)
        if not self.workers:
            for _ in range(workers):
                self.start_worker(backend_dir, env)
        return server

    def start_worker(self, backend_dir: Path,
                     env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        assert self.redis
        own_backend, model_dir = self.own_folder("worker", backend_dir)
        with (model_dir.parent / "worker.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "labelloop.cli.main", "worker", str(own_backend),
                 "--redis-url", self.redis.url, "--model-dir", str(model_dir)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "LABELLOOP_JOB_LOCK_TTL": "3", **FAST_CADENCE,
                     **self.env, **(env or {})})
        self.workers.append(proc)
        return proc

    def cli(self, backend_dir: Path, *args: str,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        assert self.redis
        own_backend, model_dir = self.own_folder("cli", backend_dir)
        return subprocess.run([sys.executable, "-m", "labelloop.cli.main", args[0],
                               str(own_backend), *args[1:], "--model-dir", str(model_dir),
                               "--redis-url", self.redis.url], capture_output=True,
                              text=True, timeout=60,
                              env={**os.environ, **self.env, **(env or {})})

    def version_keys(self, project: str, version: str) -> list[str]:
        """The bucket's keys of one version, relative to its prefix."""
        base = f"{self.prefix}/{project}/{version}/"
        return [k[len(base):] for k in self.moto.keys(base)]
