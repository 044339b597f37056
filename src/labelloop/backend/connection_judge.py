"""Judgements of ``labelloop doctor``: what was seen between Label Studio and the backend,
turned into a :class:`Check` that names the cause and the exact fix.

Each function here is pure (observations in, a verdict out), so every verdict is tested
without a network; :mod:`labelloop.backend.connection` makes the observations. The
settings named are the ones Label Studio 1.23.2 reads (``core/settings/base.py``,
``ml/api_connector.py``, ``jwt_auth/auth.py``, ``io_storages/localfiles/views.py``).

>>> token_kind("0123456789abcdef0123456789abcdef01234567"), token_kind("a.b.c")
('legacy token', 'personal access token')
>>> is_private_url("http://127.0.0.1:9090"), is_private_url("https://ml.example.com")
(True, False)
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
# Label Studio's timeouts for calls to an ML backend (seconds), with its defaults.
ML_TIMEOUTS = {"health": ("ML_TIMEOUT_HEALTH", 1.0), "setup": ("ML_TIMEOUT_SETUP", 3.0),
               "predict": ("ML_TIMEOUT_PREDICT", 100.0)}
LEGACY_OFF_TEXT = "legacy token authentication has been disabled"
# Where to find a token, not one:
TOKEN_UI = ("Label Studio → your avatar → Account & Settings → Personal Access Token "  # noqa: S105
            "(or Legacy Token)")
LEGACY_UI = "Label Studio → Organization → API Tokens Settings → Legacy Tokens"
MODEL_UI = "Project → Settings → Model"
WEBHOOK_UI = "Project → Settings → Webhooks"
PRELABEL_UI = "Project → Settings → Annotation → \"Use predictions to prelabel tasks\""
STATES = {"CO": "connected", "DI": "disconnected", "ER": "error", "TR": "training",
          "PR": "predicting"}
_HEX40 = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, the verdict, what was seen, the fix."""

    name: str
    status: str  # ok | warn | fail | skip
    seen: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def token_kind(token: str) -> str:
    """A personal access token is a JWT (a refresh token); a legacy token 40 hex digits."""
    if token.count(".") == 2:
        return "personal access token"
    return "legacy token" if _HEX40.fullmatch(token) else "unknown kind of token"


def shown(url: str) -> str:
    """A URL fit to print: no user, password or query (which may carry a secret).

    >>> shown("http://u:pw@ml:9090/webhook?secret=s")
    'http://ml:9090/webhook'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def is_private_url(url: str) -> bool:
    """Whether a URL's host is loopback, private or link-local: what Label Studio's
    ``ML_BLOCK_LOCAL_IP`` and ``SSRF_PROTECTION_ENABLED`` refuse. Names are resolved."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            addresses = {ipaddress.ip_address(str(a[4][0]))
                         for a in socket.getaddrinfo(host, None)}
        except (OSError, UnicodeError):
            return host == "localhost"
    return any(a.is_private or a.is_loopback or a.is_link_local for a in addresses)


# -- Label Studio and the tokens ----------------------------------------------------------
def judge_reachable(url: str, status: int | None, error: str | None) -> Check:
    if status == 200:
        return Check("label_studio", OK, f"Label Studio answers at {url}")
    seen = (f"no answer from {url}: {error}" if status is None
            else f"{url}/health answered {status}")
    return Check("label_studio", FAIL, seen,
                 "start Label Studio, or pass its URL: --label-studio URL (on the backend: "
                 "LABEL_STUDIO_URL)")


def judge_token(token: str | None, status: int | None, body: str, who: str | None,
                holder: str = "doctor's token") -> Check:
    """``status``/``body``: Label Studio's answer to ``/api/current-user/whoami``."""
    name = "token" if holder == "doctor's token" else "backend_token"
    if not token:
        return Check(name, FAIL, f"no {holder}",
                     "pass --token, or set LABEL_STUDIO_API_KEY on the backend "
                     f"(copy it from {TOKEN_UI})")
    kind = token_kind(token)
    if status == 200:
        return Check(name, OK, f"{holder}: a valid {kind} of {who or 'a user'}")
    if status == 401 and LEGACY_OFF_TEXT in body:
        return Check(name, FAIL, f"{holder} is a {kind}, and legacy tokens are disabled in "
                     "the organisation: Label Studio answers 401",
                     f"turn on {LEGACY_UI}, or give the backend a personal access token: "
                     "LABEL_STUDIO_API_KEY=<token> (and doctor --token <token>)")
    if status in (401, 403):
        return Check(name, FAIL, f"Label Studio refuses the {holder} ({kind}): {status}",
                     f"copy a current token from {TOKEN_UI} into LABEL_STUDIO_API_KEY "
                     "(doctor: --token)")
    return Check(name, FAIL, f"Label Studio answered {status} to the {holder}: {body[:200]}",
                 "see Label Studio's log")


