"""End to end: `labelloop doctor` against a real Label Studio 1.23.2, each misconfiguration
reproduced for real, and the cause and fix it names.

The session's Label Studio runs with the three settings a local backend needs off; the
two that only take effect at Label Studio's start (SSRF_PROTECTION_ENABLED and
ML_BLOCK_LOCAL_IP) get one more Label Studio each, started and stopped in their test.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelloop.cli.studio import LabelStudio, free_port
from labelloop.errors import LabelStudioError
from labelloop.sdk.label_studio import LabelStudioClient
from support.browser import open_chromium
from support.data import EXAMPLE, TWO_LABEL_CONFIG
from support.servers import Server, make_backend
from support.waiting import wait_until

NER_CONFIG = ('<View><Text name="text" value="$text"/><Labels name="ner" toName="text">'
              '<Label value="PER"/></Labels></View>')
TEXTS = ["非常满意", "太差了", "还可以吧"]


class Backend:
    def __init__(self, folder: Path, server: Server) -> None:
        self.folder, self.server = folder, server

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    root = tmp_path_factory.mktemp("doctor")
    folder = make_backend(root / "backend", EXAMPLE)
    server = Server(folder, root / "models")
    yield Backend(folder, server)
    server.stop()


def doctor(backend: Backend, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    """Run the real command; its exit status and its checks by name."""
    out = subprocess.run([sys.executable, "-m", "labelloop.cli.main", "doctor",
                          str(backend.folder), "--model-dir", str(backend.server.model_dir),
                          "--format", "json", *args], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout, out.stderr
    report = json.loads(out.stdout)
    return out.returncode, {c["name"]: c for c in report["checks"]}


def connected_project(ls: LabelStudioClient, backend: Backend, title: str,
                      config: str = TWO_LABEL_CONFIG,
                      tasks: list[dict[str, Any]] | None = None) -> int:
    project = ls.create_project(f"{title} {secrets.token_hex(3)}", config)
    ls.import_tasks(project, tasks or [{"text": t} for t in TEXTS])
    ls.connect_backend(project, backend.url)
    return project


def failed(checks: dict[str, dict[str, Any]]) -> set[str]:
    return {n for n, c in checks.items() if c["status"] == "fail"}


def test_a_healthy_project_is_all_ok(ls: LabelStudioClient, backend: Backend) -> None:
    project = connected_project(ls, backend, "healthy")
    code, checks = doctor(backend, "--project", str(project))
    assert code == 0, checks
    assert {n: c["status"] for n, c in checks.items() if c["status"] != "ok"} == {}
    assert {"label_studio", "token", "legacy_tokens", "ml_backend", "webhook", "label_config",
            "predictions", "task_files", "health_latency", "predict_latency"} <= set(checks)
    assert "legacy token" in checks["token"]["seen"]
    assert "ML_TIMEOUT_PREDICT" in checks["predict_latency"]["seen"]


def test_label_studio_down(backend: Backend) -> None:
    code, checks = doctor(backend, "--label-studio", f"http://127.0.0.1:{free_port()}",
                          "--project", "1")
    assert code == 1
    assert failed(checks) == {"label_studio"}
    assert "--label-studio URL" in checks["label_studio"]["fix"]
    assert checks["token"]["status"] == "skip"


def test_a_wrong_token(ls: LabelStudioClient, backend: Backend) -> None:
    project = connected_project(ls, backend, "wrong token")
    code, checks = doctor(backend, "--project", str(project), "--token", secrets.token_hex(20))
    assert code == 1
    assert checks["token"]["status"] == "fail"
    assert "refuses" in checks["token"]["seen"] and "legacy token" in checks["token"]["seen"]
    assert "LABEL_STUDIO_API_KEY" in checks["token"]["fix"]


def test_legacy_tokens_off_while_the_backend_holds_one(ls: LabelStudioClient,
                                                       backend: Backend, pat: str) -> None:
    project = connected_project(ls, backend, "legacy off")  # /setup hands over a legacy token
    with LabelStudioClient(ls.url, pat) as admin:
        admin.call("POST", "api/jwt/settings", json={"api_tokens_enabled": True,
                                                     "legacy_api_tokens_enabled": False})
        try:
            code, checks = doctor(backend, "--project", str(project), "--token", pat)
        finally:
            admin.call("POST", "api/jwt/settings", json={"api_tokens_enabled": True,
                                                         "legacy_api_tokens_enabled": True})
    assert code == 1
    assert checks["token"]["status"] == "ok" and "personal access token" in checks["token"]["seen"]
    assert checks["legacy_tokens"]["status"] == "fail"
    assert "Legacy Tokens" in checks["legacy_tokens"]["fix"]
    assert checks["backend_token"]["status"] == "fail"
    assert "legacy tokens are disabled" in checks["backend_token"]["seen"]


def test_a_backend_url_label_studio_cannot_reach(ls: LabelStudioClient, backend: Backend,
                                                 tmp_path: Path) -> None:
    other = Server(backend.folder, backend.server.model_dir)
    project = ls.create_project(f"unreachable {secrets.token_hex(3)}", TWO_LABEL_CONFIG)
    ls.import_tasks(project, [{"text": t} for t in TEXTS])
    ls.connect_backend(project, other.url)
    other.stop()
    code, checks = doctor(backend, "--project", str(project), "--backend-url", other.url)
    assert code == 1
    assert checks["ml_backend"]["status"] == "fail"
    assert "disconnected" in checks["ml_backend"]["seen"]
    assert "cannot reach" in checks["ml_backend"]["seen"]
    assert "labelloop start" in checks["ml_backend"]["fix"]


def test_a_label_config_the_model_refuses(ls: LabelStudioClient, backend: Backend) -> None:
    # Connecting with it is refused: /setup builds the model and Label Studio shows its
    # error (issue 19). A config changed after connecting is what doctor finds.
    refused = ls.create_project(f"ner config refused {secrets.token_hex(3)}", NER_CONFIG)
    with pytest.raises(LabelStudioError, match="valid ML backend"):
        ls.connect_backend(refused, backend.url)
    project = connected_project(ls, backend, "ner config")
    ls.update_project(project, label_config=NER_CONFIG)
    code, checks = doctor(backend, "--project", str(project))
    assert code == 1
    assert checks["label_config"]["status"] == "fail"
    assert "<choices>" in checks["label_config"]["seen"]
    assert "Labeling Interface" in checks["label_config"]["fix"]


def test_a_local_file_the_backend_cannot_read(ls: LabelStudioClient, backend: Backend) -> None:
    """The session's Label Studio serves local files: a missing one is a 404 (a Label Studio
    that serves none, a 403: test_ssrf_protection_leaves_no_webhook)."""
    project = connected_project(ls, backend, "local files",
                                tasks=[{"text": "/data/local-files/?d=texts/missing.txt"}])
    code, checks = doctor(backend, "--project", str(project))
    assert code == 1
    assert failed(checks) == {"task_files"}
    assert "404" in checks["task_files"]["seen"]
    assert "Cloud Storage → Local files" in checks["task_files"]["fix"]


def test_a_selected_version_with_no_predictions(ls: LabelStudioClient,
                                                backend: Backend) -> None:
    """Selected once it had predictions; the only task holding them deleted since (deleting
    the version itself would clear the selection)."""
    project = connected_project(ls, backend, "empty version")
    task = max(t["id"] for t in ls.tasks(project))
    ls.import_predictions(project, [{"task": task, "model_version": "old-model", "result": [
        {"from_name": "sentiment", "to_name": "text", "type": "choices",
         "value": {"choices": ["积极"]}}]}])
    ls.update_project(project, model_version="old-model")
    ls.call("DELETE", f"api/tasks/{task}/")
    code, checks = doctor(backend, "--project", str(project))
    assert code == 1
    assert failed(checks) == {"predictions"}
    assert "'old-model' has no predictions" in checks["predictions"]["seen"]
    assert "Retrieve Predictions" in checks["predictions"]["fix"]


def test_show_predictions_off(ls: LabelStudioClient, backend: Backend) -> None:
    project = connected_project(ls, backend, "hidden")
    ls.update_project(project, show_collab_predictions=False)
    code, checks = doctor(backend, "--project", str(project))
    assert code == 1
    assert failed(checks) == {"predictions"}
    assert "Use predictions to prelabel tasks" in checks["predictions"]["fix"]


@pytest.fixture
def strict_studio(ls_venv: Path, tmp_path: Path,
                  request: pytest.FixtureRequest) -> Iterator[LabelStudio]:
    """A Label Studio of its own, with Label Studio's defaults for the given settings."""
    studio = LabelStudio(ls_venv / "bin" / "label-studio", tmp_path / "ls", free_port(),
                         extra_env=request.param)
    studio.start(timeout=600)  # a fresh database on a busy machine
    yield studio
    studio.stop()


