"""The status page (/status) in a real headless Chromium, against a real server.

Two projects, three versions trained through webhooks; the page must list them, draw one
curve point per scored version, and its "roll back" button must switch what /predict
serves. The serve endpoint refuses forms without the page's token or from another site,
and basic auth covers the page. A screenshot lands in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import base64
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labelloop.server.status_page import BUSY_REFRESH_S, render_page, wants_html
from labelloop.server.status_routes import SECRET_FILE, CsrfTokens, Forbidden
from labelloop.settings import Settings
from support.browser import open_chromium
from support.data import MODELS, TEXT_CONFIG, annotation_event
from support.servers import Server, make_backend
from support.waiting import wait_until

ARTIFACTS = Path(__file__).parent / "artifacts"
USER, PASSWORD = "ls", "secret"
AUTH = httpx.BasicAuth(USER, PASSWORD)
BROWSER_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                  "image/webp,*/*;q=0.8")
# Chromium as root in a container: no sandbox, no GPU, nothing phoning home.


# -- a server with 2 projects and 3 versions --------------------------------------------
def _versions(client: httpx.Client, project: int) -> list[dict[str, Any]]:
    answer = client.get("/versions", params={"project": str(project)}).json()
    return list(answer["projects"].get(str(project), []))


def _train(client: httpx.Client, project: int, first_id: int, labels: list[str]) -> None:
    """Annotations by webhook (training on them is off), then one START_TRAINING: one job,
    so exactly one new version."""
    for i, label in enumerate(labels, start=first_id):
        event = annotation_event(i, i, f"第{i}条评论，质量还行", label, project=project)
        assert client.post("/webhook", json=event).status_code == 200
    start = client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": project}})
    assert start.status_code == 200 and start.json()["training"] is True, start.text


def _new_ok_version(client: httpx.Client, project: int, known: set[str]) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        fresh = [v for v in _versions(client, project) if v["version"] not in known]
        if fresh and fresh[-1]["status"] != "incomplete":
            return fresh[-1]
        return None

    version = wait_until(done, timeout=40, interval=0.2)
    assert version["status"] == "ok" and version["current"], version
    # >= 10 annotations: cross-validated, so the curve has a point for it.
    assert isinstance(version["score"], float), version
    return dict(version)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("status")
    backend = make_backend(tmp / "echo_backend", MODELS / "echo_model.py")
    server = Server(backend, tmp / "models", env={"LABELLOOP_TRAIN_ON_ANNOTATION": "false"},
                    args=["--basic-auth-user", USER, "--basic-auth-pass", PASSWORD])
    client = httpx.Client(base_url=server.url, auth=AUTH, timeout=30)
    try:
        # Project 1 first learns 积极 (12 annotations) and project 2 its only version, in
        # parallel; then project 1 gets 14 more, 消极, so its second version answers 消极.
        _train(client, 1, 1, ["积极"] * 12)
        _train(client, 2, 101, ["中性"] * 6 + ["积极"] * 4)
        p1_old = _new_ok_version(client, 1, set())
        p2 = _new_ok_version(client, 2, set())
        _train(client, 1, 13, ["消极"] * 14)
        p1_new = _new_ok_version(client, 1, {p1_old["version"]})
        yield {"server": server, "client": client, "p1_old": p1_old, "p1_new": p1_new,
               "p2": p2}
    finally:
        client.close()
        server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = open_chromium(tmp_path_factory.mktemp("chromium"))
    # As a browser does once the user typed the password into its basic-auth prompt.
    driver.execute_cdp_cmd("Network.enable", {})
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                           {"headers": {"Authorization": f"Basic {basic}"}})
    try:
        yield driver
    finally:
        driver.quit()


def _css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def _screenshot(driver: Any, name: str) -> Path:
    """The whole page, below the fold too (a headless window cannot outgrow its screen)."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


