"""Pieces the benchmarks share: corpus tasks shaped like Label Studio's, a backend started
as users start it, a load generator in its own process, and RSS sampling."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from labelloop.examples.corpus import as_tasks, sentiment_corpus

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
          '<Choice value="积极"/><Choice value="消极"/></Choices></View>')
PROJECT = "1.1795555096"


def ls_task(i: int, text: str) -> dict[str, Any]:
    """A task as Label Studio's batch /predict sends it (TaskSimpleSerializer fields)."""
    return {"id": i, "data": {"text": text}, "meta": {}, "created_at": "2026-11-24T21:26:38Z",
            "updated_at": "2026-11-24T21:26:38Z", "is_labeled": False, "overlap": 1,
            "inner_id": i, "total_annotations": 0, "cancelled_annotations": 0,
            "total_predictions": 0, "comment_count": 0, "unresolved_comment_count": 0,
            "last_comment_updated_at": None, "project": 1, "updated_by": None,
            "file_upload": None, "comment_authors": [], "annotations": [], "predictions": []}


def corpus_texts(n: int, seed: int = 3) -> list[str]:
    pairs = sentiment_corpus(seed)
    return [pairs[i % len(pairs)][0] for i in range(n)]


def predict_body(texts: list[str]) -> bytes:
    tasks = [ls_task(i, t) for i, t in enumerate(texts)]
    return json.dumps({"tasks": tasks, "project": PROJECT, "label_config": CONFIG,
                       "params": {"login": None, "password": None, "context": None}}).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Backend:
    """`labelloop start` in a subprocess."""

    def __init__(self, backend_dir: Path, model_dir: Path, workers: int = 1,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "labelloop.cli.main", "start", str(backend_dir),
               "--host", "127.0.0.1", "--port", str(self.port), "--model-dir", str(model_dir),
               "--workers", str(workers), "--log-level", "WARNING"]
        self.proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.request("GET", "/health")[0] == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def request(self, method: str, path: str, body: bytes | None = None,
                timeout: float = 300) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def post(self, path: str, obj: Any) -> Any:
        status, answer = self.request("POST", path, json.dumps(obj).encode())
        assert status == 200, (status, answer)
        return answer

    def rss(self) -> int:
        """Resident memory of the server and its workers (not the training runners)."""
        total = 0
        try:
            proc = psutil.Process(self.proc.pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return 0
        for p in procs:
            try:
                if "local_runner" not in " ".join(p.cmdline()):
                    total += p.memory_info().rss
            except psutil.Error:  # exited while we looked
                continue
        return total

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(15)


@contextmanager
def peak_rss(backend: Backend, interval: float = 0.02) -> Iterator[dict[str, int]]:
    peak = {"rss": backend.rss()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            peak["rss"] = max(peak["rss"], backend.rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def _load_worker(port: int, body: bytes, seconds: float, out: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        started = time.perf_counter()
        conn.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"/predict answered {resp.status}")
        lat.append(time.perf_counter() - started)
    out.put(lat)


def load(port: int, body: bytes, concurrency: int, seconds: float) -> dict[str, float]:
    """Closed-loop load from separate processes (one per connection), bounded in time."""
    out: Any = multiprocessing.get_context("spawn").Queue()
    procs = [multiprocessing.get_context("spawn").Process(
        target=_load_worker, args=(port, body, seconds, out)) for _ in range(concurrency)]
    for p in procs:
        p.start()
    lat = sorted(x for _ in procs for x in out.get(timeout=seconds + 60))
    for p in procs:
        p.join()
    return {"rps": len(lat) / seconds, "p50_ms": percentile(lat, 50) * 1000,
            "p99_ms": percentile(lat, 99) * 1000, "n": len(lat)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def p50(values: list[float]) -> float:
    return statistics.median(values)


def annotated_tasks(n: int, seed: int = 5) -> list[dict[str, Any]]:
    return as_tasks(sentiment_corpus(seed)[:n])
