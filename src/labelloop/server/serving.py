"""Serve with uvicorn: what ``labelloop start``, ``python _wsgi.py`` and a legacy
``app.run()`` share. Lives in the server layer so that both the CLI and
:mod:`labelloop.server.legacy_app` can call it without the server importing the CLI.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from fastapi import FastAPI

from labelloop.errors import ScriptError
from labelloop.logs import configure_logging
from labelloop.settings import SETTINGS_ENV, Settings

log = logging.getLogger("labelloop")


def serve(settings: Settings, app: FastAPI | None = None) -> None:
    """Serve until stopped. ``app`` (already built) is served in this process; without
    it, ``settings.workers`` processes, or one built from ``settings``.

    With several workers the script is checked first, in a throw-away process (each
    worker loads it; the supervisor stays small)."""
    import uvicorn

    level = "DEBUG" if settings.debug else settings.log_level.upper()
    configure_logging(level, settings.log_format)
    common: dict[str, Any] = {"host": settings.host, "port": settings.port,
                              "log_level": level.lower(), "access_log": settings.debug,
                              "log_config": None}  # one log format: ours
    if app is None and settings.workers > 1:
        check_script(settings)
        _serve_workers(settings, common)
        return
    if app is None:
        from labelloop.server.app import create_app

        app = create_app(settings)  # loads the model script now: errors show before serving
    _log_start(app, settings)
    uvicorn.run(app, **common)


def _serve_workers(settings: Settings, common: dict[str, Any]) -> None:
    import uvicorn

    from labelloop.backend.metrics import MULTIPROC_ENV

    os.environ[SETTINGS_ENV] = settings.to_json()
    owned = None
    if settings.metrics and not os.environ.get(MULTIPROC_ENV):
        # Each worker writes its counters here; /metrics adds them up.
        owned = os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="labelloop-metrics-")
    log.info("starting %d server processes", settings.workers)
    try:
        uvicorn.run("labelloop.server.app:app_from_env", factory=True,
                    workers=settings.workers, **common)
    finally:
        if owned:
            shutil.rmtree(owned, ignore_errors=True)


def _log_start(app: FastAPI, settings: Settings) -> None:
    backend = app.state.backend
    mode = f"{backend.stores.mode} mode"
    if backend.stores.mode == "redis":
        mode += f" ({settings.redis_url}: " + (
            "answering)" if backend.stores.ping() else "NOT answering; serving what is loaded)")
    log.info("serving %s (%s) in %s from %s, versions in %s", backend.model_class.__name__,
             backend.generation, mode, settings.backend_dir,
             settings.storage if backend.stores.storage_ping else settings.model_dir)


def check_script(settings: Settings) -> None:
    """Load the model class in a subprocess; raise its error message if it fails."""
    code = ("import sys\nfrom labelloop.errors import LabelloopError\n"
            "from labelloop.compat.loader import load_backend_class\n"
            "try:\n    load_backend_class(sys.argv[1], sys.argv[2] or None)\n"
            "except LabelloopError as e:\n    sys.exit(e.message)\n")
    result = subprocess.run([sys.executable, "-c", code, str(settings.backend_dir),
                             settings.model_class or ""], capture_output=True, text=True)
    if result.returncode != 0:
        raise ScriptError(result.stderr.strip().splitlines()[-1])
