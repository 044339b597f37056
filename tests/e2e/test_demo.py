"""`labelloop demo` as a user runs it: up, connected, training, and stopped without leftovers."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from labelloop.cli.studio import free_port
from labelloop.sdk.label_studio import LabelStudioClient
from support.waiting import settled, wait_until

from .conftest import validate_with_label_studio

READY = "Press Ctrl-C to stop both."
STOPPED = "Stopped the ML backend and Label Studio."


def _ctrl_c_as_in_a_terminal() -> None:
    """A suite started in the background by a non-interactive shell inherits SIGINT
    ignored, and Python keeps an inherited ignore: give the demo the terminal's default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Demo:
    """One `labelloop demo` process; its output is collected line by line."""

    def __init__(self, workdir: Path, ls_venv: Path, ports: tuple[int, int] | None = None,
                 task: str = "text") -> None:
        self.workdir = workdir
        self.ls_port, self.port = ports or (free_port(), free_port())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labelloop.cli.main", "demo", "--workdir", str(workdir),
             "--ls-venv", str(ls_venv), "--ls-port", str(self.ls_port),
             "--port", str(self.port), "--task", task],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
            start_new_session=True, preexec_fn=_ctrl_c_as_in_a_terminal)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:  # closed at the end of the output
            for line in self.proc.stdout:
                self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.output):
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and self.lines.empty()):
                raise AssertionError(f"no {text!r} in:\n" + "\n".join(self.output))
            try:
                self.output.append(self.lines.get(timeout=min(left, 1.0)))
            except queue.Empty:
                continue

    def client(self) -> LabelStudioClient:
        login = json.loads((self.workdir / "login.json").read_text())
        assert f"login         {login['username']}  /  {login['password']}" in "\n".join(
            self.output)
        return LabelStudioClient(f"http://127.0.0.1:{self.ls_port}", login["token"])

    def stop(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)
        self.wait_for(STOPPED, timeout=60)
        assert self.proc.wait(timeout=30) == 0


def leftovers(workdir: Path) -> list[psutil.Process]:
    """Processes still running from this demo folder (Label Studio, backend, runners)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        settings = (proc.info["environ"] or {}).get("LABELLOOP_SETTINGS_JSON", "")
        if str(workdir) in cmd or str(workdir) in settings:
            found.append(proc)
    return found


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "demo"
    yield folder
    for proc in leftovers(folder):  # a failed test must not leave a Label Studio running
        print("left over:", " ".join(proc.info["cmdline"] or []))
        with contextlib.suppress(psutil.Error):
            proc.kill()


def test_demo_starts_trains_restarts_and_stops_cleanly(ls_venv: Path, workdir: Path) -> None:
    demo = Demo(workdir, ls_venv)
    demo.wait_for(READY, timeout=240)
    assert f"Label Studio  http://127.0.0.1:{demo.ls_port}/projects/" in "\n".join(demo.output)
    ls = demo.client()
    [project] = ls.call("GET", "/api/projects")["results"]
    assert project["task_number"] == 200
    [ml] = ls.backends(project["id"])
    assert ml["state"] == "CO" and ml["model_version"] == "SimpleTextClassifier-untrained"

    # Annotating in Label Studio trains the backend: its webhook is wired by the demo.
    tasks = ls.tasks(project["id"])[:4]
    for task, label in zip(tasks, ["积极", "消极", "积极", "消极"], strict=True):
        ls.annotate(task["id"], [{"from_name": "sentiment", "to_name": "text",
                                  "type": "choices", "value": {"choices": [label]}}])
    backend = f"http://127.0.0.1:{demo.port}"

    with httpx.Client(base_url=backend) as client:  # a burst may train several: the last
        settled(client, str(project["id"]),
                check=lambda _: ls.ml(ml["id"])["model_version"] != ml["model_version"])
    trained = str(ls.ml(ml["id"])["model_version"])
    ls.close()
    demo.stop(signal.SIGINT)  # Ctrl-C
    wait_until(lambda: not leftovers(workdir), timeout=20)

    # A second start reuses the project, the login and the trained model; `kill` stops it.
    again = Demo(workdir, ls_venv, (demo.ls_port, demo.port))
    again.wait_for(READY, timeout=240)
    ls = again.client()
    [project] = ls.call("GET", "/api/projects")["results"]
    [ml] = ls.backends(project["id"])
    assert ml["model_version"] == trained
    ls.close()
    again.stop(signal.SIGTERM)
    wait_until(lambda: not leftovers(workdir), timeout=20)


def test_ner_demo_learns_spans_annotated_in_label_studio(ls_venv: Path, workdir: Path) -> None:
    demo = Demo(workdir, ls_venv, task="ner")
    demo.wait_for(READY, timeout=240)
    assert "labels PER / LOC / ORG" in "\n".join(demo.output)
    ls = demo.client()
    [project] = ls.call("GET", "/api/projects")["results"]
    assert project["task_number"] == 200 and '<Label value="PER"' in project["label_config"]
    [ml] = ls.backends(project["id"])
    assert ml["state"] == "CO" and ml["model_version"] == "NerTagger-untrained"

    # Annotate every occurrence of a few names in Label Studio; the tagger learns them.
    names = {"中国": "LOC", "北京": "LOC", "江泽民": "PER", "新华社": "ORG"}
    for task in ls.tasks(project["id"])[:60]:
        text = task["data"]["text"]
        spans = [(text.find(n), n, label) for n, label in names.items() if n in text]
        result = [{"from_name": "label", "to_name": "text", "type": "labels",
                   "value": {"start": i, "end": i + len(n), "text": n, "labels": [label]}}
                  for i, n, label in spans]
        ls.annotate(task["id"], result)  # no names here: an empty result teaches "none"
    wait_until(lambda: ls.ml(ml["id"])["model_version"] != ml["model_version"], timeout=120,
               interval=0.5)
    ls.retrieve_predictions(project["id"])
    predicted = [p for t in ls.tasks(project["id"])[60:] for p in t["predictions"]]
    assert predicted and any(r["type"] == "labels" for p in predicted for r in p["result"])
    assert not validate_with_label_studio(ls_venv, project["label_config"], predicted[:50])
    ls.close()
    demo.stop(signal.SIGINT)
    wait_until(lambda: not leftovers(workdir), timeout=20)
