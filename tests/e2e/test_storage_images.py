"""End to end: interactive OCR of images Label Studio 1.23.2 keeps in source storages, not
uploads, through its own ``POST /api/ml/<id>/interactive-annotating``. The backend shares
neither Label Studio's disk nor the bucket's credentials: it gets each image from Label
Studio with its token (a local-files URL downloaded; an ``s3://`` URI presigned by Label
Studio, whose redirect leads to the bucket, a real S3 API in moto's own process). Each
with the legacy token /setup hands over while legacy tokens are on, refused by name
while they are off (Label Studio shows a 502), and with a personal access token while
they are off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labelloop.cli.studio import LabelStudio
from labelloop.sdk.label_studio import LabelStudioClient
from support.buckets import MotoServer
from support.ocr import (
    CONFIG,
    EXAMPLE,
    PAGE,
    LegacyTokensOff,
    OcrBackends,
    interactive,
    ocr,
    tesseract_backend,
)

IMAGES_BUCKET = "labelloop-pages"


def stored_data(ls: LabelStudioClient, project: int) -> str:
    """The one task's image value as stored (not as Label Studio resolves it for a viewer)."""
    exported = ls.call("GET", f"/api/projects/{project}/export",
                       params={"exportType": "JSON", "download_all_tasks": "true"})
    assert len(exported) == 1, exported
    return str(exported[0]["data"]["image"])


def synced_storage(ls: LabelStudioClient, kind: str, **fields: Any) -> None:
    """A source storage of ``kind`` (``localfiles``, ``s3``) made and synced at once."""
    storage = ls.call("POST", f"/api/storages/{kind}", json=fields)
    ls.call("POST", f"/api/storages/{kind}/{storage['id']}/sync")


def each_token_kind(studio: LabelStudio, ls: LabelStudioClient, pat: str,
                    backends: OcrBackends, project: int) -> None:
    """The page's first word, read by a backend holding /setup's legacy token and by one
    holding a personal access token, legacy tokens off and on (the legacy one refused
    while they are off)."""
    task = ls.tasks(project)[0]["id"]
    legacy = backends.connect(ls, project, "legacy")
    with_pat = backends.connect(ls, project, "pat", LABEL_STUDIO_ACCESS_TOKEN=pat)
    with LegacyTokensOff(studio.url, pat) as off:
        # Label Studio relays only the status; the message naming the token and what to
        # set is test_task_files.py's.
        refused = interactive(off.client, legacy, task)
        assert not refused.get("data") and "502" in " ".join(refused["errors"]), refused
        assert ocr(off.client, with_pat, task) == "KENAPA"
    assert ocr(ls, legacy, task) == "KENAPA"
    assert ocr(ls, with_pat, task) == "KENAPA"  # a personal access token, legacy tokens on


def test_ocr_of_a_local_files_image_on_another_disk(
        studio: LabelStudio, ls: LabelStudioClient, local_files_root: Path, tmp_path: Path,
        examples_python: str, pat: str) -> None:
    pages = local_files_root / "ocr-pages"
    pages.mkdir()
    (pages / "page.jpeg").write_bytes(PAGE.read_bytes())
    project = ls.create_project("OCR of local files", CONFIG)
    synced_storage(ls, "localfiles", project=project, path=str(pages),
                   regex_filter=r".*\.jpeg", use_blob_urls=True)
    assert stored_data(ls, project) == "/data/local-files/?d=ocr-pages/page.jpeg"
    elsewhere = tmp_path / "backend-document-root"  # the backend's own disk: no such file
    elsewhere.mkdir()
    backends = OcrBackends(tesseract_backend(examples_python, tmp_path / "ocr"), tmp_path,
                           examples_python, studio.url,
                           env={"LOCAL_FILES_DOCUMENT_ROOT": str(elsewhere)})
    try:
        each_token_kind(studio, ls, pat, backends, project)
    finally:
        backends.stop()


def presigned_ocr_script(folder: Path) -> Path:
    """The tesseract example with the one change a user makes to read S3 images through
    Label Studio instead of with the bucket's credentials: ``get_local_path`` for every
    URL (the example sends ``s3:`` URIs to boto3)."""
    source = (EXAMPLE / "tesseract.py").read_text()
    branch = 'if url.startswith("s3:"):'
    assert source.count(branch) == 1
    folder.mkdir()
    script = folder / "tesseract.py"
    script.write_text(source.replace(branch, "if False:  # through Label Studio's presign"))
    return script


def test_ocr_of_an_s3_image_presigned_by_label_studio(
        studio: LabelStudio, ls: LabelStudioClient, tmp_path: Path, examples_python: str,
        pat: str) -> None:
    moto = MotoServer(tmp_path / "moto")
    backends: OcrBackends | None = None
    try:
        moto.put(IMAGES_BUCKET, "scans/page.jpeg", PAGE.read_bytes())
        project = ls.create_project("OCR of S3 images", CONFIG)
        synced_storage(ls, "s3", project=project, bucket=IMAGES_BUCKET, prefix="scans",
                       regex_filter=r".*\.jpeg", use_blob_urls=True, presign=True,
                       presign_ttl=15, s3_endpoint=moto.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
        assert stored_data(ls, project) == f"s3://{IMAGES_BUCKET}/scans/page.jpeg"
        script = presigned_ocr_script(tmp_path / "script")
        # The backend is given no bucket credentials: only Label Studio holds them.
        backends = OcrBackends(tesseract_backend(examples_python, tmp_path / "ocr", script),
                               tmp_path, examples_python, studio.url)
        each_token_kind(studio, ls, pat, backends, project)
    finally:
        if backends:
            backends.stop()
        moto.stop()
