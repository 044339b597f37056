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
from labelloop.sdk.label_studio import LabelStudioClient

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
        try:
            self._wait_up(timeout)
        except BaseException:  # too slow, or interrupted: never leave it running unowned
            self.stop()
            raise

    def _wait_up(self, timeout: float) -> None:
        wait_healthy(self.url, self.proc, timeout, "Label Studio",
                     self.data_dir / "label-studio.log")

    def stop(self) -> None:
        stop_process_group(self.proc)

    def client(self) -> LabelStudioClient:
        """A client with the admin's legacy token (long timeouts: imports are slow)."""
        return LabelStudioClient(self.url, self.token, timeout=300)


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