# -- in the browser ---------------------------------------------------------------------
def test_page_shows_each_projects_versions_and_curve(deployment: dict[str, Any],
                                                      browser: Any) -> None:
    server: Server = deployment["server"]
    browser.get(f"{server.url}/status")
    assert browser.title == "labelloop · status"
    refresh = _css(browser, 'meta[http-equiv="refresh"]')
    assert refresh and refresh[0].get_attribute("content").isdigit()

    expected = {"1": [deployment["p1_old"], deployment["p1_new"]], "2": [deployment["p2"]]}
    for project, versions in expected.items():
        section = f'section[data-project="{project}"]'
        rows = _css(browser, f"{section} table.versions tbody tr")
        # Newest first; each row says ok, and how many annotations it was trained on.
        assert [r.get_attribute("data-version") for r in rows] == [
            v["version"] for v in reversed(versions)]
        for row, version in zip(rows, reversed(versions), strict=True):
            assert row.get_attribute("data-status") == "ok"
            cells = [c.text for c in row.find_elements("css selector", "td")]
            assert cells[3] == str(version["n_train"]) and cells[5] == version["primary"]
            assert cells[6] == f"{version['score']:.3f}"
        served = _css(browser, f"{section} tr.served")
        assert [r.get_attribute("data-version") for r in served] == [versions[-1]["version"]]
        assert "served" in served[0].text
        # One point per version with a score (all of them here), the served one marked.
        points = _css(browser, f"{section} svg.curve circle.point")
        assert [p.get_attribute("data-version") for p in points] == [
            v["version"] for v in versions if v["score"] is not None] == [
            v["version"] for v in versions]
        marked = _css(browser, f"{section} svg.curve circle.point.served")
        assert [p.get_attribute("data-version") for p in marked] == [versions[-1]["version"]]
    assert len(_css(browser, "button.rollback")) == 1  # only project 1's older version
    path = _screenshot(browser, "status_page.png")
    assert path.stat().st_size > 10_000


def test_roll_back_button_switches_what_predict_serves(deployment: dict[str, Any],
                                                       browser: Any) -> None:
    server: Server = deployment["server"]
    client: httpx.Client = deployment["client"]
    old, new = deployment["p1_old"], deployment["p1_new"]
    predict = {"project": "1", "label_config": TEXT_CONFIG,
               "tasks": [{"id": 900, "data": {"text": "这个东西不错"}}]}

    def served() -> tuple[str, str]:
        answer = client.post("/predict", json=predict).json()
        return answer["model_version"], answer["results"][0]["result"][0]["value"]["choices"][0]

    assert served() == (new["model_version"], "消极")
    browser.get(f"{server.url}/status?refresh=0")  # no reload in the middle of the click
    button = _css(browser, f'section[data-project="1"] tr[data-version="{old["version"]}"] '
                           "button.rollback")
    assert len(button) == 1 and button[0].text == "roll back"
    button[0].click()
    # POST, then 303 back to the page, which now marks the old version served.
    wait_until(lambda: _css(browser, f'section[data-project="1"] tr.served'
                                     f'[data-version="{old["version"]}"]'), timeout=15)
    assert browser.current_url == f"{server.url}/status"
    assert served() == (old["model_version"], "积极")
    assert [p.get_attribute("data-version") for p in _css(
        browser, 'section[data-project="1"] circle.point.served')] == [old["version"]]
    # The newer version is ok and not served: its button serves it again.
    assert _css(browser, f'tr[data-version="{new["version"]}"] button.serve')
    _screenshot(browser, "status_page_after_rollback.png")


# -- over plain HTTP --------------------------------------------------------------------
def _token(client: httpx.Client) -> str:
    page = client.get("/status")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:2000]
    return found[1]


