"""``labelloop doctor`` and the status page's Connection panel: every check between Label
Studio and this backend, run from the backend's side.

Nothing here changes Label Studio: every call to it is a GET. Two of those GETs make
Label Studio ask the backend for ``/health`` and ``/setup`` and record the state it sees
(``/api/ml?project=``), exactly as opening the project's Model settings does; the
validate and train endpoints, which POST, are never called. The backend itself is sent
one ``/predict`` of a sample task, to time it.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from labelloop.backend.connection_judge import (
    FAIL,
    OK,
    SKIP,
    Check,
    judge_file,
    judge_latency,
    judge_legacy,
    judge_ml_backend,
    judge_predictions,
    judge_reachable,
    judge_redis,
    judge_token,
    judge_webhook,
    pick_entry,
)
from labelloop.backend.service import Backend
from labelloop.errors import LabelloopError, LabelStudioError, StoreUnavailable
from labelloop.sdk.label_studio import LabelStudioClient, same_origin
from labelloop.settings import Settings
from labelloop.store.project_ids import is_label_studio_project
from labelloop.store.projects import ProjectInfo

log = logging.getLogger("labelloop.backend")
PROBE_TIMEOUT_S = 10.0
PREDICT_TIMEOUT_S = 120.0  # past Label Studio's own default (100 s): measure, then judge
SAMPLE_BYTES = 64 * 1024  # a file counts as readable once this much (or all) arrived
CONFIG_UI = "Project → Settings → Labeling Interface"
FILE_PREFIXES = ("/data/", "data/", "/upload/", "upload/", "http://", "https://", "s3://",
                 "gs://", "azure-blob://")
PROJECT_CHECKS = ("ml_backend", "webhook", "label_config", "predictions", "task_files",
                  "health_latency", "predict_latency")
_ANSWERED = re.compile(r"answered (\d{3})")


@dataclass(frozen=True)
class Target:
    """Where to look: Label Studio, doctor's token, the project id in Label Studio, and
    the backend's URL as Label Studio knows it (None: what each is known as)."""

    label_studio_url: str | None = None
    token: str | None = None
    project: int | None = None
    backend_url: str | None = None


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": not self.failed, "seconds": round(self.seconds, 2),
                "checks": [c.to_dict() for c in self.checks]}

    def text(self) -> str:
        marks = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}
        lines = []
        for c in self.checks:
            lines.append(f"{marks[c.status]} {c.name}: {c.seen}")
            if c.fix and c.status != OK:
                lines.append(f"     fix: {c.fix}")
        verdict = "some checks failed" if self.failed else "everything connects"
        lines.append(f"{verdict} ({self.seconds:.1f} s)")
        return "\n".join(lines)


# -- what the backend knows ---------------------------------------------------------------
def registered_projects(backend: Backend) -> list[int]:
    """The Label Studio projects that have called /setup on this backend."""
    try:
        keys = backend.stores.registry.projects()
    except StoreUnavailable:
        return []
    return sorted(int(k) for k in keys if is_label_studio_project(k))


def held_tokens(settings: Settings, info: ProjectInfo | None) -> dict[str, str]:
    """The backend's Label Studio tokens by where they come from; the environment's wins."""
    held = {}
    if settings.label_studio_api_key:
        held["LABEL_STUDIO_API_KEY"] = settings.label_studio_api_key
    elif info and info.access_token:
        held["/setup"] = info.access_token
    return held


def resolve_target(target: Target, settings: Settings, backend: Backend | None) -> Target:
    """Fill what was not given from the backend's settings and what /setup sent."""
    project = target.project
    if project is None and backend is not None:
        known = registered_projects(backend)
        project = known[0] if len(known) == 1 else None
    info = _info(backend, project)
    url = target.label_studio_url or settings.label_studio_url or (info.hostname if info
                                                                  else None)
    token = target.token or next(iter(held_tokens(settings, info).values()), None)
    return replace(target, label_studio_url=url, token=token, project=project)


def _info(backend: Backend | None, project: int | None) -> ProjectInfo | None:
    return backend.models.project_info(str(project)) if backend and project else None


# -- calls ----------------------------------------------------------------------------------
def get(ls: LabelStudioClient, path: str, **params: Any) -> tuple[int | None, Any, str]:
    """One GET to Label Studio: (status, JSON or None, text); (None, None, why) when it
    could not be made at all."""
    try:
        resp = ls.http.get(urljoin(ls.url, path), params=params or None,
                           headers=ls.auth_headers(ls.http))
    except LabelStudioError as exc:  # the personal access token's refresh was refused
        status = _ANSWERED.search(exc.message)
        return (int(status[1]) if status else None), None, exc.message
    except httpx.HTTPError as exc:
        return None, None, f"{type(exc).__name__}: {exc}"
    try:
        data = resp.json()
    except ValueError:
        data = None
    return resp.status_code, data, resp.text[:500]