def judge_legacy(enabled: bool | None, held: Mapping[str, str]) -> Check:
    """``enabled``: the organisation's ``legacy_api_tokens_enabled`` (None: not readable);
    ``held``: the backend's tokens by where they come from."""
    legacy = [where for where, tok in held.items() if token_kind(tok) == "legacy token"]
    if enabled is None:
        return Check("legacy_tokens", WARN, "cannot read the organisation's token settings "
                     "(GET /api/jwt/settings needs an organisation admin's token)",
                     f"see {LEGACY_UI}")
    if enabled or not legacy:
        state = "on" if enabled else "off"
        kinds = ", ".join(f"a {token_kind(t)} ({w})" for w, t in held.items())
        return Check("legacy_tokens", OK, f"legacy tokens are {state}; the backend holds "
                     f"{kinds or 'no token'}")
    return Check("legacy_tokens", FAIL,
                 f"legacy tokens are off in the organisation, and the backend holds a legacy "
                 f"token ({', '.join(legacy)}): Label Studio refuses it with 401 (Start "
                 "Training, re-scoring and task files fail)",
                 f"turn on {LEGACY_UI}, or set LABEL_STUDIO_API_KEY=<personal access token> "
                 "on the backend (it wins over the token /setup sends)")


# -- the ML backend entry and the webhook ------------------------------------------------
def pick_entry(entries: list[dict[str, Any]], backend_url: str | None) -> dict[str, Any] | None:
    """The project's ML backend entry for ``backend_url`` (None: the only one)."""
    if backend_url is None:
        return entries[0] if len(entries) == 1 else None
    want = backend_url.rstrip("/")
    return next((e for e in entries if str(e.get("url", "")).rstrip("/") == want), None)


def judge_ml_backend(project: int, entries: list[dict[str, Any]], backend_url: str | None,
                     answers_here: bool) -> Check:
    """``answers_here``: whether the backend URL answers /health from where doctor runs."""
    entry = pick_entry(entries, backend_url)
    if entry is None:
        return _no_entry(project, entries, backend_url)
    url = shown(str(entry.get("url", ""))).rstrip("/")
    state = str(entry.get("state", ""))
    seen = (f"project {project}: ML backend {entry.get('id')} at {url} is "
            f"{STATES.get(state, state)}")
    if state in ("CO", "TR", "PR"):
        return Check("ml_backend", OK, f"{seen}, model version {entry.get('model_version')!r}")
    if state == "ER":
        return Check("ml_backend", FAIL, f"{seen}: {entry.get('error_message') or ''}"[:400],
                     f"the backend's answer to /setup failed: see its log; basic auth: the "
                     f"same user and password in {MODEL_UI} → Edit")
    if answers_here and is_private_url(url):
        return Check("ml_backend", FAIL, f"{seen}, yet {url} answers here: Label Studio "
                     "blocks loopback and private addresses (ML_BLOCK_LOCAL_IP, on by default)",
                     "start Label Studio with ML_BLOCK_LOCAL_IP=false; if Label Studio runs in "
                     "a container, 127.0.0.1 is the container itself: use the host's address "
                     f"in {MODEL_UI}")
    return Check("ml_backend", FAIL, f"{seen}: Label Studio cannot reach {url}",
                 f"start the backend (labelloop start DIR), or put an address Label Studio's "
                 f"machine can reach in {MODEL_UI} → Edit (doctor: --backend-url)")


