"""The status page's routes: ``GET /status`` (HTML), ``POST /status/serve`` (a person picks
the version Label Studio gets) and a browser's ``GET /`` sent on to the page.

Basic auth is the AuthGuard's job, as for every route. Because a browser re-sends basic
auth by itself, ``POST /status/serve`` is also guarded against cross-site requests, twice:

- a token the page's forms carry: ``<issued>.<HMAC-SHA256(key, issued)>``, valid for
  :data:`TOKEN_TTL_S`. The key is a random secret in ``<model_dir>/.status-secret``
  (mode 0600, created once, atomically): every server process (``--workers N``) and, in
  Redis mode, every machine sees the same model directory, so a page from one process is
  accepted by another. With versions in a bucket, machines share no folder: the key then
  derives from the configured basic auth or webhook secret, the same on every machine.
  Another site cannot read the page, so it cannot know a token;
- the ``Origin`` header (or ``Referer``, when a browser sends no Origin) must name this
  host when present. The page's Content-Security-Policy also forbids framing it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from labelloop.backend.connection import ConnectionMonitor
from labelloop.backend.service import Backend
from labelloop.errors import Forbidden, InvalidField
from labelloop.server.status_page import (
    connection_panel,
    refresh_param,
    render_page,
    wants_html,
)
from labelloop.settings import Settings
from labelloop.store.buckets import is_bucket_url

log = logging.getLogger("labelloop.server")

SECRET_FILE = ".status-secret"  # noqa: S105 - a file name
TOKEN_TTL_S = 12 * 3600  # the page reloads itself far more often, renewing its token
CLOCK_SKEW_S = 300  # tokens may come from another machine whose clock runs ahead
_TOKEN = re.compile(r"([0-9]{1,12})\.([0-9a-f]{64})")
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 16
PAGE_HEADERS = {
    # No script and nothing fetched; forms post only here; no other site may frame the
    # page (clickjacking would press the buttons with the user's own credentials).
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; "
                                "img-src data:; form-action 'self'; frame-ancestors 'none'; "
                                "base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # the page holds a token and is stale in seconds anyway
}


# -- the CSRF key and tokens ------------------------------------------------------------
def read_or_create_secret(path: Path) -> bytes:
    """The key in ``path``; the first process to need it writes it, mode 0600, atomically.

    A hard link publishes the complete file and never replaces one another process made
    in the meantime, so every process ends up with the same key. A file a person wrote
    (say, the same key on machines that share no volume) is used as it is.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"{path.name}.", suffix=".tmp", dir=path.parent)
        tmp = Path(name)  # mkstemp makes it 0600
        try:
            with open(fd, "wb") as f:  # noqa: PTH123 - a descriptor, not a path
                f.write(secrets.token_hex(32).encode())
            with contextlib.suppress(FileExistsError):
                path.hardlink_to(tmp)
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_bytes().strip()
    if not key:  # never one we wrote: those are complete before they appear
        raise OSError(f"{path} is empty")
    return key


def derive_key(settings: Settings) -> bytes:
    """The shared secret file; if the model directory is read-only, or not shared (versions
    in a bucket: machines share no folder), the configured secrets (the same in every
    process); with none, a per-process key (fine for one worker)."""
    configured = [settings.basic_auth_user, settings.basic_auth_pass, settings.webhook_secret]
    material = "\0".join(c or "" for c in configured)
    derived = hashlib.sha256(b"labelloop-status-csrf\0" + material.encode()).digest()
    if is_bucket_url(settings.storage) and any(configured):
        return derived
    try:
        return read_or_create_secret(settings.model_dir / SECRET_FILE)
    except OSError as exc:
        if any(configured):
            log.warning("status page: cannot keep %s (%s); tokens derive from the configured "
                        "credentials", SECRET_FILE, exc)
            return derived
        log.warning("status page: cannot keep %s (%s); with several server processes its "
                    "buttons may be refused", SECRET_FILE, exc)
        return secrets.token_bytes(32)


