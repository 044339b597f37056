"""Pieces the benchmarks share: corpus tasks shaped like Label Studio's, servers started as
their users start them, a load generator in its own processes, timing and RSS sampling."""

from __future__ import annotations

import atexit
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from labelloop.examples.corpus import as_tasks, sentiment_corpus

BENCH = Path(__file__).resolve().parent
MODELS = BENCH / "models"  # the word-pipeline scripts, one per API generation
CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
          '<Choice value="积极"/><Choice value="消极"/></Choices></View>')
PROJECT = "1.1795555096"
POOL = 10_000  # distinct sentences predicted; bigger batches repeat the pool
MiB = 1024 * 1024


def ls_task(i: int, text: str) -> dict[str, Any]:
    """A task as Label Studio's batch /predict sends it (TaskSimpleSerializer fields)."""
    return {"id": i, "data": {"text": text}, "meta": {}, "created_at": "2026-11-24T21:26:38Z",
            "updated_at": "2026-11-24T21:26:38Z", "is_labeled": False, "overlap": 1,
            "inner_id": i, "total_annotations": 0, "cancelled_annotations": 0,
            "total_predictions": 0, "comment_count": 0, "unresolved_comment_count": 0,
            "last_comment_updated_at": None, "project": 1, "updated_by": None,
            "file_upload": None, "comment_authors": [], "annotations": [], "predictions": []}


def corpus_texts(n: int, seed: int = 3) -> list[str]:
    """n sentences: the first ``POOL`` of the corpus shuffled with ``seed``, repeated."""
    pairs = sentiment_corpus(seed)[:POOL]
    return [pairs[i % len(pairs)][0] for i in range(n)]


def predict_body(texts: list[str]) -> bytes:
    """A /predict body as Label Studio 1.23 sends it (json.dumps, so ASCII-escaped)."""
    tasks = [ls_task(i, t) for i, t in enumerate(texts)]
    return json.dumps({"tasks": tasks, "project": PROJECT, "label_config": CONFIG,
                       "params": {"login": None, "password": None, "context": None}}).encode()


def annotated_tasks(n: int, seed: int = 5) -> list[dict[str, Any]]:
    """Label Studio export-format tasks with one annotation each (the training set)."""
    return as_tasks(sentiment_corpus(seed)[:n])


def write_export(root: Path, n: int) -> Path:
    """``root/export.json``: ``n`` annotated tasks, as Label Studio exports them."""
    export = root / "export.json"
    export.write_text(json.dumps(annotated_tasks(n), ensure_ascii=False))
    return export


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_STARTED: list[Server] = []


@atexit.register
def _stop_all() -> None:
    """A bench that dies half-way leaves no server behind."""
    for server in _STARTED:
        if server.proc.poll() is None:
            server.stop()


def timed_request(port: int, method: str, path: str, body: bytes | None = None,
                  timeout: float = 600) -> tuple[int, bytes, float]:
    """(status, raw answer, seconds from sending the request to its last byte)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.connect()
        started = time.perf_counter()
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, raw, time.perf_counter() - started
    finally:
        conn.close()


class Server:
    """A server in its own process group, bound to a free loopback port."""

    name = "server"

    def __init__(self, cmd: list[str], port: int, env: dict[str, str] | None = None,
                 cwd: Path | None = None, timeout: float = 90) -> None:
        self.port = port
        self.proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, cwd=cwd,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        _STARTED.append(self)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.request("GET", "/health", timeout=5)[0] == 200:
                    break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{cmd[:3]} exited with {self.proc.returncode}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def request(self, method: str, path: str, body: bytes | None = None,
                timeout: float = 600) -> tuple[int, Any]:
        status, raw, _ = self.timed(method, path, body, timeout)
        return status, json.loads(raw or b"null")

    def timed(self, method: str, path: str, body: bytes | None = None,
              timeout: float = 600) -> tuple[int, bytes, float]:
        """(status, raw answer, seconds from sending the request to its last byte)."""
        return timed_request(self.port, method, path, body, timeout)

    def post(self, path: str, obj: Any) -> Any:
        status, answer = self.request("POST", path, json.dumps(obj).encode())
        assert status in (200, 201), (status, answer)
        return answer

    def processes(self) -> list[psutil.Process]:
        try:
            proc = psutil.Process(self.proc.pid)
            return [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return []

    def counted(self, proc: psutil.Process) -> bool:
        return True

    def rss(self) -> int:
        """Resident memory of the server's processes together."""
        total = 0
        for p in self.processes():
            try:
                if self.counted(p):
                    total += p.memory_info().rss
            except psutil.Error:  # exited while we looked
                continue
        return total

    def cpu(self) -> float:
        """CPU seconds (user + system) the server's processes have used so far."""
        total = 0.0
        for p in self.processes():
            try:
                if self.counted(p):
                    times = p.cpu_times()
                    total += times.user + times.system
            except psutil.Error:
                continue
        return total

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(15)


