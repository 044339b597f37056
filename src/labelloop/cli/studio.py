"""Run a real Label Studio 1.23.2 next to a backend: for ``labelloop demo`` and the e2e tests.

Label Studio lives in its own virtualenv (it pins Django and friends) and only speaks
HTTP to us. The environment below is what a local backend needs (see the README):

* ``ML_BLOCK_LOCAL_IP=false``: else ``POST /api/ml`` refuses a loopback backend URL (403);
* ``SSRF_PROTECTION_ENABLED=false``: else the training webhook to a local URL is not made;
* ``LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true``: else the token that /setup sends us
  (and ``Authorization: Token ...``) is refused with 401.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from labelloop.errors import LabelStudioError

LS_VERSION = "1.23.2"
DEFAULT_LS_VENV = Path.home() / ".cache" / "labelloop" / f"ls-venv-{LS_VERSION}"
LOCAL_BACKEND_ENV = {
    "ML_BLOCK_LOCAL_IP": "false",
    "SSRF_PROTECTION_ENABLED": "false",
    "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
}


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_ls_venv(venv: Path, echo: Any = print) -> Path:
    """The ``label-studio`` executable of ``venv``, installing it there if it is missing."""
    exe = venv / "bin" / "label-studio"
    if exe.exists():
        return exe
    echo(f"Installing label-studio=={LS_VERSION} into {venv} (once; about 1 GB, 1-2 minutes)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"label-studio=={LS_VERSION}"],
                   check=True)
    return exe


@dataclass
class LabelStudio:
    """A Label Studio server process with a fresh data dir and a known admin."""

    exe: Path
    data_dir: Path
    port: int
    username: str = "admin@labelloop.local"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    token: str = field(default_factory=lambda: secrets.token_hex(20))
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. Label Studio feature flags

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 240.0) -> None:
        if not port_is_free(self.port):
            # A busy port makes Label Studio silently take port+1: refuse instead.
            raise LabelStudioError(f"port {self.port} is busy; choose another with --ls-port")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **LOCAL_BACKEND_ENV, **self.extra_env,
               "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir)}
        cmd = [str(self.exe), "start", "--no-browser", "--port", str(self.port),
               "--internal-host", "127.0.0.1", "--data-dir", str(self.data_dir),
               # "--opt=value": a generated password may start with "-", which argparse
               # would otherwise take for an option ("expected one argument").
               f"--username={self.username}", f"--password={self.password}",
               f"--user-token={self.token}", "--enable-legacy-api-token"]
        with (self.data_dir / "label-studio.log").open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_up(timeout)

    def _wait_up(self, timeout: float) -> None:
        wait_healthy(self.url, self.proc, timeout, "Label Studio",
                     self.data_dir / "label-studio.log")

    def stop(self) -> None:
        stop_process_group(self.proc)

    def client(self) -> StudioClient:
        return StudioClient(self.url, self.token)


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, timeout: float, what: str,
                 log: Path) -> None:
    """Poll ``url``/health until it answers 200; fail if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise LabelStudioError(f"{what} exited during start-up (log: {log}):\n{tail}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise LabelStudioError(f"{what} did not answer on {url} within {timeout:.0f} s")


def stop_process_group(proc: subprocess.Popen[bytes] | None, grace: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class StudioClient:
    """The few Label Studio REST calls the demo and the e2e tests make."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=300,
                                 headers={"Authorization": f"Token {token}"})

    def call(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.http.request(method, path, **kw)
        if resp.status_code >= 400:
            raise LabelStudioError(f"{method} {path} -> {resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content else None

    def create_project(self, title: str, label_config: str) -> int:
        return int(self.call("POST", "/api/projects",
                             json={"title": title, "label_config": label_config})["id"])

    def find_project(self, title: str) -> int | None:
        projects = self.call("GET", "/api/projects", params={"page_size": 1000})["results"]
        return next((int(p["id"]) for p in projects if p["title"] == title), None)

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> int:
        return int(self.call("POST", f"/api/projects/{project}/import", json=tasks)["task_count"])

    def import_annotated(self, project: int, tasks: list[dict[str, Any]]) -> int:
        """Import export-format tasks with the first annotation of each (ids dropped:
        Label Studio gives its own)."""
        return self.import_tasks(project, [
            {"data": t["data"], "annotations": [{"result": t["annotations"][0]["result"]}]}
            for t in tasks])

    def connect_backend(self, project: int, url: str, title: str = "labelloop",
                        **extra: Any) -> dict[str, Any]:
        body = {"url": url, "project": project, "title": title, **extra}
        return dict(self.call("POST", "/api/ml", json=body))

    def backends(self, project: int) -> list[dict[str, Any]]:
        return list(self.call("GET", "/api/ml", params={"project": project}))

    def ml(self, ml_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"/api/ml/{ml_id}"))

    def retrieve_predictions(self, project: int, task_ids: list[int] | None = None) -> Any:
        selected = ({"all": True, "excluded": []} if task_ids is None
                    else {"all": False, "included": task_ids})
        return self.call("POST", "/api/dm/actions",
                         params={"id": "retrieve_tasks_predictions", "project": project},
                         json={"selectedItems": selected})

    def tasks(self, project: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.call("GET", "/api/tasks", params={"project": project, "page": page,
                                                          "page_size": 500, "fields": "all"})
            out += resp["tasks"]
            if len(out) >= resp["total"] or not resp["tasks"]:
                return out
            page += 1

    def annotate(self, task_id: int, result: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self.call("POST", f"/api/tasks/{task_id}/annotations/",
                              json={"result": result, "was_cancelled": False}))

    def close(self) -> None:
        self.http.close()
