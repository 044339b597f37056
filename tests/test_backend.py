"""The backend's use cases, called in-process (the HTTP tests cover the same over the wire)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelloop.backend.service import Backend
from labelloop.settings import Settings
from support.data import MODELS
from support.servers import make_backend

NER = ('<View><Labels name="label" toName="text"><Label value="PER"/></Labels>'
       '<Text name="text" value="$text"/></View>')


@pytest.mark.parametrize("chunk", [0, 1, 2, 1000])
def test_chunked_predict_keeps_order_and_count(tmp_path: Path, chunk: int) -> None:
    backend_dir = make_backend(tmp_path / "be", MODELS / "echo_model.py")
    backend = Backend.open(Settings.from_env({}, backend_dir=backend_dir, predict_chunk=chunk))
    tasks = [{"id": i, "data": {"text": f"t{i:04d} rest"}} for i in range(7)]
    answer = backend.predict("1.5", tasks, NER)
    assert [p["result"][0]["value"]["text"] for p in answer["results"]] == [
        f"t{i:04d}" for i in range(7)]
    assert {p["model_version"] for p in answer["results"]} == {"EchoModel-untrained"}


def test_model_is_built_once_per_version_and_config(tmp_path: Path) -> None:
    backend_dir = make_backend(tmp_path / "be", MODELS / "echo_model.py")
    backend = Backend.open(Settings.from_env({}, backend_dir=backend_dir))
    task = [{"data": {"text": "abc"}}]
    backend.predict("1.5", task, NER)
    backend.predict("1.5", task, NER)
    assert len(backend.models) == 1
    backend.predict("1.5", task, NER.replace("PER", "ORG"))
    assert len(backend.models) == 2