def _no_entry(project: int, entries: list[dict[str, Any]], backend_url: str | None) -> Check:
    urls = ", ".join(shown(str(e.get("url"))) for e in entries) or "none"
    backend_url = shown(backend_url) if backend_url else None
    seen = (f"project {project} has no ML backend at {backend_url} (connected: {urls})"
            if backend_url else f"project {project} has {len(entries)} ML backends ({urls})")
    fix = f"{MODEL_UI} → Connect Model, URL {backend_url or 'http://<backend-host>:9090'}"
    if len(entries) > 1 and not backend_url:
        fix = "name the backend: --backend-url URL"
    elif backend_url and is_private_url(backend_url):
        fix += ("; Label Studio refuses loopback and private URLs (Connect Model answers "
                "403, \"URL resolves to a reserved network address\") unless started with "
                "ML_BLOCK_LOCAL_IP=false (and SSRF_PROTECTION_ENABLED=false, for the "
                "webhook it makes with the model)")
    return Check("ml_backend", FAIL, seen, fix)


def _carries_secret(hook: Mapping[str, Any], secret: str) -> bool:
    query = parse_qs(urlsplit(str(hook.get("url", ""))).query)
    headers = {str(k).lower(): str(v) for k, v in (hook.get("headers") or {}).items()}
    return secret in query.get("secret", []) or headers.get("x-labelloop-secret") == secret


def judge_webhook(hooks: list[dict[str, Any]], backend_url: str,
                  secret: str | None) -> Check:
    """The project's webhooks (``GET /api/webhooks/?project=``) against this backend."""
    target = shown(backend_url).rstrip("/") + "/webhook"
    mine = [h for h in hooks if shown(str(h.get("url", ""))).rstrip("/") == target]
    if not mine:
        fix = (f"add it in {WEBHOOK_UI}: URL {target}, send payload on, all actions")
        if is_private_url(target):
            fix = ("Label Studio cannot make it for a private URL while "
                   "SSRF_PROTECTION_ENABLED is on (its default; Connect Model then answers "
                   "403 yet saves the model): start Label Studio with "
                   "SSRF_PROTECTION_ENABLED=false and connect the model again, or " + fix)
        return Check("webhook", FAIL, f"no webhook to {target}: annotations never reach the "
                     "backend (training only on Start Training)", fix)
    hook = mine[0]
    problems = _hook_problems(hook, secret)
    if problems:
        return Check("webhook", FAIL, f"webhook {hook.get('id')} to {target}: "
                     + "; ".join(p for p, _ in problems),
                     "; ".join(f for _, f in problems))
    return Check("webhook", OK, f"webhook {hook.get('id')} to {target} is active"
                 + (", with the secret" if secret else ""))


def _hook_problems(hook: Mapping[str, Any], secret: str | None) -> list[tuple[str, str]]:
    where = f"{WEBHOOK_UI} → the webhook to the backend"
    out = []
    if not hook.get("is_active", True):
        out.append(("it is inactive", f"turn it on in {where}"))
    if not hook.get("send_payload", True):
        out.append(("it sends no payload", f"turn \"Send payload\" on in {where}"))
    actions = set(hook.get("actions") or [])
    if not hook.get("send_for_all_actions", True) and "ANNOTATION_CREATED" not in actions:
        out.append(("it is not sent for new annotations",
                    f"tick \"Send for all actions\" in {where}"))
    if secret and not _carries_secret(hook, secret):
        out.append(("the backend wants LABELLOOP_WEBHOOK_SECRET and the webhook does not "
                    "carry it: every event is refused with 401",
                    f"set its URL to <backend>/webhook?secret=<your LABELLOOP_WEBHOOK_SECRET> "
                    f"in {where}"))
    return out