def test_serve_refuses_cross_site_and_tokenless_forms(deployment: dict[str, Any]) -> None:
    server: Server = deployment["server"]
    client: httpx.Client = deployment["client"]
    p2 = deployment["p2"]["version"]
    token = _token(client)
    same_origin = {"Origin": server.url}
    form = {"project": "2", "version": p2}

    def post(data: dict[str, str], headers: dict[str, str] | None = None,
             auth: Any = AUTH) -> httpx.Response:
        return client.post("/status/serve", data=data, headers=headers, auth=auth)

    for data, field in ((form, "csrf"), ({**form, "csrf": "1.abc"}, "csrf"),
                        ({**form, "csrf": token[:-1] + ("0" if token[-1] != "0" else "1")},
                         "csrf")):
        refused = post(data, same_origin)
        assert refused.status_code == 403, refused.text
        assert refused.json() == {"error": "forbidden", "message": refused.json()["message"],
                                  "field": field}
    # A valid token does not help a form posted from another site.
    for origin in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                   {"Referer": "http://evil.example/page"}):
        refused = post({**form, "csrf": token}, origin)
        assert refused.status_code == 403 and refused.json()["field"] == "origin"
    assert post({**form, "csrf": token}, same_origin, auth=None).status_code == 401
    # The backend still validates what it is asked to serve.
    assert post({"project": "../x", "version": p2, "csrf": token},
                same_origin).status_code == 422
    missing = post({"project": "2", "version": "123", "csrf": token}, same_origin)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    # The page's own form: token, same origin (or no Origin at all, as old clients send).
    for headers in (same_origin, {"Referer": f"{server.url}/status"}, None):
        ok = post({**form, "csrf": token}, headers)
        assert ok.status_code == 303 and ok.headers["location"] == "../status", ok.text


def test_basic_auth_covers_the_page_and_browsers_get_it_at_root(
        deployment: dict[str, Any]) -> None:
    client: httpx.Client = deployment["client"]
    for auth in (None, httpx.BasicAuth(USER, "wrong")):
        denied = client.get("/status", auth=auth, headers={"Accept": BROWSER_ACCEPT})
        assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith(
            "Basic")
    assert client.get("/", auth=None, headers={"Accept": BROWSER_ACCEPT}).status_code == 401
    home = client.get("/", headers={"Accept": BROWSER_ACCEPT})
    assert home.status_code == 303 and home.headers["location"] == "status"
    for accept in (None, "*/*", "application/json"):
        headers = {"Accept": accept} if accept else {}
        assert client.get("/", headers=headers).json()["status"] == "UP"
    assert client.get("/health", headers={"Accept": BROWSER_ACCEPT}).json()["status"] == "UP"


# -- the pieces, without a server -------------------------------------------------------
EVIL = '<script>alert("x")</script>'


def _version(version: str, status: str, score: float | None, **kw: Any) -> dict[str, Any]:
    return {"version": version, "model_version": f"M-{version}", "status": status,
            "current": False, "pinned": False, "created": float(version), "time": 1.5,
            "n_train": 10, "n_eval": 10, "primary": "accuracy", "score": score,
            "evaluation": "kfold", "decision": None, "current_score": None, "error": None,
            **kw}


def _busy_project(message: str = EVIL) -> dict[str, Any]:
    """A project in every state the page knows: served, pinned, rejected, failed, running."""
    versions = [
        _version("1000", "ok", 0.5, current=True, pinned=True, n_train=40),
        _version("1001", "rejected", 0.4, decision=message, n_train=55),
        _version("1002", "error", None, error=message, n_train=60),
        _version("1003", "incomplete", None, n_train=None, n_eval=None, time=None),
    ]
    return {
        "project": "p-1", "model_version": "M-1000", "versions": versions,
        "running": {"job_id": "a" * 32, "kind": "train", "source": "webhooks",
                    "started": 1003.0, "fraction": 0.25, "message": message},
        "queued": {"job_id": "d" * 32, "kind": "train", "source": "label_studio",
                   "created": 1008.0},
        "failures": [{"job_id": "c" * 32, "outcome": "failed", "state": "failed",
                      "version": "1002", "ended": 1003.0, "error": message},
                     {"job_id": "b" * 32, "outcome": "rejected", "version": "1001",
                      "ended": 1002.0, "error": "worse"}],
    }


