"""Backends shaped like label-studio-ml-backend's examples run unchanged on labelloop: their
own tests (``init_app(...).test_client()``), ``python _wsgi.py``, and ``gunicorn _wsgi:app``
as their Dockerfiles serve them, training in the background.

Each folder of ``data/examples`` is a backend of our own with the behaviour, API
generation and test shape of one of the weight-free examples that ship tests. A test here
copies it to a temporary folder and runs its test file with pytest there, as its
author would (``from _wsgi import init_app`` and ``from model import ...`` resolve from
the folder).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labelloop.cli.studio import free_port
from support.data import annotation_event
from support.servers import FAST_CADENCE, THIS_CHECKOUT, local_runners
from support.waiting import wait_until

EXAMPLES = Path(__file__).parent / "data" / "examples"
SCRIPTS = Path(__file__).parent / "compat_scripts"
# What a .pth line in labelloop's installation would do at interpreter start: make
# labelloop's stand-ins importable as label_studio_ml (a real installation still wins).
# Until one is shipped, the examples' processes start through this.
STANDINS = "import labelloop.compat.standins as s; s.install()"
RUN_PYTEST = f"{STANDINS}; import sys, pytest; sys.exit(pytest.main(sys.argv[1:]))"
RUN_SCRIPT = (f"{STANDINS}; import runpy, sys; sys.argv = sys.argv[1:]; "
              "runpy.run_path(sys.argv[0], run_name='__main__')")
RUN_GUNICORN = (f"{STANDINS}; import sys; from gunicorn.app.wsgiapp import run; "
                "sys.argv[0] = 'gunicorn'; sys.exit(run())")
# Settings of the outer environment that would change what the examples see.
OUTER = re.compile(r"(LABELLOOP_|LABEL_STUDIO_|OPENAI_|AZURE_|OLLAMA_|REDIS_|MODEL_DIR$)")

# name -> (test file, tests in it, environment). llm_interactive's test replaces the
# completion call, but the real OpenAI client is built first and wants a key.
CASES = {
    "sklearn_text_classifier": ("test_api.py", 1, {}),
    "interactive_substring_matching": ("test_api.py", 1, {}),
    "llm_interactive": ("test_api.py", 1, {"OPENAI_API_KEY": "unused-by-the-test"}),
    "tesseract": ("test_model.py", 2, {}),
}
SENTIMENT = """<View><Text name="text" value="$text"/>
<Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/>
<Choice value="Neutral"/></Choices></View>"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not OUTER.match(k)}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **THIS_CHECKOUT, **extra}


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_passes_its_own_tests(name: str, tmp_path: Path, examples_python: str) -> None:
    test_file, count, env = CASES[name]
    folder = shutil.copytree(EXAMPLES / name, tmp_path / name)
    result = subprocess.run(
        [examples_python, "-c", RUN_PYTEST, "-p", "no:cacheprovider", "-rA", test_file],
        cwd=folder, env=clean_env(**env), capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    summary = out.strip().splitlines()[-1]
    # Skipped (say, for a missing component) is not passed.
    assert f"{count} passed" in summary and "skipped" not in summary, out[-3000:]


@contextlib.contextmanager
def running(cmd: list[str], cwd: Path, env: dict[str, str], log: Path,
            port: int) -> Iterator[httpx.Client]:
    """A server process, stopped (with its whole process group) on the way out."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-3000:]}")
        return client.get("/health").status_code == 200

    try:
        wait_until(up, timeout=60)
        yield client
    finally:
        client.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_examples_wsgi_script_serves_with_labelloop(tmp_path: Path,
                                                         examples_python: str) -> None:
    """``python _wsgi.py --port ...``: init_app(...) then app.run(host, port, debug)."""
    folder = shutil.copytree(EXAMPLES / "sklearn_text_classifier", tmp_path / "backend")
    port = free_port()
    cmd = [examples_python, "-c", RUN_SCRIPT, "_wsgi.py", "-p", str(port), "--host",
           "127.0.0.1", "--debug"]
    with running(cmd, folder, clean_env(), tmp_path / "server.log", port) as client:
        health = client.get("/health").json()
        assert health["model_class"] == "SklearnTextClassifier"
        assert health["api"].startswith("label-studio-ml-backend 2.x")
        setup = client.post("/setup", json={"project": "3.1740000000", "schema": SENTIMENT})
        assert setup.json() == {"model_version": "SklearnTextClassifier-v0.0.1"}
        answer = client.post("/predict", json={
            "tasks": [{"id": 1, "data": {"text": "so negative"}}], "project": "3.1740000000",
            "label_config": SENTIMENT}).json()
        assert answer["results"][0]["model_version"] == "SklearnTextClassifier-v0.0.1"
        assert answer["results"][0]["result"][0]["value"]["choices"] == ["Negative"]
    assert '"GET /health HTTP/1.1" 200' in (tmp_path / "server.log").read_text()  # --debug


def test_gunicorn_serves_the_wsgi_app_and_training_goes_on(tmp_path: Path,
                                                           examples_python: str) -> None:
    """The examples' Dockerfile command, on a backend of the same shape: two preloaded
    worker processes; annotation webhooks train a new version in the background."""
    folder = tmp_path / "backend"
    folder.mkdir()
    shutil.copy(SCRIPTS / "gen3_text_classifier.py", folder / "model.py")
    wsgi = (EXAMPLES / "sklearn_text_classifier" / "_wsgi.py").read_text()
    (folder / "_wsgi.py").write_text(wsgi.replace("SklearnTextClassifier", "ReviewClassifier"))
    models = tmp_path / "models"
    port = free_port()
    cmd = [examples_python, "-c", RUN_GUNICORN, "--preload", "--workers", "2", "--threads",
           "4", "--timeout", "0", "--bind", f"127.0.0.1:{port}", "_wsgi:app"]
    env = clean_env(MODEL_DIR=str(models), LABELLOOP_RUNNER_LINGER="1", **FAST_CADENCE)
    setup = {"project": "1.1740000000", "schema": SENTIMENT}
    try:
        with running(cmd, folder, env, tmp_path / "gunicorn.log", port) as client:
            untrained = client.post("/setup", json=setup).json()["model_version"]
            assert untrained == "ReviewClassifier-v0.0.1"  # the script's own, as upstream
            texts = {"great, thanks": "Positive", "really great": "Positive",
                     "awful, broken": "Negative", "awful service": "Negative"}
            for i, (text, label) in enumerate(texts.items(), start=1):
                event = annotation_event(i, i, text, label, config=SENTIMENT)
                assert client.post("/webhook", json=event).status_code == 200

            def trained() -> str | None:
                busy = client.get("/is_training", params={"project": "1"}).json()
                version = client.post("/setup", json=setup).json()["model_version"]
                return version if version != untrained and not busy["is_training"] else None

            version = wait_until(trained, timeout=120)
            assert version.startswith(untrained + "-")  # the script's name, then labelloop's
            for _ in range(4):  # whichever worker answers serves the new version
                answer = client.post("/predict", json={
                    "tasks": [{"id": 9, "data": {"text": "great"}}], "project": "1",
                    "label_config": SENTIMENT}).json()["results"][0]
                assert answer["model_version"] == version
                assert answer["result"][0]["value"]["choices"] == ["Positive"]
    finally:
        for runner in local_runners(models):  # the training runners this test started
            with contextlib.suppress(Exception):
                runner.kill()
    assert "Booting worker" in (tmp_path / "gunicorn.log").read_text()
