"""Scripts written for older LabelStudioMLBase APIs run unchanged: each generation through
init -> start -> /setup -> /predict -> webhooks -> background training -> the new version
served by another server process -> rollback, in local and Redis mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from labelloop.cli.studio import free_port
from support.data import TEXT_CONFIG, annotation_event
from support.servers import THIS_CHECKOUT, Deployment, Server, make_backend
from support.waiting import settled, wait_until

SCRIPTS = Path(__file__).parent / "compat_scripts"
GENERATIONS = {
    "gen1": "Label Studio 0.8/0.9 (label_studio.ml), labelloop's stand-in",
    "gen2": "label-studio-ml 1.0.x (label_studio_ml), labelloop's stand-in",
    "gen3": "label-studio-ml-backend 2.x (label_studio_ml), labelloop's stand-in",
}
SETUP = {"project": "1.1795555096", "schema": TEXT_CONFIG}
POSITIVE = ["很好很满意", "非常好用", "质量很好", "太棒了很好"]
NEGATIVE = ["太差了", "很差劲", "质量差", "差评退货"]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labelloop.cli.main", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def served(server: Server) -> str:
    return str(server.client.post("/setup", json=SETUP).json()["model_version"])


def predicted(server: Server, text: str, project: str | None = "1.1795555096") -> Any:
    body: dict[str, Any] = {"tasks": [{"id": 1, "data": {"text": text}}],
                            "label_config": TEXT_CONFIG}
    if project is not None:
        body["project"] = project
    resp = server.client.post("/predict", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["results"][0]


def choice(prediction: dict[str, Any] | list[Any]) -> str | None:
    if isinstance(prediction, list):  # no prediction for the task
        return None
    result = prediction["result"]
    return result[0]["value"]["choices"][0] if result else None


def annotate(server: Server, labels: dict[str, str], first_id: int = 1) -> None:
    for i, (text, label) in enumerate(labels.items(), start=first_id):
        resp = server.client.post("/webhook", json=annotation_event(i, i, text, label))
        assert resp.status_code == 200, resp.text


def new_version(server: Server, old: str) -> str:
    """The version served once training has settled on a version other than ``old`` (a
    burst may train more than one: the last one has seen every annotation)."""
    settled(server, check=lambda _: served(server) != old)
    return served(server)


@pytest.mark.parametrize("generation", ["gen1", "gen2", "gen3"])
def test_each_generation_trains_serves_and_rolls_back(
        generation: str, deployment: Deployment, tmp_path: Path) -> None:
    backend = make_backend(tmp_path / "backend", SCRIPTS / f"{generation}_text_classifier.py")
    first = deployment.start(backend)
    assert first.client.get("/health").json()["api"] == GENERATIONS[generation]
    untrained = served(first)
    # A 2.x script names its model itself (self.set("model_version", ...)): kept.
    own = "ReviewClassifier-v0.0.1" if generation == "gen3" else "ReviewClassifier"
    assert untrained == (own if generation == "gen3" else "ReviewClassifier-untrained")
    assert predicted(first, "很好") == []  # untrained, nothing to suggest: no prediction

    labels = {**dict.fromkeys(POSITIVE, "积极"), **dict.fromkeys(NEGATIVE, "消极")}
    annotate(first, labels)
    v1 = new_version(first, untrained)
    assert v1.startswith(own + "-") and v1.rsplit("-", 1)[1].isdigit()
    listed = first.client.get("/versions", params={"project": "1"}).json()["versions"]
    assert listed == [v1]  # one name per version: /versions, /setup and /predict agree
    # Another server process (in Redis mode, the job ran on a worker) serves it too.
    second = deployment.start(backend)
    assert served(second) == v1
    for server in (first, second):
        answer = predicted(server, "很好很好")
        assert answer["model_version"] == v1 and choice(answer) == "积极"
        assert choice(predicted(server, "太差")) == "消极"

    # Flip every label: the next version predicts the opposite.
    annotate(first, {**dict.fromkeys(POSITIVE, "消极"), **dict.fromkeys(NEGATIVE, "积极")})
    v2 = new_version(first, v1)
    assert choice(predicted(second, "很好很好")) == "消极"

    version = v1.rsplit("-", 1)[1]
    args = ["--model-dir", str(deployment.model_dir)]
    if deployment.redis:
        args += ["--redis-url", deployment.redis.url]
    back = cli("rollback", str(backend), "--project", "1", "--version", version, *args)
    assert back.returncode == 0, back.stderr
    for server in (first, second):
        wait_until(lambda s=server: served(s) == v1, timeout=10)
        assert choice(predicted(server, "很好很好")) == "积极", v2


def test_generation_3_versions_do_not_share_module_globals(
        tmp_path: Path, start_server: Any) -> None:
    """The script caches its model in a module global read from MODEL_DIR at import: one
    server process serves two versions of it side by side, each with its own model."""
    backend = make_backend(tmp_path / "backend", SCRIPTS / "gen3_text_classifier.py")
    server = start_server(backend)
    annotate(server, {**dict.fromkeys(POSITIVE, "积极"), **dict.fromkeys(NEGATIVE, "消极")})
    v1 = new_version(server, served(server))
    assert choice(predicted(server, "很好很好")) == "积极"  # v1's module caches its model
    annotate(server, {**dict.fromkeys(POSITIVE, "消极"), **dict.fromkeys(NEGATIVE, "积极")})
    v2 = new_version(server, v1)
    assert choice(predicted(server, "很好很好")) == "消极"
    folder = tmp_path / "models" / "1"
    for version, label in ((v1, "积极"), (v2, "消极")):
        number = version.rsplit("-", 1)[1]
        assert (folder / number / "model.pkl").exists()  # MODEL_DIR was the version folder
        cli("rollback", str(backend), "--project", "1", "--version", number,
            "--model-dir", str(tmp_path / "models"))
        assert choice(predicted(server, "很好很好")) == label
    # set() state is kept per project, and each version keeps what its fit set.
    state = json.loads((folder / ".state.json").read_text())
    assert state["last_trained_on"] == "8" and state["model_version"] == "ReviewClassifier-v0.0.1"


def test_old_train_body_with_completions_trains(tmp_path: Path, start_server: Any) -> None:
    """Label Studio 0.9's POST /train: {"completions": [...]} with annotations under
    "completions"; the job starts at once (an explicit request, no cadence wait)."""
    backend = make_backend(tmp_path / "backend", SCRIPTS / "gen1_text_classifier.py")
    server = start_server(backend, env={"LABELLOOP_TRAIN_MIN_INTERVAL": "3600"})
    untrained = served(server)
    completions = [{"id": i, "data": {"text": text}, "completions": [
        {"id": i * 1000, "result": [{"from_name": "sentiment", "to_name": "text",
                                      "type": "choices", "value": {"choices": [label]}}]}]}
        for i, (text, label) in enumerate(
            [(t, "积极") for t in POSITIVE] + [(t, "消极") for t in NEGATIVE], start=1)]
    resp = server.client.post("/train", json={
        "completions": completions, "project": "my_backend1a43", "label_config": TEXT_CONFIG,
        "params": {"login": None, "password": None}})
    assert resp.status_code == 201 and resp.json()["job"], resp.text
    body = {"tasks": [{"data": {"text": "很好"}}], "label_config": TEXT_CONFIG,
            "project": "my_backend1a43"}
    answer = wait_until(lambda: (r := server.client.post("/predict", json=body).json()[
        "results"][0]) and r, timeout=60)
    assert choice(answer) == "积极" and served(server) == untrained  # another project
    missing = server.client.post("/train", json={"project": "p", "label_config": TEXT_CONFIG})
    assert missing.status_code == 422 and missing.json()["field"] == "annotations"


def test_predict_without_project_serves_the_default_project(
        tmp_path: Path, start_server: Any) -> None:
    """The body every official example's test_api.py sends: tasks + label_config only."""
    backend = make_backend(tmp_path / "backend", SCRIPTS / "gen2_text_classifier.py")
    server = start_server(backend)
    resp = server.client.post("/predict", json={"tasks": [{"data": {"text": "很好"}}],
                                                "label_config": TEXT_CONFIG})
    assert resp.status_code == 200, resp.text
    assert resp.json()["model_version"] == "ReviewClassifier-untrained"
    assert resp.json()["results"] == [[]]  # untrained: no prediction