def timed_get(url: str) -> tuple[int | None, float, str | None]:
    started = time.perf_counter()
    try:
        status = httpx.get(url, timeout=PROBE_TIMEOUT_S).status_code
    except httpx.HTTPError as exc:
        return None, time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
    return status, time.perf_counter() - started, None


# -- the checks -----------------------------------------------------------------------------
def run_checks(target: Target, settings: Settings, backend: Backend | None) -> Report:
    """Every check, in order; a check whose ground is missing is skipped, saying why."""
    started = time.perf_counter()
    report = Report()
    target = resolve_target(target, settings, backend)
    report.checks += list(_label_studio_checks(target, settings, backend))
    if settings.redis_url:
        report.checks.append(redis_check(settings.redis_url))
    report.seconds = time.perf_counter() - started
    return report


def _label_studio_checks(target: Target, settings: Settings,
                         backend: Backend | None) -> Iterator[Check]:
    url = target.label_studio_url
    if not url:
        yield Check("label_studio", FAIL, "no Label Studio URL: none given, none set, and "
                    "no project has called /setup", "pass --label-studio URL, or set "
                    "LABEL_STUDIO_URL on the backend")
        return
    status, _, error = timed_get(url.rstrip("/") + "/health")
    yield (reach := judge_reachable(url, status, error))
    if reach.status == FAIL:
        yield from _skipped(("token", *PROJECT_CHECKS), "Label Studio does not answer")
        return
    with LabelStudioClient(url, target.token or "", timeout=PROBE_TIMEOUT_S) as ls:
        yield (token := _token_check(ls, target.token, "doctor's token"))
        if token.status == FAIL:
            yield from _skipped(PROJECT_CHECKS, "no valid token to read Label Studio with")
            return
        info = _info(backend, target.project)
        yield from _backend_token_checks(ls, target, settings, info)
        if target.project is None:
            yield Check("project", FAIL, "which project? this backend knows "
                        f"{registered_projects(backend) if backend else 'none'}",
                        "pass --project <Label Studio project id>")
            return
        yield from ProjectChecks(ls, target, settings, backend).run()


def _skipped(names: tuple[str, ...], why: str) -> Iterator[Check]:
    for name in names:
        yield Check(name, SKIP, f"not checked: {why}")


def _token_check(ls: LabelStudioClient, token: str | None, holder: str) -> Check:
    if not token:
        return judge_token(None, None, "", None, holder)
    status, data, text = get(ls, "api/current-user/whoami")
    who = data.get("email") or data.get("username") if isinstance(data, dict) else None
    return judge_token(token, status, text, who, holder)


def _backend_token_checks(ls: LabelStudioClient, target: Target, settings: Settings,
                          info: ProjectInfo | None) -> Iterator[Check]:
    held = held_tokens(settings, info)
    for where, token in held.items():
        if token != target.token:
            with LabelStudioClient(ls.url, token, timeout=PROBE_TIMEOUT_S) as own:
                yield _token_check(own, token, f"backend's token ({where})")
    status, data, _ = get(ls, "api/jwt/settings")
    enabled = bool(data.get("legacy_api_tokens_enabled")) if (
        status == 200 and isinstance(data, dict)) else None
    yield judge_legacy(enabled, held)


