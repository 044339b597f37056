"""End to end: a model reads an uploaded task file from a real Label Studio 1.23.2, with
the legacy token /setup hands it and with a personal access token set in the
environment, legacy tokens on and off; a refused token is named, with what to set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from labelloop.cli.studio import LabelStudio
from labelloop.sdk.label_studio import LabelStudioClient
from support.ocr import PAGE as IMAGE
from support.ocr import legacy_tokens
from support.servers import Server, make_backend

CONFIG = ('<View><Image name="image" value="$image"/>'
          '<TextArea name="size" toName="image"/></View>')
# A label-studio-ml-backend 2.x script that reads each task's file through the SDK call
# the examples use, and answers its size in bytes.
FILE_SIZE = '''import os

from label_studio_ml.model import LabelStudioMLBase


class FileSize(LabelStudioMLBase):
    def predict(self, tasks, context=None, **kwargs):
        out = []
        for task in tasks:
            path = self.get_local_path(task["data"]["image"], task_id=task["id"])
            out.append({"result": [{"from_name": "size", "to_name": "image",
                                    "type": "textarea",
                                    "value": {"text": [str(os.path.getsize(path))]}}]})
        return out
'''


def ask(server: Server, studio: LabelStudio, project: int, task: dict[str, Any],
        legacy: str) -> Any:
    """/setup as Label Studio sends it (its address, the creator's legacy token), then
    /predict for the uploaded task."""
    uid = f"{project}.1795555000"
    setup = server.client.post("/setup", json={"project": uid, "schema": CONFIG,
                                               "hostname": studio.url, "access_token": legacy,
                                               "extra_params": None})
    assert setup.status_code == 200, setup.text
    return server.client.post("/predict", json={"tasks": [task], "project": uid,
                                                "label_config": CONFIG})


def test_uploaded_file_with_each_token_kind(studio: LabelStudio, ls: LabelStudioClient,
                                            tmp_path: Path,
                                            start_server: Callable[..., Server],
                                            pat: str) -> None:
    project = ls.create_project("task files", CONFIG)
    ls.request("POST", f"/api/projects/{project}/import",
               files={"file": ("receipt.jpeg", IMAGE.read_bytes(), "image/jpeg")})
    task = ls.tasks(project)[0]
    assert task["data"]["image"].startswith("/data/upload/")
    script = tmp_path / "file_size.py"
    script.write_text(FILE_SIZE)
    backend = make_backend(tmp_path / "be", script)
    size = str(IMAGE.stat().st_size)

    def server(name: str, **env: str) -> Server:  # each with its own download cache
        return start_server(backend, model_dir=tmp_path / f"models-{name}",
                            env={"XDG_CACHE_HOME": str(tmp_path / f"cache-{name}"), **env})

    def text(resp: Any) -> str:
        assert resp.status_code == 200, resp.text
        return str(resp.json()["results"][0]["result"][0]["value"]["text"][0])

    legacy_on = server("legacy-on")
    assert text(ask(legacy_on, studio, project, task, studio.token)) == size
    pat_client = LabelStudioClient(studio.url, pat)
    legacy_tokens(pat_client, False)
    try:
        refused = ask(server("legacy-off"), studio, project, task, studio.token)
        assert refused.status_code == 502, refused.text
        message = refused.json()["message"]
        assert "answered 401" in message
        assert "legacy token that Label Studio sent in /setup" in message
        assert "set LABEL_STUDIO_API_KEY (or LABEL_STUDIO_ACCESS_TOKEN)" in message
        # The examples' env name: the personal access token wins over /setup's token.
        with_pat = server("pat", LABEL_STUDIO_ACCESS_TOKEN=pat)
        assert text(ask(with_pat, studio, project, task, studio.token)) == size
        bad = server("bad-pat", LABEL_STUDIO_ACCESS_TOKEN="eyJhbGciOiJIUzI1NiJ9.e30.c2ln")
        wrong = ask(bad, studio, project, task, studio.token)
        assert wrong.status_code == 502, wrong.text
        assert "personal access token from LABEL_STUDIO_ACCESS_TOKEN" in wrong.json()["message"]
    finally:
        legacy_tokens(pat_client, True)
        pat_client.close()
    legacy_env = server("legacy-env", LABEL_STUDIO_ACCESS_TOKEN=studio.token)
    assert text(ask(legacy_env, studio, project, task, "0" * 40)) == size  # env wins
