"""The app in the test's own process, through Starlette's TestClient: for request and
response behaviour where a real server process is not the point (it starts in
milliseconds, not a second)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from labelloop.server.app import create_app
from labelloop.settings import Settings
from support.servers import FAST_CADENCE


class InProcess:
    """Like :class:`support.servers.Server`: ``client`` speaks HTTP to the app."""

    def __init__(self, backend_dir: Path, model_dir: Path, **settings: Any) -> None:
        self.settings = Settings.from_env(FAST_CADENCE, backend_dir=backend_dir,
                                          model_dir=model_dir, **settings)
        self.app = create_app(self.settings)
        # The app renders every error itself; a test looks at what the client gets.
        self.client = TestClient(self.app, raise_server_exceptions=False)

    def close(self) -> None:
        self.client.close()