class ProjectChecks:
    """The checks of one Label Studio project, sharing what they read."""

    def __init__(self, ls: LabelStudioClient, target: Target, settings: Settings,
                 backend: Backend | None) -> None:
        assert target.project is not None
        self.ls, self.target, self.settings, self.backend = ls, target, settings, backend
        self.project = target.project
        self.key = str(self.project)
        self.entry: dict[str, Any] | None = None
        self.backend_url = target.backend_url
        self.health: tuple[int | None, float, str | None] | None = None

    def run(self) -> Iterator[Check]:
        status, project, text = get(self.ls, f"api/projects/{self.project}")
        if status != 200 or not isinstance(project, dict):
            yield Check("project", FAIL, f"project {self.project}: Label Studio answered "
                        f"{status}: {text[:200]}", "pass the id of a project this token "
                        "can see: --project ID")
            return
        yield self.ml_backend()
        yield self.webhook()
        yield self.label_config(str(project.get("label_config") or ""))
        yield self.predictions(project)
        task = self.sample_task()
        yield self.task_files(task)
        yield self.health_latency()
        yield self.predict_latency(task, str(project.get("label_config") or ""))

    def ml_backend(self) -> Check:
        _, entries, _ = get(self.ls, "api/ml", project=self.project)
        entries = entries if isinstance(entries, list) else []
        if self.backend_url is None and len(entries) > 1:  # several: the one on our port
            ours = [e for e in entries if urlsplit(str(e.get("url"))).port == self.settings.port]
            self.backend_url = str(ours[0]["url"]) if len(ours) == 1 else None
        self.entry = pick_entry(entries, self.backend_url)
        if self.backend_url is None and self.entry is not None:
            self.backend_url = str(self.entry["url"])
        if self.backend_url:
            self.health = timed_get(self.backend_url.rstrip("/") + "/health")
        answers = bool(self.health and self.health[0] in (200, 401))
        return judge_ml_backend(self.project, entries, self.backend_url, answers)

    def webhook(self) -> Check:
        if not self.backend_url:
            return Check("webhook", SKIP, "not checked: the backend's URL is not known "
                         "(pass --backend-url)")
        status, hooks, text = get(self.ls, "api/webhooks/", project=self.project)
        if status != 200 or not isinstance(hooks, list):
            return Check("webhook", FAIL, f"cannot list the project's webhooks: {status} "
                         f"{text[:200]}", "use a token of a project manager or admin")
        return judge_webhook(hooks, self.backend_url, self.settings.webhook_secret)

    def label_config(self, xml: str) -> Check:
        if self.backend is None:
            return Check("label_config", SKIP, "not checked: the model could not be loaded")
        models = self.backend.models
        try:
            config = models.label_config(xml)
            version = self.backend.stores.versions.current_version(self.key)
            output = (self.backend.stores.versions.get(self.key, version).train_output
                      if version else None)
            models.build(self.key, version, config, output, models.project_info(self.key))
        except LabelloopError as exc:
            return Check("label_config", FAIL, f"{self.backend.model_class.__name__} refuses "
                         f"the project's label config: {exc.message}"[:500],
                         f"change the label config in {CONFIG_UI} to one the model takes, "
                         "or serve a model written for it")
        return Check("label_config", OK, f"the label config parses and "
                     f"{self.backend.model_class.__name__} accepts it")

    def predictions(self, project: dict[str, Any]) -> Check:
        _, counts, _ = get(self.ls, f"api/projects/{self.project}/model-versions/")
        counts = counts if isinstance(counts, dict) else {}
        served = self.backend.model_version(self.key) if self.backend else None
        return judge_predictions(project, counts, self.entry, served)

    def sample_task(self) -> dict[str, Any] | None:
        _, page, _ = get(self.ls, "api/tasks", project=self.project, page_size=1,
                         include="id,data")
        tasks = page.get("tasks") if isinstance(page, dict) else None
        return tasks[0] if tasks else None

    def task_files(self, task: dict[str, Any] | None) -> Check:
        if task is None:
            return Check("task_files", OK, "the project has no tasks yet")
        urls = [v for v in (task.get("data") or {}).values()
                if isinstance(v, str) and v.startswith(FILE_PREFIXES)]
        if not urls:
            return Check("task_files", OK, f"task {task['id']} holds no file URLs")
        held = held_tokens(self.settings, _info(self.backend, self.project))
        token = next(iter(held.values()), self.target.token or "")
        with LabelStudioClient(self.ls.url, token, timeout=PROBE_TIMEOUT_S) as own:
            problems = [p for u in urls if (p := download(own, int(task["id"]), u))]
        if problems:
            return Check("task_files", FAIL, f"task {task['id']}: "
                         + "; ".join(s for s, _ in problems),
                         "; ".join(dict.fromkeys(f for _, f in problems)))
        return Check("task_files", OK, f"task {task['id']}: {len(urls)} file(s) download "
                     "with the backend's token")

    def health_latency(self) -> Check:
        if self.health is None or self.health[0] not in (200, 401):
            return Check("health_latency", SKIP, "not checked: the backend does not answer "
                         "here")
        return judge_latency("health", self.health[1], None)

    def predict_latency(self, task: dict[str, Any] | None, xml: str) -> Check:
        if task is None or (self.backend is None and not self.backend_url):
            return Check("predict_latency", SKIP, "not checked: no task, or no backend")
        body = {"tasks": [task], "project": self.key, "label_config": xml}
        if self.health and self.health[0] in (200, 401) and self.backend_url:
            return judge_latency("predict", *self._post_predict(body))
        if self.backend is None:
            return Check("predict_latency", SKIP, "not checked: the backend does not answer")
        backend = self.backend
        return judge_latency("predict", *_timed(lambda: backend.predict(
            self.key, [task], xml)))

    def _post_predict(self, body: dict[str, Any]) -> tuple[float | None, str | None]:
        auth = ((self.settings.basic_auth_user or "", self.settings.basic_auth_pass or "")
                if self.settings.auth_enabled else None)
        url = str(self.backend_url).rstrip("/") + "/predict"
        started = time.perf_counter()
        try:
            resp = httpx.post(url, json=body, auth=auth, timeout=PREDICT_TIMEOUT_S)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        if resp.status_code != 200:
            return None, f"{resp.status_code} {resp.text[:300]}"
        return time.perf_counter() - started, None


