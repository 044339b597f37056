"""Versions in a bucket against versions in a shared folder: how long from a job's end until
every server serves the new version, and what loading a version costs.

Redis mode, two ``labelloop start`` servers and one ``labelloop worker``, the test echo
model writing a model file of 5 MB or 100 MB. ``file://``: the three share one model dir.
``s3://``: each has its own empty folder; the bucket is moto's standalone server on
loopback (no network cost: a real S3 adds its latency and bandwidth).

- *job end -> all serve*: from the job record's end (upload and pointer switch done) until
  a /predict on each server answers with the new version (it loads the model on that
  request: from the bucket into the server's cache, or from the shared folder).
- *upload*: the bucket copy of the version folder alone (in-process, client set up); the
  job's record ends after it, so a version is served about *upload + job end -> all serve*
  after its fit ends.
- *cold / warm load*: fetching the version folder into an empty cache, and finding it
  cached; for ``file://``, reading the model file from the folder.

Run: ``.venv/bin/python bench/storage.py [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from labelloop.store.buckets import Bucket  # noqa: E402
from labelloop.store.version_cache import VersionCache  # noqa: E402
from support.buckets import BUCKET, BucketDeployment, MotoServer  # noqa: E402
from support.calls import predict, setup  # noqa: E402
from support.data import annotation_event  # noqa: E402
from support.servers import Deployment, RedisServer, Server, make_backend  # noqa: E402
from support.waiting import wait_until  # noqa: E402

MiB = 1024 * 1024
SIZES = (5 * MiB, 100 * MiB)


def latest(server: Server) -> dict[str, Any] | None:
    answer = server.client.get("/is_training", params={"project": "1"}).json()
    return answer["latest"]


def switch_latency(servers: list[Server], ann: int) -> float:
    """Post one annotation; seconds from its job's end until both servers serve the new
    version."""
    old = setup(servers[0])
    seen: dict[int, float] = {}

    def watch(i: int, server: Server) -> None:
        while time.time() < deadline:
            if predict(server, ["x"])["results"][0]["model_version"] != old:
                seen[i] = time.time()
                return
            time.sleep(0.01)

    deadline = time.time() + 120
    threads = [threading.Thread(target=watch, args=(i, s)) for i, s in enumerate(servers)]
    for t in threads:
        t.start()
    servers[0].client.post("/webhook", json=annotation_event(ann, ann, f"t{ann}", "积极"))
    for t in threads:
        t.join()
    assert len(seen) == len(servers), "a server never switched"
    job = wait_until(lambda: (j := latest(servers[0])) and j["state"] == "finished" and j)
    return max(seen.values()) - float(job["ended"])


def deployment_latency(storage: str, size: int, rounds: int, root: Path,
                       backend: Path) -> list[float]:
    control = root / "control"
    control.mkdir()
    (control / "fit_bytes").write_text(str(size))
    env = {"ECHO_CONTROL": str(control), "LABELLOOP_KEEP_VERSIONS": "2"}
    redis = RedisServer(root / "redis")
    moto = MotoServer(root / "moto") if storage == "s3" else None
    dep: Deployment = (BucketDeployment(root, redis, moto) if moto is not None
                       else Deployment("redis", root, redis))
    try:
        servers = [dep.start(backend, env=env) for _ in range(2)]
        for s in servers:
            setup(s)
        switch_latency(servers, 1)  # the first version: imports warm, caches made
        return [switch_latency(servers, 2 + i) for i in range(rounds)]
    finally:
        dep.stop()
        redis.stop()
        if moto is not None:
            moto.stop()


def load_costs(size: int, root: Path) -> dict[str, float]:
    """Upload, cold and warm fetch of a version folder holding ``size`` bytes, in-process;
    and reading the same file from a folder (the file:// load)."""
    folder = root / "version"
    folder.mkdir(parents=True)
    (folder / "blob.bin").write_bytes(os.urandom(size))
    (folder / "job_result.json").write_text("{}")
    moto = MotoServer(root / "moto")
    os.environ.update(moto.env)
    try:
        moto.client().create_bucket(Bucket=BUCKET)
        bucket = Bucket(f"s3://{BUCKET}/bench")
        started = time.perf_counter()
        bucket.names()  # a process's first call sets up the client and its credentials
        first_call = time.perf_counter() - started
        started = time.perf_counter()
        bucket.upload(folder, "1/100", last="job_result.json")
        upload = time.perf_counter() - started
        cache = VersionCache(root / "cache", 10 * size)

        def fill(dest: Path) -> None:
            bucket.download("1/100", dest)

        started = time.perf_counter()
        cached = cache.ensure("1", "100", fill)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        cache.ensure("1", "100", fill)
        warm = time.perf_counter() - started
        assert (cached / "blob.bin").stat().st_size == size
        started = time.perf_counter()
        (folder / "blob.bin").read_bytes()
        file_read = time.perf_counter() - started
    finally:
        moto.stop()
    return {"upload": upload, "cold": cold, "warm": warm, "file": file_read,
            "first_call": first_call}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="labelloop-bench-storage-") as tmp:
        base = Path(tmp)
        backend = make_backend(base / "backend", ROOT / "tests" / "models" / "echo_model.py")
        for size in SIZES:
            costs = load_costs(size, base / f"load-{size}")
            for storage in ("file", "s3"):
                root = base / f"{storage}-{size}"
                root.mkdir()
                times = deployment_latency(storage, size, args.rounds, root, backend)
                rows.append((storage, size, times, costs))
                shutil.rmtree(root, ignore_errors=True)
    print(f"\n{args.rounds} rounds each; 2 servers, 1 worker; moto on loopback\n")
    print("| storage | model | job end -> all serve (median, max) | upload | cold load "
          "| warm load |")
    print("|---|---|---|---|---|---|")
    for storage, size, times, costs in rows:
        if storage == "file":
            loads = ("-", f"{costs['file'] * 1000:.0f} ms (read)", "same")
        else:
            loads = (f"{costs['upload'] * 1000:.0f} ms", f"{costs['cold'] * 1000:.0f} ms",
                     f"{costs['warm'] * 1000:.1f} ms")
        print(f"| {storage}:// | {size // MiB} MB | {statistics.median(times):.2f} s, "
              f"{max(times):.2f} s | {loads[0]} | {loads[1]} | {loads[2]} |")
    print("\nA process's first call to the bucket (client set-up): "
          + ", ".join(f"{c['first_call'] * 1000:.0f} ms" for s, _, _, c in rows if s == "s3"))


if __name__ == "__main__":
    main()