def test_a_busy_project_in_the_browser(browser: Any, tmp_path: Path) -> None:
    """Progress bar, queued job, failures and a promote button, as Chromium draws them."""
    message = "cross-validation 2/5: fold 2 of 5\nValueError: fit failed on purpose"
    page = render_page([_busy_project(message)], csrf="t", now=1010.0,
                       about={"model_class": "EchoModel", "mode": "local", "version": "0.1"})
    (tmp_path / "busy.html").write_text(page, encoding="utf-8")
    browser.get((tmp_path / "busy.html").as_uri())
    bar = _css(browser, "div.job.running progress")
    assert len(bar) == 1 and float(bar[0].get_property("value")) == 0.25
    assert _css(browser, "div.job.queued") and len(_css(browser, "li.failure")) == 2
    assert [b.text for b in _css(browser, "td.act button")] == ["promote"]
    assert len(_css(browser, "circle.point")) == 2
    _screenshot(browser, "status_page_busy.png")


def test_render_escapes_text_and_offers_the_right_buttons() -> None:
    project = _busy_project()
    versions = project["versions"]
    page = render_page([project], csrf='t"<', about={"model_class": EVIL, "mode": "local"},
                       now=1010.0)
    assert "<script" not in page and page.count("&lt;script&gt;") >= 4
    assert 'value="t&quot;&lt;"' in page
    assert f'content="{BUSY_REFRESH_S}"' in page  # a job runs: a short refresh
    assert '<progress max="1" value="0.250">' in page
    assert page.count('class="point ') == 2  # the two versions with a score
    assert page.count('class="promote"') == 1 and 'class="rollback"' not in page
    assert page.count("<form") == 1  # nothing for the served, failed or incomplete ones
    assert "serving" in page and "pinned" in page
    assert "no version has a score" in render_page(
        [{**project, "versions": [versions[3]], "running": None}], csrf="t", about={})
    assert wants_html(BROWSER_ACCEPT) and not wants_html("application/json, text/html")


def test_tokens_agree_across_processes_and_expire(tmp_path: Path) -> None:
    settings = Settings(backend_dir=tmp_path, model_dir=tmp_path / "models")
    first, second = CsrfTokens(settings), CsrfTokens(settings)  # two server processes
    token = first.issue()
    second.check(token)
    secret = settings.model_dir / SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert [p.name for p in settings.model_dir.iterdir()] == [SECRET_FILE]  # no temp left
    for bad in (None, "", token + "0", "1." + "0" * 64, "x" * 5000):
        with pytest.raises(Forbidden):
            second.check(bad)
    with pytest.raises(Forbidden, match="expired"):
        second.check(first.issue(now=time.time() - 13 * 3600))
    other = Settings(backend_dir=tmp_path, model_dir=tmp_path / "elsewhere")
    with pytest.raises(Forbidden):
        CsrfTokens(other).check(token)


def test_tokens_fall_back_to_the_configured_secrets(tmp_path: Path) -> None:
    """An unusable key file (here: empty): every process derives the key from the
    credentials they all were given, so their tokens still agree."""
    (tmp_path / SECRET_FILE).write_bytes(b"")
    settings = Settings(backend_dir=tmp_path, model_dir=tmp_path, basic_auth_user=USER,
                        basic_auth_pass=PASSWORD)
    CsrfTokens(settings).check(CsrfTokens(settings).issue())
    other = Settings(backend_dir=tmp_path, model_dir=tmp_path, basic_auth_user=USER,
                     basic_auth_pass="another")
    with pytest.raises(Forbidden):
        CsrfTokens(other).check(CsrfTokens(settings).issue())
