"""A real Label Studio 1.23.2 for the whole e2e session (its cold start takes ~25 s)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelloop.cli.studio import (
    DEFAULT_LS_VENV,
    LabelStudio,
    ensure_ls_venv,
    free_port,
)
from labelloop.sdk.label_studio import LabelStudioClient


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def ls_venv() -> Path:
    venv = Path(os.environ.get("LABELLOOP_LS_VENV") or DEFAULT_LS_VENV)
    ensure_ls_venv(venv)  # created when missing, reused when present
    return venv


@pytest.fixture(scope="session")
def local_files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Label Studio's LOCAL_FILES_DOCUMENT_ROOT: Local Files storages live below it."""
    return tmp_path_factory.mktemp("ls-local-files")


@pytest.fixture(scope="session")
def studio(ls_venv: Path, tmp_path_factory: pytest.TempPathFactory,
           local_files_root: Path) -> Iterator[LabelStudio]:
    # A password that starts with "-", as secrets.token_urlsafe() makes one time in 64.
    ls = LabelStudio(ls_venv / "bin" / "label-studio", tmp_path_factory.mktemp("ls-data"),
                     free_port(), password="-" + secrets.token_urlsafe(9),
                     extra_env={"LOCAL_FILES_SERVING_ENABLED": "true",
                                "LOCAL_FILES_DOCUMENT_ROOT": str(local_files_root)})
    ls.start()
    yield ls
    ls.stop()


@pytest.fixture(scope="session")
def ls(studio: LabelStudio) -> Iterator[LabelStudioClient]:
    client = studio.client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def pat(ls: LabelStudioClient) -> str:
    """The session user's personal access token. Label Studio 1.23 gives a user one (a
    second POST /api/token/ is a 409 until the first is revoked), so tests share it."""
    token = str(ls.call("POST", "/api/token/")["token"])
    assert token.count(".") == 2, "not a JWT"
    return token


def validate_with_label_studio(ls_venv: Path, config: str, predictions: list[Any]) -> list[Any]:
    """Errors that Label Studio's own validator (label_studio_sdk) finds in our predictions."""
    code = ("import json,sys\n"
            "from label_studio_sdk.label_interface import LabelInterface\n"
            "cfg, preds = json.load(sys.stdin)\n"
            "li = LabelInterface(cfg)\n"
            "print(json.dumps([li.validate_prediction(p, return_errors=True) for p in preds]))\n")
    out = subprocess.run([str(ls_venv / "bin" / "python"), "-c", code], check=True,
                         input=json.dumps([config, predictions]), capture_output=True, text=True)
    return [e for e in json.loads(out.stdout.splitlines()[-1]) if e not in ([], True, None)]
