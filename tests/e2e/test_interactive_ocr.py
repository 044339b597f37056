"""End to end: interactive OCR through Label Studio 1.23.2's own
``POST /api/ml/<id>/interactive-annotating``. The tesseract example (label-studio-ml-backend
2.x, tests/data/examples) runs unchanged on labelloop and reads the text inside a box
drawn on an uploaded image: with the legacy token Label Studio hands it in /setup while
legacy tokens are on, and with a personal access token in LABEL_STUDIO_ACCESS_TOKEN
while they are off. Images from other storages: test_storage_images.py."""

from __future__ import annotations

from pathlib import Path

from labelloop.cli.studio import LabelStudio
from labelloop.sdk.label_studio import LabelStudioClient
from support.ocr import CONFIG, PAGE, LegacyTokensOff, OcrBackends, ocr, tesseract_backend


def test_interactive_ocr_of_an_uploaded_image(studio: LabelStudio, ls: LabelStudioClient,
                                              tmp_path: Path, examples_python: str,
                                              pat: str) -> None:
    project = ls.create_project("interactive OCR", CONFIG)
    ls.request("POST", f"/api/projects/{project}/import",
               files={"file": ("page.jpeg", PAGE.read_bytes(), "image/jpeg")})
    task = ls.tasks(project)[0]
    backends = OcrBackends(tesseract_backend(examples_python, tmp_path / "ocr"), tmp_path,
                           examples_python, studio.url)
    try:
        legacy = backends.connect(ls, project, "legacy")  # /setup's token; legacy tokens on
        assert ocr(ls, legacy, task["id"]) == "KENAPA"
        with LegacyTokensOff(studio.url, pat) as off:
            with_pat = backends.connect(off.client, project, "pat",
                                        LABEL_STUDIO_ACCESS_TOKEN=pat)
            assert ocr(off.client, with_pat, task["id"]) == "KENAPA"
    finally:
        backends.stop()