def test_init_forms_of_the_old_cli(tmp_path: Path) -> None:
    script = SCRIPTS / "gen2_text_classifier.py"
    two = tmp_path / "two.py"
    two.write_text(script.read_text() + "\n\nclass Other(ReviewClassifier):\n    pass\n")
    refused = cli("init", str(tmp_path / "a"), "--script", str(two))
    assert refused.returncode != 0 and "several model classes (Other, ReviewClassifier)" in (
        refused.stderr)
    made = cli("init", "b", "--from", f"{two}:Other", "--root-dir", str(tmp_path / "root"))
    assert made.returncode == 0, made.stderr
    config = json.loads((tmp_path / "root" / "b" / "labelloop.json").read_text())
    assert config == {"script": "two.py", "model_class": "Other"}
    again = cli("init", "b", "--script", str(script), "--root-dir", str(tmp_path / "root"))
    assert again.returncode != 0 and "--force" in again.stderr
    forced = cli("init", "b", "--script", f"{two}:ReviewClassifier", "--root-dir",
                 str(tmp_path / "root"), "--force")
    assert forced.returncode == 0, forced.stderr
    # --check builds the class as the old --check did (no project is set up yet, so no
    # label config): this script needs one, and says so.
    checked = cli("start", str(tmp_path / "root" / "b"), "--check")
    assert checked.returncode != 0 and "Traceback" not in checked.stderr
    assert "ReviewClassifier() failed" in checked.stderr
    assert "exactly one control tag (<Choices>), found 0" in checked.stderr