@pytest.mark.parametrize("strict_studio", [{"SSRF_PROTECTION_ENABLED": "true"}],
                         indirect=True)
def test_ssrf_protection_leaves_no_webhook(strict_studio: LabelStudio,
                                           backend: Backend) -> None:
    """Label Studio 1.23.2 saves the ML backend, then its webhook's URL check raises: Connect
    Model answers 403, yet the model shows as connected, without a webhook."""
    with strict_studio.client() as ls:
        project = ls.create_project(f"ssrf {secrets.token_hex(3)}", TWO_LABEL_CONFIG)
        # Label Studio's defaults also serve no local files: a 403 for this one.
        ls.import_tasks(project, [{"text": "/data/local-files/?d=texts/a.txt"}])
        with pytest.raises(Exception, match="403"):
            ls.connect_backend(project, backend.url)
        assert ls.call("GET", "api/webhooks/", params={"project": project}) == []
        ls.update_project(project, model_version="labelloop")  # as the UI's selection would
        code, checks = doctor(backend, "--project", str(project), "--label-studio", ls.url,
                              "--token", ls.api_key)
    assert code == 1
    assert failed(checks) == {"webhook", "task_files"}
    assert checks["ml_backend"]["status"] == "ok"
    assert "SSRF_PROTECTION_ENABLED=false" in checks["webhook"]["fix"]
    assert "403" in checks["task_files"]["seen"]
    assert "LOCAL_FILES_SERVING_ENABLED=true" in checks["task_files"]["fix"]


