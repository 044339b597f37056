"""label-studio-ml's ``init_app``, served by labelloop.

A backend's own ``_wsgi.py`` and ``test_api.py`` call ``init_app(model_class=...)`` and use
what it returned, a Flask app, in three ways: ``app.config`` and ``app.test_client()`` in
tests, ``app.run(host, port, debug)`` in ``python _wsgi.py``, and the app as a WSGI
callable (``gunicorn _wsgi:app``). :class:`LegacyApp` offers those three around labelloop's
own (ASGI) app, so the routes, training and versions are labelloop's.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from fastapi import FastAPI

from labelloop.backend.service import Backend
from labelloop.compat.loader import as_model_class, backend_script
from labelloop.errors import ScriptError
from labelloop.sdk.model import LabelStudioModel
from labelloop.server.app import create_app
from labelloop.server.serving import serve
from labelloop.settings import Settings

log = logging.getLogger("labelloop.server")

# label-studio-ml 1.0.x's init_app took these for its RQ job manager; labelloop's Redis
# mode is set with REDIS_URL instead, so they are accepted and left unused.
OLD_SERVER_KWARGS = ("redis_queue", "redis_host", "redis_port")
WSGI_EXTRA = "pip install a2wsgi"


def init_app(model_class: type | None = None, *, backend_dir: str | Path | None = None,
             model_dir: str | Path | None = None, basic_auth_user: str | None = None,
             basic_auth_pass: str | None = None, **model_kwargs: Any) -> LegacyApp:
    """An app serving ``model_class`` (a ``LabelStudioMLBase`` subclass of any generation,
    or a :class:`LabelStudioModel`), or the model of ``backend_dir`` when it is None.

    Settings come from the environment, as for ``labelloop start``; the backend folder is
    ``backend_dir``, else the folder of the class's script. ``model_dir`` and the basic-auth
    pair override the environment; other keyword arguments go to the model's constructor
    (as label-studio-ml 1.0.x passed them), over the folder's ``config.json``.
    """
    ignored = sorted(k for k in OLD_SERVER_KWARGS if model_kwargs.pop(k, None) is not None)
    if ignored:
        log.info("init_app: %s not used: labelloop's Redis mode is set with REDIS_URL",
                 ", ".join(ignored))
    model = as_model_class(model_class) if model_class is not None else None
    folder = backend_dir if backend_dir is not None else _script_of(model).parent
    settings = Settings.from_env(
        backend_dir=Path(folder), model_dir=model_dir, basic_auth_user=basic_auth_user,
        basic_auth_pass=basic_auth_pass, model_kwargs=model_kwargs,
        model_class=model.__name__ if model is not None else None)
    if model is not None:
        _check_runners_find(model, settings)
    return LegacyApp(create_app(settings, Backend.open(settings, model)), settings)


def _script_of(model: type[LabelStudioModel] | None) -> Path:
    if model is None:
        raise TypeError("init_app() needs model_class or backend_dir")
    script = getattr(model, "script", None)  # an adapted class knows its script
    return Path(script if script is not None else inspect.getfile(model)).resolve()


def _check_runners_find(model: type[LabelStudioModel], settings: Settings) -> None:
    """Training runs in other processes, which load the model from the backend folder:
    fail now, not at the first job, if they would load another script."""
    script = _script_of(model)
    try:
        found, _ = backend_script(settings.backend_dir)
    except ScriptError as exc:
        raise ScriptError(f"init_app({model.__name__}): {exc.message}; training processes "
                          f"could not find {script.name} (name it in labelloop.json: "
                          f'{{"script": "{script.name}", "model_class": "{model.__name__}"}})'
                          ) from exc
    if found.resolve() != script:
        raise ScriptError(f"init_app({model.__name__}): {settings.backend_dir} serves "
                          f"{found.name}, not {script.name}, which defines the class")


class LegacyApp:
    """What label-studio-ml's ``init_app`` returned, as far as backends use it."""

    def __init__(self, asgi: FastAPI, settings: Settings) -> None:
        self.asgi = asgi
        self.settings = settings
        self.config: dict[str, Any] = {"TESTING": False, "DEBUG": settings.debug}
        self._wsgi: tuple[int, Callable[..., Iterable[bytes]]] | None = None
        self._wsgi_lock = threading.Lock()

    def test_client(self) -> LegacyTestClient:
        """In-process requests. As with Flask, ``config["TESTING"]`` lets an unexpected
        exception in the server reach the test instead of becoming a 500."""
        return LegacyTestClient(self.asgi, raise_errors=bool(self.config.get("TESTING")))

    def run(self, host: str | None = None, port: int | None = None,
            debug: bool | None = None, **options: Any) -> None:
        """Serve with labelloop (uvicorn) in this process until stopped; Flask's other
        options (``load_dotenv``, ``threaded``...) do not apply and are ignored."""
        settings = replace(self.settings, host=host or self.settings.host,
                           port=port or self.settings.port,
                           debug=bool(debug) or self.settings.debug)
        if options:
            log.debug("app.run(): %s not used by labelloop", ", ".join(sorted(options)))
        serve(settings, self.asgi)

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        """WSGI (``gunicorn _wsgi:app``), through a2wsgi."""
        return self._wsgi_app()(environ, start_response)

    def _wsgi_app(self) -> Callable[..., Iterable[bytes]]:
        # a2wsgi runs the ASGI app on an event loop in a thread it starts. Threads do not
        # survive fork, and gunicorn --preload builds the app before forking its workers:
        # so one adapter per process, made at its first request.
        with self._wsgi_lock:
            if self._wsgi is None or self._wsgi[0] != os.getpid():
                try:
                    a2wsgi = importlib.import_module("a2wsgi")  # optional dependency
                except ImportError as exc:
                    raise RuntimeError(f"serving init_app's app with a WSGI server needs "
                                       f"a2wsgi: {WSGI_EXTRA}") from exc
                self._wsgi = (os.getpid(), a2wsgi.ASGIMiddleware(self.asgi))
            return self._wsgi[1]