def test_wsgi_flags_and_config_json(tmp_path: Path) -> None:
    """config.json and --with KEY=VALUE reach the constructor, typed as the old _wsgi.py
    typed them; --check builds the model once and says why it cannot."""
    backend = make_backend(tmp_path / "backend", SCRIPTS / "gen2_text_classifier.py")
    (backend / "config.json").write_text(json.dumps({"regularisation": "not a number"}))
    bad = subprocess.run([sys.executable, str(backend / "_wsgi.py"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(backend / "_wsgi.py"), "-p", str(port), "--host", "127.0.0.1",
         "--log-level", "DEBUG", "-d", "--model-dir", str(tmp_path / "models"),
         "--with", "regularisation=0.5", "unused=true"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{url}/health").status_code == 200)
        for i, text in enumerate(POSITIVE + NEGATIVE, start=1):
            event = annotation_event(i, i, text, "积极" if text in POSITIVE else "消极")
            httpx.post(f"{url}/webhook", json=event)
        folder = tmp_path / "models" / "1"
        result = wait_until(lambda: [json.loads(p.read_text()) for p in folder.glob(
            "*/job_result.json") if json.loads(p.read_text())["status"] == "ok"], timeout=60)
        assert result[0]["train_output"]["regularisation"] == 0.5  # --with won, as a float
    finally:
        proc.terminate()
        out = proc.communicate(timeout=15)[0]
    assert '"GET /health HTTP/1.1" 200' in out  # -d logs every request
    good = subprocess.run([sys.executable, str(backend / "_wsgi.py"), "--check", "--model-dir",
                           str(tmp_path / "models"), "--with", "regularisation=2"],
                          capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stderr
    assert "ReviewClassifier (label-studio-ml 1.0.x" in good.stdout
    assert "built for project(s) 1" in good.stdout


def test_unsupported_members_fail_at_start_up_naming_them(tmp_path: Path) -> None:
    uses_manager = tmp_path / "manager.py"
    uses_manager.write_text("from label_studio_ml.model import LabelStudioMLBase, "
                            "LabelStudioMLManager\n\nclass M(LabelStudioMLBase):\n"
                            "    def predict(self, tasks, **kwargs):\n        return []\n")
    result = cli("init", str(tmp_path / "a"), "--script", str(uses_manager))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "label_studio_ml.model.LabelStudioMLManager (label-studio-ml)" in result.stderr

    no_predict = tmp_path / "nopredict.py"
    no_predict.write_text("from label_studio.ml import LabelStudioMLBase\n\n"
                          "class M(LabelStudioMLBase):\n    pass\n")
    result = cli("init", str(tmp_path / "b"), "--script", str(no_predict))
    assert result.returncode != 0
    assert "does not implement predict(), which LabelStudioMLBase of Label Studio 0.8/0.9" in (
        result.stderr)


@pytest.mark.skipif(__import__("importlib").util.find_spec("label_studio_sdk") is not None,
                    reason="label-studio-sdk is installed here: the error cannot happen")
def test_label_interface_without_the_sdk_names_the_extra(tmp_path: Path) -> None:
    script = tmp_path / "li.py"
    script.write_text("from label_studio_ml.model import LabelStudioMLBase\n\n"
                      "class M(LabelStudioMLBase):\n    def setup(self):\n"
                      "        self.labels = self.label_interface.labels\n\n"
                      "    def predict(self, tasks, context=None, **kwargs):\n"
                      "        return []\n")
    result = cli("init", str(tmp_path / "a"), "--script", str(script))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "label_interface" in result.stderr and "labelloop[sdk]" in result.stderr


def test_a_real_label_studio_ml_is_hosted_not_shadowed(lsml_python: str, tmp_path: Path) -> None:
    """With label-studio-ml 1.0.9 installed from PyPI, the script's class is the real
    package's, and labelloop hosts it: it trains in the background and serves."""
    backend = tmp_path / "backend"
    made = subprocess.run([lsml_python, "-m", "labelloop.cli.main", "init", str(backend),
                           "--script", str(SCRIPTS / "gen2_text_classifier.py")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **THIS_CHECKOUT})
    assert made.returncode == 0, made.stderr
    server = Server(backend, tmp_path / "models", python=lsml_python, env=THIS_CHECKOUT)
    try:
        api = server.client.get("/health").json()["api"]
        assert api == "label-studio-ml 1.0.x (label_studio_ml), installed 1.0.9"
        untrained = served(server)
        annotate(server, {**dict.fromkeys(POSITIVE, "积极"), **dict.fromkeys(NEGATIVE, "消极")})
        v1 = new_version(server, untrained)
        answer = predicted(server, "很好很好")
        assert answer["model_version"] == v1 and choice(answer) == "积极"
    finally:
        server.stop()