# -- predictions --------------------------------------------------------------------------
def judge_predictions(project: Mapping[str, Any], counts: Mapping[str, int],
                      entry: Mapping[str, Any] | None, served: str | None) -> Check:
    """``project``: Label Studio's project (``show_collab_predictions``, ``model_version``);
    ``counts``: stored predictions by version; ``served``: the name the backend stamps."""
    if not project.get("show_collab_predictions"):
        return Check("predictions", FAIL, "predictions are hidden from annotators "
                     "(show_collab_predictions is off)", f"turn on {PRELABEL_UI}")
    selected = str(project.get("model_version") or "")
    live = str(entry.get("title")) if entry else None
    if not selected:
        return Check("predictions", FAIL, "no model version is selected for prelabeling",
                     f"choose {live or served or 'a version'} in {PRELABEL_UI}")
    if selected == live:
        seen = f"the live model {live!r} is selected"
        if entry and served and entry.get("model_version") != served:
            return Check("predictions", WARN, f"{seen}; Label Studio lists version "
                         f"{entry.get('model_version')!r}, the backend serves {served!r}",
                         f"Label Studio catches up at its next /setup (open {MODEL_UI})")
        return Check("predictions", OK, f"{seen} (predictions asked as tasks open)")
    stored = int(counts.get(selected, 0))
    if stored == 0:
        return Check("predictions", FAIL, f"the selected version {selected!r} has no "
                     "predictions in this project: annotators see none",
                     f"choose {live or served} in {PRELABEL_UI}, or store its predictions: "
                     "Data Manager → select tasks → Actions → Retrieve Predictions")
    if served and selected != served:
        return Check("predictions", WARN, f"the selected version {selected!r} has {stored} "
                     f"predictions, but the backend serves {served!r}",
                     f"choose {live or served} in {PRELABEL_UI} to see the newest model")
    return Check("predictions", OK, f"the selected version {selected!r} has {stored} "
                 "predictions")


# -- task files, latency, Redis -------------------------------------------------------------
def judge_file(url: str, status: int | None, error: str | None,
               kind: str) -> tuple[str, str] | None:
    """One task-data URL's download: None when it worked, else (what was seen, the fix)."""
    if status is not None and status < 400:
        return None
    seen = f"{url}: {error}" if status is None else f"{url}: Label Studio answered {status}"
    if status == 401:
        return seen, (f"the backend's token is refused: give it a valid one, "
                      f"LABEL_STUDIO_API_KEY (from {TOKEN_UI})")
    if "local-files" in url and status == 403:
        return seen, ("Label Studio serves local files only with LOCAL_FILES_SERVING_ENABLED="
                      "true and LOCAL_FILES_DOCUMENT_ROOT=<a parent of the files>")
    if "local-files" in url and status == 404:
        return seen, ("the file is missing, or no local storage covers its folder: add one in "
                      "Project → Settings → Cloud Storage → Local files (a path under "
                      "LOCAL_FILES_DOCUMENT_ROOT)")
    if kind == "storage":
        return seen, ("the cloud storage cannot presign it: check the project's storage "
                      "credentials in Project → Settings → Cloud Storage")
    return seen, "check that the file exists and that the backend's machine can reach it"


def judge_latency(what: str, seconds: float | None, error: str | None) -> Check:
    """A call's time against the Label Studio timeout for it (its default)."""
    env, default = ML_TIMEOUTS[what]
    name = f"{what}_latency"
    if seconds is None:
        return Check(name, FAIL, f"/{what} failed: {error}", "see the backend's log")
    seen = f"/{what} took {seconds:.2f} s; Label Studio gives up after {env} ({default:g} s)"
    if seconds > default:
        return Check(name, FAIL, seen, f"start Label Studio with {env}=<more seconds>, or "
                     "make the model faster (load it once in the constructor)")
    if seconds > default / 2:
        return Check(name, WARN, seen, f"close to the limit: consider {env}="
                     f"{int(default * 3)}")
    return Check(name, OK, seen)


def judge_redis(reachable: bool, workers: int, queued: int, oldest_s: float | None,
                busy: int) -> Check:
    if not reachable:
        return Check("redis", FAIL, "Redis does not answer", "start Redis, or fix REDIS_URL")
    seen = f"Redis answers; {workers} worker(s), {busy} busy; {queued} job(s) queued"
    if workers == 0:
        return Check("redis", FAIL, seen + ": no worker runs training",
                     "run `labelloop worker DIR --redis-url <REDIS_URL>` (one or more)")
    if queued and oldest_s is not None and oldest_s > 300 and busy == 0:
        return Check("redis", FAIL, f"{seen}, the oldest waiting {oldest_s:.0f} s with every "
                     "worker idle: the queue does not move",
                     "restart the workers; check they use the same REDIS_URL and MODEL_DIR")
    return Check("redis", OK, seen)