class _Answer(Protocol):
    """What the test client's transport answers (an httpx or httpx2 response)."""

    @property
    def status_code(self) -> int: ...

    @property
    def reason_phrase(self) -> str: ...

    @property
    def content(self) -> bytes: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


class LegacyResponse:
    """The parts of Flask's test response that backends' tests read."""

    def __init__(self, response: _Answer) -> None:
        self.status_code = response.status_code
        self.status = f"{response.status_code} {response.reason_phrase}"
        self.headers = response.headers
        self.data = response.content

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", ""))

    @property
    def mimetype(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    @property
    def is_json(self) -> bool:
        return self.mimetype == "application/json" or self.mimetype.endswith("+json")

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    @property
    def json(self) -> Any:
        return self.get_json()

    def get_data(self, as_text: bool = False) -> bytes | str:
        return self.text if as_text else self.data

    def get_json(self, force: bool = False, silent: bool = False) -> Any:
        """The parsed body; None when it is not JSON (unless ``force``), as Flask's."""
        if not (force or self.is_json):
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            if silent:
                return None
            raise


class LegacyTestClient:
    """Flask's test client calls (``get``/``post``... with ``json=``, ``data=``,
    ``content_type=``, ``headers=``, ``query_string=``) on Starlette's TestClient."""

    def __init__(self, asgi: FastAPI, raise_errors: bool) -> None:
        # Imported here: only tests need it, and Starlette warns when it finds httpx
        # rather than httpx2.
        from starlette.testclient import TestClient

        self.client = TestClient(asgi, raise_server_exceptions=raise_errors)

    def __enter__(self) -> LegacyTestClient:
        self.client.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.client.__exit__(*exc_info)

    def open(self, path: str, method: str = "GET", *, json: Any = None, data: Any = None,
             content_type: str | None = None, headers: Any = None,
             query_string: Any = None) -> LegacyResponse:
        body, implied = _body(json, data)
        sent = dict(headers or {})
        if content_type or implied:
            sent["Content-Type"] = content_type or implied or ""
        response = self.client.request(method, path, content=body, headers=sent,
                                       params=query_string)
        return LegacyResponse(response)

    def get(self, path: str, **kwargs: Any) -> LegacyResponse:
        return self.open(path, "GET", **kwargs)

    def post(self, path: str, **kwargs: Any) -> LegacyResponse:
        return self.open(path, "POST", **kwargs)

    def put(self, path: str, **kwargs: Any) -> LegacyResponse:
        return self.open(path, "PUT", **kwargs)

    def patch(self, path: str, **kwargs: Any) -> LegacyResponse:
        return self.open(path, "PATCH", **kwargs)

    def delete(self, path: str, **kwargs: Any) -> LegacyResponse:
        return self.open(path, "DELETE", **kwargs)


def _body(json_value: Any, data: Any) -> tuple[bytes | None, str | None]:
    """(body, the content type it implies), as Flask's test client builds them."""
    if json_value is not None:
        return json.dumps(json_value).encode(), "application/json"
    if isinstance(data, Mapping):
        return urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
    if isinstance(data, str):
        return data.encode(), None
    if data is not None:
        return bytes(data), None
    return None, None
