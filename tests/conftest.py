"""Shared fixtures: real backend folders and real servers on free loopback ports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MODELS = Path(__file__).parent / "models"
EXAMPLE = ROOT / "src" / "labelloop" / "examples" / "simple_text_classifier.py"

TEXT_CONFIG = ('<View><Text name="text" value="$text"/>'
               '<Choices name="sentiment" toName="text"><Choice value="积极"/>'
               '<Choice value="消极"/><Choice value="中性"/></Choices></View>')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, OSError, ValueError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def ls_requests() -> list[dict[str, Any]]:
    """The real request bodies Label Studio 1.23.2 sent (../shared/LS-REQUESTS.jsonl)."""
    path = SHARED / "LS-REQUESTS.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def make_backend(folder: Path, script: Path) -> Path:
    result = subprocess.run([sys.executable, "-m", "labelloop.cli.main", "init", str(folder),
                             "--script", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return folder


class Server:
    """``labelloop start`` in a subprocess, reached over real HTTP."""

    def __init__(self, backend_dir: Path, model_dir: Path, env: dict[str, str] | None = None,
                 args: list[str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.model_dir = model_dir
        self.log = model_dir.parent / f"server-{self.port}.log"
        cmd = [sys.executable, "-m", "labelloop.cli.main", "start", str(backend_dir),
               "--host", "127.0.0.1", "--port", str(self.port), "--model-dir", str(model_dir),
               *(args or [])]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **(env or {})},
                                         start_new_session=True)
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


@pytest.fixture
def text_backend(tmp_path: Path) -> Path:
    return make_backend(tmp_path / "text_backend", EXAMPLE)


@pytest.fixture
def echo_backend(tmp_path: Path) -> Path:
    return make_backend(tmp_path / "echo_backend", MODELS / "echo_model.py")


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(backend_dir: Path, model_dir: Path | None = None, **kw: Any) -> Server:
        server = Server(backend_dir, model_dir or tmp_path / "models", **kw)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def annotation_event(ann_id: int, task_id: int, text: str, label: str, project: int = 1,
                     config: str = TEXT_CONFIG, action: str = "ANNOTATION_CREATED",
                     from_name: str = "sentiment") -> dict[str, Any]:
    """An ANNOTATION_CREATED body shaped like the recorded one."""
    return {
        "action": action,
        "annotation": {"id": ann_id, "task": task_id, "project": project, "was_cancelled": False,
                       "ground_truth": False, "completed_by": 1,
                       "result": [{"from_name": from_name, "to_name": "text", "type": "choices",
                                   "value": {"choices": [label]}}]},
        "task": {"id": task_id, "data": {"text": text}, "meta": {}, "project": project},
        "project": {"id": project, "label_config": config, "title": "t"},
    }


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)
