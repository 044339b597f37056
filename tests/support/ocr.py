"""Interactive OCR through Label Studio's own ``POST /api/ml/<id>/interactive-annotating``,
with the tesseract example of label-studio-ml-backend 2.x (tests/data/examples): a box drawn
on its test page, and the backends that read it, one per token kind."""

from __future__ import annotations

import os
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from labelloop.sdk.label_studio import LabelStudioClient
from support.servers import THIS_CHECKOUT, Server

EXAMPLE = Path(__file__).parents[1] / "data" / "examples" / "tesseract"
PAGE = EXAMPLE / "test_images" / "image.jpeg"
CONFIG = ('<View><Image name="image" value="$image"/>'
          '<RectangleLabels name="bbox" toName="image"><Label value="Label1"/>'
          '</RectangleLabels><TextArea name="transcription" toName="image" '
          'editable="true" perRegion="true"/></View>')
# Where the first word of the test page is, in percent of its 1080x1349 size.
KENAPA = {"x": 2.5893958076448826, "y": 15.59725018943566, "width": 44.38964241676942,
          "height": 12.438313442208186}


def drawn_box() -> dict[str, Any]:
    """The region the Label Studio frontend sends as context when a box is drawn."""
    return {"id": "r-kenapa", "from_name": "bbox", "to_name": "image",
            "type": "rectanglelabels", "origin": "manual", "original_width": 1080,
            "original_height": 1349, "image_rotation": 0,
            "value": {**KENAPA, "rotation": 0, "rectanglelabels": ["Label1"]}}


def interactive(ls: LabelStudioClient, ml_id: int, task_id: int) -> dict[str, Any]:
    """Label Studio's answer when :func:`drawn_box` is drawn on the task: ``data`` with
    the backend's regions, or ``errors`` with the backend's message."""
    answer = ls.call("POST", f"/api/ml/{ml_id}/interactive-annotating",
                     json={"task": task_id, "context": {"result": [drawn_box()]}})
    assert isinstance(answer, dict), answer
    return answer


def ocr(ls: LabelStudioClient, ml_id: int, task_id: int) -> str | None:
    """The text the backend read in :func:`drawn_box`, as Label Studio hands it back."""
    data = interactive(ls, ml_id, task_id).get("data") or {}
    texts = [r["value"]["text"][0] for r in data.get("result") or []
             if r.get("type") == "textarea"]
    return texts[0] if texts else None


def tesseract_backend(examples_python: str, folder: Path, script: Path | None = None) -> Path:
    """``labelloop init`` of the tesseract example (or of ``script``), run by the examples
    venv's labelloop, as a user porting it would."""
    made = subprocess.run([examples_python, "-m", "labelloop.cli.main", "init", str(folder),
                           "--script", str(script or EXAMPLE / "tesseract.py")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **THIS_CHECKOUT})
    assert made.returncode == 0, made.stderr
    return folder


def legacy_tokens(client: LabelStudioClient, enabled: bool) -> None:
    """The organisation's Legacy Tokens switch (personal access tokens stay on)."""
    client.call("POST", "/api/jwt/settings", json={"api_tokens_enabled": True,
                                                  "legacy_api_tokens_enabled": enabled})


class LegacyTokensOff(AbstractContextManager["LegacyTokensOff"]):
    """Legacy tokens off for the block, switched back on whatever happens (the session's
    Label Studio is shared), through a client with the personal access token."""

    def __init__(self, url: str, pat: str) -> None:
        self.client = LabelStudioClient(url, pat)

    def __enter__(self) -> LegacyTokensOff:
        legacy_tokens(self.client, False)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            legacy_tokens(self.client, True)
        finally:
            self.client.close()


class OcrBackends:
    """Backends of one folder, each with its own model dir and download cache, connected
    to a project as interactive ML backends; stopped by :meth:`stop`."""

    def __init__(self, backend: Path, tmp_path: Path, python: str, studio_url: str,
                 env: dict[str, str] | None = None) -> None:
        self.backend, self.tmp_path, self.python = backend, tmp_path, python
        self.env = {**THIS_CHECKOUT, "LABEL_STUDIO_HOST": studio_url, **(env or {})}
        self.servers: list[Server] = []

    def connect(self, client: LabelStudioClient, project: int, name: str,
                **env: str) -> int:
        """A new backend with ``env`` added, connected through ``client``: its ML id
        (Label Studio's /setup then hands it the project creator's legacy token)."""
        server = Server(self.backend, self.tmp_path / f"models-{name}", python=self.python,
                        env={**self.env, "XDG_CACHE_HOME": str(self.tmp_path / f"cache-{name}"),
                             **env})
        self.servers.append(server)
        ml = client.connect_backend(project, server.url, title=f"ocr {name}",
                                    is_interactive=True)
        return int(ml["id"])

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