def _timed(call: Callable[[], object]) -> tuple[float | None, str | None]:
    started = time.perf_counter()
    try:
        call()
    except LabelloopError as exc:
        return None, exc.message
    return time.perf_counter() - started, None


def download(ls: LabelStudioClient, task_id: int, uri: str) -> tuple[str, str] | None:
    """Read the start of one task-data file as the backend would: Label Studio's own URLs
    with the token, cloud URIs through the task's presign endpoint, others without it."""
    kind = "storage" if uri.split("://")[0] in ("s3", "gs", "azure-blob") else "file"
    if kind == "storage":
        encoded = base64.urlsafe_b64encode(uri.encode()).decode()
        url = urljoin(ls.url, f"tasks/{task_id}/presign/?fileuri={encoded}")
    else:
        url = urljoin(ls.url, uri)
    status, error = _read_start(ls, url)
    return judge_file(uri, status, error, kind)


def _read_start(ls: LabelStudioClient, url: str) -> tuple[int | None, str | None]:
    try:
        for _ in range(3):  # a presigned URL is a redirect to the storage
            headers = ls.auth_headers(ls.http) if same_origin(url, ls.url) else {}
            with ls.http.stream("GET", url, headers=headers) as resp:
                if resp.is_redirect and "location" in resp.headers:
                    url = urljoin(url, resp.headers["location"])
                    continue
                for _chunk in resp.iter_bytes(SAMPLE_BYTES):
                    break
                return resp.status_code, None
    except LabelStudioError as exc:
        status = _ANSWERED.search(exc.message)
        return (int(status[1]) if status else None), exc.message
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return None, "too many redirects"


def redis_check(url: str) -> Check:
    from labelloop.training.rq_queue import queue_health

    try:
        workers, busy, queued, oldest = queue_health(url)
    except Exception:  # any Redis error means unreachable, as judged
        return judge_redis(False, 0, 0, None, 0)
    return judge_redis(True, workers, queued, oldest, busy)


# -- the status page's panel --------------------------------------------------------------
class ConnectionMonitor:
    """The checks for the status page: run in a background thread at most every
    ``ttl_s`` seconds; a request only reads the last report (so ``/status`` stays fast)."""

    def __init__(self, settings: Settings, backend: Backend, ttl_s: float = 60.0) -> None:
        self.settings, self.backend, self.ttl_s = settings, backend, ttl_s
        self._lock = threading.Lock()
        self._reports: dict[int | None, Report] = {}
        self._checked_at = 0.0
        self._running = False

    def reports(self) -> tuple[dict[int | None, Report], float]:
        """The last reports by project, and when they were made (0: never); starts a
        refresh when they are older than the TTL."""
        with self._lock:
            stale = time.monotonic() - self._checked_at > self.ttl_s or not self._checked_at
            if stale and not self._running:
                self._running = True
                threading.Thread(target=self.refresh, name="labelloop-connection",
                                 daemon=True).start()
            return dict(self._reports), self._checked_at

    def refresh(self) -> None:
        try:
            reports = self._check_all()
        finally:
            with self._lock:
                self._running = False
                self._checked_at = time.monotonic()
        with self._lock:
            self._reports = reports

    def _check_all(self) -> dict[int | None, Report]:
        try:
            projects: list[int | None] = list(registered_projects(self.backend)[:5]) or [None]
            return {p: run_checks(Target(project=p), self.settings, self.backend)
                    for p in projects}
        except Exception as exc:  # a diagnostic must never take the server down with it
            log.exception("the connection checks failed")
            return {None: Report([Check("checks", FAIL, f"the checks themselves failed: "
                                        f"{type(exc).__name__}: {exc}"[:300],
                                        "see the server's log")])}