class Backend(Server):
    """`labelloop start` in a subprocess."""

    name = "labelloop"

    def __init__(self, backend_dir: Path, model_dir: Path, workers: int = 1,
                 env: dict[str, str] | None = None, log_level: str = "WARNING",
                 port: int | None = None) -> None:
        port = port or free_port()
        cmd = [sys.executable, "-m", "labelloop.cli.main", "start", str(backend_dir),
               "--host", "127.0.0.1", "--port", str(port), "--model-dir", str(model_dir),
               "--workers", str(workers), "--log-level", log_level]
        super().__init__(cmd, port, env)

    def counted(self, proc: psutil.Process) -> bool:
        """The server and its workers, not the training runners."""
        return "local_runner" not in " ".join(proc.cmdline())


def labelloop(*args: str) -> None:
    """Run the labelloop CLI as a user would (quietly; raises on failure)."""
    subprocess.run([sys.executable, "-m", "labelloop.cli.main", *args], check=True,
                   stdout=subprocess.DEVNULL)


def trained_backend(root: Path, name: str, script: Path | None,
                    export: Path) -> tuple[Path, Path, dict[str, Any]]:
    """`labelloop init` (the founding classifier when ``script`` is None), then `labelloop
    train` on ``export``. Returns (backend folder, model dir, the version's train_output)."""
    backend_dir, model_dir = root / name, root / f"{name}-models"
    config = root / "config.xml"
    config.write_text(CONFIG)
    labelloop("init", str(backend_dir), *(["--script", str(script)] if script else []))
    labelloop("train", str(backend_dir), "--tasks", str(export), "--label-config", str(config),
              "--project", "1", "--model-dir", str(model_dir))
    version = (model_dir / "1" / ".current").read_text().strip()
    result = json.loads((model_dir / "1" / version / "job_result.json").read_text())
    return backend_dir, model_dir, result["train_output"]


@contextmanager
def peak_rss(server: Server, interval: float = 0.02) -> Iterator[dict[str, int]]:
    peak = {"rss": server.rss()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            peak["rss"] = max(peak["rss"], server.rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


# -- load -------------------------------------------------------------------------------

def load(port: int, body: bytes, concurrency: int, seconds: float,
         path: str = "/predict") -> dict[str, float]:
    """Closed-loop load from separate processes (one keep-alive connection each), bounded
    in time. The client is a raw socket writing one pre-built request, so that little of
    the latency measured is the client's own."""
    from loadgen import run

    return run(port, path, body, concurrency, seconds)


def timed_calls(func: Callable[[], Any], seconds: float, warmup: int = 20) -> list[float]:
    """Call ``func`` back to back for ``seconds``; the latency of each call."""
    for _ in range(warmup):
        func()
    lat = []
    end = time.perf_counter() + seconds
    while True:
        started = time.perf_counter()
        func()
        done = time.perf_counter()
        lat.append(done - started)
        if done > end:
            return lat


def best_time(func: Callable[[], Any]) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def p50(values: list[float]) -> float:
    return statistics.median(values)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spawn_context() -> Any:
    return multiprocessing.get_context("spawn")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {one:.2f} {five:.2f} {fifteen:.2f}"


def same_predictions(server: Server, body: bytes, expected: list[tuple[str, float]]) -> bool:
    """Whether ``server`` answers ``body`` with the ``expected`` (label, score) pairs."""
    status, answer = server.request("POST", "/predict", body)
    got = [(p["result"][0]["value"]["choices"][0], float(p["score"]))
           for p in answer["results"]]
    return status == 200 and len(got) == len(expected) and all(
        a == b and abs(x - y) < 1e-9 for (a, x), (b, y) in zip(got, expected, strict=True))


def align(rows: list[list[str]]) -> list[str]:
    """Table lines: the first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
            for r in rows]
