"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the hot /predict path)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labelloop.backend.metrics import Metrics
from labelloop.errors import LabelloopError, PayloadTooLarge
from labelloop.server.auth import SECRET_HEADER, check_request
from labelloop.settings import Settings


async def send_error(send: Send, exc: LabelloopError) -> None:
    data = orjson.dumps(exc.to_dict())
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(data)).encode())]
    if exc.status == 401:
        headers.append((b"www-authenticate", b'Basic realm="labelloop"'))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with a 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(f"request body is larger than {self.max_bytes} bytes "
                                    "(raise LABELLOOP_MAX_BODY_BYTES to allow more)")
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await send_error(send, too_large)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise too_large
            return message

        await self.app(scope, limited, send)


class AuthGuard:
    """Basic auth and the webhook secret, checked before any route runs."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (self.settings.auth_enabled
                                           or self.settings.webhook_secret):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1") or None
        secret = headers.get(SECRET_HEADER.encode(), b"").decode("latin-1") or None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        secret = (query.get("secret") or [secret])[0]
        try:
            check_request(self.settings, scope["path"], auth, secret)
        except LabelloopError as exc:
            await send_error(send, exc)
            return
        await self.app(scope, receive, send)


METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class RequestMetrics:
    """Counts requests by route and status, and times them (Prometheus)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes  # other paths count as "other": no label per random URL

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = scope["path"] if scope["path"] in self.routes else "other"
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.request_done(route, method, status, time.perf_counter() - started)