@pytest.mark.parametrize("strict_studio", [{"ML_BLOCK_LOCAL_IP": "true"}], indirect=True)
def test_ml_block_local_ip_refuses_a_loopback_backend(strict_studio: LabelStudio,
                                                      backend: Backend) -> None:
    with strict_studio.client() as ls:
        project = ls.create_project(f"local ip {secrets.token_hex(3)}", TWO_LABEL_CONFIG)
        ls.import_tasks(project, [{"text": t} for t in TEXTS])
        with pytest.raises(Exception, match="403"):
            ls.connect_backend(project, backend.url)
        code, checks = doctor(backend, "--project", str(project), "--label-studio", ls.url,
                              "--token", ls.api_key, "--backend-url", backend.url)
    assert code == 1
    assert checks["ml_backend"]["status"] == "fail"
    assert "ML_BLOCK_LOCAL_IP=false" in checks["ml_backend"]["fix"]


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Any]:
    driver = open_chromium(tmp_path / "chromium")
    try:
        yield driver
    finally:
        driver.quit()


def test_the_connection_panel_in_a_browser(ls: LabelStudioClient, backend: Backend,
                                           chromium: Any, tmp_path: Path) -> None:
    """Its own server (one project known); predictions hidden: the panel shows it, with
    the fix, and never a token."""
    from selenium.webdriver.common.by import By

    server = Server(backend.folder, tmp_path / "models")
    try:
        project = ls.create_project(f"panel {secrets.token_hex(3)}", TWO_LABEL_CONFIG)
        ls.import_tasks(project, [{"text": t} for t in TEXTS])
        ls.connect_backend(project, server.url)
        ls.update_project(project, show_collab_predictions=False)

        def rows() -> dict[str, Any] | None:
            chromium.get(f"{server.url}/status?refresh=0")
            found = {r.get_attribute("data-check"): r for r in chromium.find_elements(
                By.CSS_SELECTOR, "section.connection tr.check")}
            return found or None

        found = wait_until(rows, timeout=60, interval=1)
        assert "ck-fail" in found["predictions"].get_attribute("class")
        assert "Use predictions to prelabel tasks" in found["predictions"].text
        for ok in ("label_studio", "token", "ml_backend", "webhook", "label_config"):
            assert "ck-ok" in found[ok].get_attribute("class"), found[ok].text
        page = chromium.page_source
        assert f"Label Studio project {project}" in page
        assert ls.api_key not in page
        health = server.client.get("/health").json()
        assert health["status"] == "UP" and "checks" not in health
    finally:
        server.stop()