class CsrfTokens:
    """Issues and checks the status page's form tokens; the key is read on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._key: bytes | None = None

    def _sign(self, issued: str) -> str:
        if self._key is None:
            self._key = derive_key(self.settings)
        return hmac.new(self._key, f"status-serve:{issued}".encode(), hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None) -> str:
        issued = str(int(time.time() if now is None else now))
        return f"{issued}.{self._sign(issued)}"

    def check(self, token: str | None, now: float | None = None) -> None:
        if not token:
            raise Forbidden("the form carries no csrf token: use the buttons of the status "
                            "page", field="csrf")
        match = _TOKEN.fullmatch(token)
        if match is None or not hmac.compare_digest(match[2], self._sign(match[1])):
            raise Forbidden("the csrf token is not valid: reload the status page and try "
                            "again", field="csrf")
        age = (time.time() if now is None else now) - int(match[1])
        if not -CLOCK_SKEW_S <= age <= TOKEN_TTL_S:
            raise Forbidden("the csrf token has expired: reload the status page and try "
                            "again", field="csrf")


# -- request checks ---------------------------------------------------------------------
def _hosts(headers: Mapping[str, str]) -> set[str]:
    """This server's names as the browser used them (a proxy may pass X-Forwarded-Host:
    a browser form cannot set that header, so trusting it gives an attacker nothing)."""
    names = [headers.get("host", ""), *headers.get("x-forwarded-host", "").split(",")]
    return {n.strip().lower() for n in names if n.strip()}


def check_same_origin(headers: Mapping[str, str]) -> None:
    """Refuse a request whose Origin (or Referer) names another site. Neither header sent
    (old clients, scripts): the token alone decides."""
    source = headers.get("origin") or headers.get("referer")
    if source is None:
        return
    netloc = urlsplit(source).netloc.rpartition("@")[2].lower() if source != "null" else ""
    if netloc not in _hosts(headers):
        raise Forbidden(f"cross-site request refused: it comes from {source!r}, not from "
                        "this server's status page", field="origin")


def parse_form(body: bytes, content_type: str) -> dict[str, str]:
    """A urlencoded form's fields (the first value of each); any other body has none."""
    if content_type.partition(";")[0].strip().lower() != FORM_TYPE:
        return {}
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidField("body", f"is not a valid form: {exc}") from exc
    return {name: values[0] for name, values in fields.items()}


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise InvalidField(name, "is required")
    return value


# -- GET / from a browser ---------------------------------------------------------------
class BrowserHome:
    """``GET /`` with a browser's Accept header goes to the status page; API clients keep
    getting the health JSON from the route itself. Runs inside the AuthGuard."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/":
            accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1")
            if wants_html(accept):
                # Relative, so a proxy's path prefix is kept.
                redirect = RedirectResponse("status", status_code=303,
                                            headers={"Vary": "Accept"})
                await redirect(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _panel(monitor: ConnectionMonitor) -> str:
    reports, checked_at = monitor.reports()
    age = time.monotonic() - checked_at if checked_at else None
    named = {(f"Label Studio project {p}" if p is not None else "Label Studio"): r.to_dict()
             for p, r in reports.items()}
    return connection_panel(named, age)


# -- the routes -------------------------------------------------------------------------
def install_status_routes(app: FastAPI, backend: Backend, settings: Settings) -> None:
    """``GET /status``, ``POST /status/serve`` and the browser redirect of ``GET /``.

    Left out of the OpenAPI document: they are for people, not API clients.
    """
    tokens = CsrfTokens(settings)
    about = backend.about()
    monitor = ConnectionMonitor(settings, backend)

    @app.get("/status", include_in_schema=False)
    async def status_page(request: Request) -> Response:
        projects, token = await run_in_threadpool(lambda: (backend.status(), tokens.issue()))
        page = render_page(projects, csrf=token, about=about,
                           refresh=refresh_param(request.query_params.get("refresh")),
                           connection=_panel(monitor))
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @app.post("/status/serve", include_in_schema=False)
    async def serve(request: Request) -> Response:
        check_same_origin(request.headers)
        form = parse_form(await request.body(), request.headers.get("content-type", ""))
        await run_in_threadpool(tokens.check, form.get("csrf"))
        project, version = _required(form, "project"), _required(form, "version")
        served = await run_in_threadpool(backend.promote, project, version)
        log.info("status page: project %s now serves %s", served["project"],
                 served["model_version"])
        # 303: the browser follows with a GET, so reloading the page never re-posts.
        return RedirectResponse("../status", status_code=303)

    app.add_middleware(BrowserHome)
