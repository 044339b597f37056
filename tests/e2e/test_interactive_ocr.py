"""End to end: interactive OCR through Label Studio 1.23.2's own
``POST /api/ml/<id>/interactive-annotating``. The tesseract example (label-studio-ml-backend
2.x, tests/data/examples) runs unchanged on labelloop and reads the text inside a box
drawn on an uploaded image: with the legacy token Label Studio hands it in /setup while
legacy tokens are on, and with a personal access token in LABEL_STUDIO_ACCESS_TOKEN
while they are off."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from labelloop.cli.studio import LabelStudio
from labelloop.sdk.label_studio import LabelStudioClient
from support.servers import THIS_CHECKOUT, Server

EXAMPLE = Path(__file__).parents[1] / "data" / "examples" / "tesseract"
CONFIG = ('<View><Image name="image" value="$image"/>'
          '<RectangleLabels name="bbox" toName="image"><Label value="Label1"/>'
          '</RectangleLabels><TextArea name="transcription" toName="image" '
          'editable="true" perRegion="true"/></View>')
# Where the first word of the test image is, in percent of its 1080x1349 page.
KENAPA = {"x": 2.5893958076448826, "y": 15.59725018943566, "width": 44.38964241676942,
          "height": 12.438313442208186}


def drawn_box() -> dict[str, Any]:
    """The region the Label Studio frontend sends as context when a box is drawn."""
    return {"id": "r-kenapa", "from_name": "bbox", "to_name": "image",
            "type": "rectanglelabels", "origin": "manual", "original_width": 1080,
            "original_height": 1349, "image_rotation": 0,
            "value": {**KENAPA, "rotation": 0, "rectanglelabels": ["Label1"]}}


def ocr(ls: LabelStudioClient, ml_id: int, task_id: int) -> str | None:
    answer = ls.call("POST", f"/api/ml/{ml_id}/interactive-annotating",
                     json={"task": task_id, "context": {"result": [drawn_box()]}})
    data = answer.get("data") or {}
    texts = [r["value"]["text"][0] for r in data.get("result") or []
             if r.get("type") == "textarea"]
    return texts[0] if texts else None


def tesseract_backend(examples_python: str, folder: Path) -> Path:
    made = subprocess.run([examples_python, "-m", "labelloop.cli.main", "init", str(folder),
                           "--script", str(EXAMPLE / "tesseract.py")], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **THIS_CHECKOUT})
    assert made.returncode == 0, made.stderr
    return folder


def test_interactive_ocr_of_an_uploaded_image(studio: LabelStudio, ls: LabelStudioClient,
                                              tmp_path: Path, examples_python: str,
                                              pat: str) -> None:
    project = ls.create_project("interactive OCR", CONFIG)
    ls.request("POST", f"/api/projects/{project}/import",
               files={"file": ("page.jpeg", (EXAMPLE / "test_images" / "image.jpeg")
                               .read_bytes(), "image/jpeg")})
    task = ls.tasks(project)[0]
    backend = tesseract_backend(examples_python, tmp_path / "ocr")
    servers: list[Server] = []

    def serve(name: str, **env: str) -> Server:
        server = Server(backend, tmp_path / f"models-{name}", python=examples_python,
                        env={**THIS_CHECKOUT, "LABEL_STUDIO_HOST": studio.url,
                             "XDG_CACHE_HOME": str(tmp_path / f"cache-{name}"), **env})
        servers.append(server)
        return server

    def connected(server: Server, client: LabelStudioClient) -> int:
        ml = client.connect_backend(project, server.url, title=f"ocr {server.port}",
                                    is_interactive=True)
        return int(ml["id"])

    pat_client = LabelStudioClient(studio.url, pat)
    try:
        legacy = connected(serve("legacy"), ls)  # /setup's legacy token; legacy tokens on
        assert ocr(ls, legacy, task["id"]) == "KENAPA"
        pat_client.call("POST", "/api/jwt/settings", json={
            "api_tokens_enabled": True, "legacy_api_tokens_enabled": False})
        with_pat = connected(serve("pat", LABEL_STUDIO_ACCESS_TOKEN=pat), pat_client)
        assert ocr(pat_client, with_pat, task["id"]) == "KENAPA"
    finally:
        pat_client.call("POST", "/api/jwt/settings", json={
            "api_tokens_enabled": True, "legacy_api_tokens_enabled": True})
        pat_client.close()
        for s in servers:
            s.stop()
