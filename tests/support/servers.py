"""Real servers for the tests: ``labelloop start`` and ``labelloop worker`` processes,
a real redis-server, and deployments of both modes."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from labelloop.cli.studio import free_port
from support.data import ROOT
from support.waiting import wait_until


def local_runners(model_dir: Path) -> list[psutil.Process]:
    """The local-mode runner processes training projects under ``model_dir``.

    Each forked fit child has its runner's command line too (and, once pids wrap, may come
    first): a runner is one whose parent is not a runner.
    """
    found = {}
    for proc in psutil.process_iter(["cmdline", "ppid"]):
        with contextlib.suppress(psutil.Error):
            if "labelloop.training.local_runner" in (proc.info["cmdline"] or []) and str(
                    model_dir) in proc.environ().get("LABELLOOP_SETTINGS_JSON", ""):
                found[proc.pid] = proc
    return [p for p in found.values() if p.info["ppid"] not in found]


def make_backend(folder: Path, script: Path) -> Path:
    result = subprocess.run([sys.executable, "-m", "labelloop.cli.main", "init", str(folder),
                             "--script", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return folder


# Tests train on every event at once unless they test the cadence itself, and do not
# re-score Label Studio's tasks (most have none to reach) unless they test active learning.
FAST_CADENCE = {"LABELLOOP_TRAIN_MIN_INTERVAL": "0", "LABELLOOP_TRAIN_INTERVAL_FACTOR": "0",
                "LABELLOOP_RESCORE": "false"}


def file_size_limit(limit: int | None) -> Callable[[], None] | None:
    """Cap the size of files a process may write: a full disk, as seen by write()."""
    if limit is None:
        return None

    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


class Server:
    """``labelloop start`` in a subprocess, reached over real HTTP."""

    def __init__(self, backend_dir: Path, model_dir: Path, env: dict[str, str] | None = None,
                 args: list[str] | None = None, max_file_bytes: int | None = None,
                 python: str = sys.executable) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.model_dir = model_dir
        self.log = model_dir.parent / f"server-{self.port}.log"
        cmd = [python, "-m", "labelloop.cli.main", "start", str(backend_dir),
               "--host", "127.0.0.1", "--port", str(self.port), "--model-dir", str(model_dir),
               *(args or [])]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **FAST_CADENCE, **(env or {})},
                                         start_new_session=True,
                                         preexec_fn=file_size_limit(max_file_bytes))
        self.client = httpx.Client(base_url=self.url, timeout=60)
        wait_until(self._up, timeout=30)

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
        return self.client.get("/health").status_code in (200, 401)

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class RedisServer:
    """A real redis-server on a free port, with an append-only file so it can restart."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is not installed (make redis-server)"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--save", "", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._up, timeout=10)

    def _up(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Deployment:
    """A backend as users run it: local mode, or Redis mode with `labelloop worker`s."""

    def __init__(self, mode: str, tmp_path: Path, redis: RedisServer | None) -> None:
        self.mode, self.tmp_path, self.redis = mode, tmp_path, redis
        self.model_dir = tmp_path / "models"
        self.servers: list[Server] = []
        self.workers: list[subprocess.Popen[bytes]] = []

    def start(self, backend_dir: Path, env: dict[str, str] | None = None,
              args: list[str] | None = None, workers: int = 1) -> Server:
        extra = ["--redis-url", self.redis.url] if self.redis else []
        server = Server(backend_dir, self.model_dir, env=env, args=[*extra, *(args or [])])
        self.servers.append(server)
        if self.redis and not self.workers:
            for _ in range(workers):
                self.start_worker(backend_dir, env)
        return server

    def start_worker(self, backend_dir: Path,
                     env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        assert self.redis
        with (self.tmp_path / f"worker-{len(self.workers)}.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "labelloop.cli.main", "worker", str(backend_dir),
                 "--redis-url", self.redis.url, "--model-dir", str(self.model_dir)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "LABELLOOP_JOB_LOCK_TTL": "3", **FAST_CADENCE,
                     **(env or {})})
        self.workers.append(proc)
        return proc

    def cli(self, backend_dir: Path, *args: str,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``labelloop COMMAND BACKEND ARGS...`` on this deployment's versions."""
        extra = ["--model-dir", str(self.model_dir)]
        if self.redis:
            extra += ["--redis-url", self.redis.url]
        return subprocess.run([sys.executable, "-m", "labelloop.cli.main", args[0],
                               str(backend_dir), *args[1:], *extra], capture_output=True,
                              text=True, timeout=60, env={**os.environ, **(env or {})})

    def annotation_ids(self, project: str) -> set[str]:
        """The annotation ids in the project's training set, wherever this mode keeps it."""
        if self.redis is None:
            return {p.stem for p in (self.model_dir / project / ".annotations").glob("*.json")}
        import redis

        client = redis.Redis.from_url(self.redis.url)
        return {k.decode() for k in client.hkeys(f"labelloop:annotations:{project}")}

    def stop(self) -> None:
        for s in self.servers:
            s.stop()
        for w in self.workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGKILL)
                w.wait()


LSML_VENV = Path(os.environ.get("LABELLOOP_LSML_VENV")
                 or Path.home() / ".cache" / "labelloop" / "lsml-venv-1.0.9")
EXAMPLES_VENV = Path(os.environ.get("LABELLOOP_EXAMPLES_VENV")
                     or Path.home() / ".cache" / "labelloop" / "examples-venv")
# The venv's editable labelloop points at whichever checkout made it (it outlives a CI
# clone); this checkout's sources go first on the path, so they are the ones tested.
THIS_CHECKOUT = {"PYTHONPATH": str(ROOT / "src")}
