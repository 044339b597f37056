"""What a failed prediction import does to labelloop's pool of unlabeled tasks: a refusal
(Label Studio answered 4xx, e.g. tasks deleted) drops it so the next job lists it afresh; a
timeout or an unreachable Label Studio keeps it (listing 100,000 tasks again costs minutes,
and under load every later re-scoring was pre-empted while listing: the ordering froze).

The far end is a real HTTP server on loopback that answers one fixed status."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson
import pytest

from labelloop.cli.studio import free_port
from labelloop.errors import LabelStudioError
from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.settings import Settings
from labelloop.training.pool_scores import PoolScores
from labelloop.training.prediction_upload import Target, Upload
from labelloop.training.task_pool import TASKS, TaskPool

KEY = "0123456789abcdef0123456789abcdef01234567"


class Answer(http.server.BaseHTTPRequestHandler):
    status = 400

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"detail": "no such task"}'
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@contextlib.contextmanager
def upload_to(url: str, folder: Path, spool_path: Path) -> Iterator[tuple[Upload, TaskPool]]:
    pool = TaskPool(folder)
    folder.mkdir(parents=True)
    (folder / TASKS).write_bytes(b'{"id": 7, "data": {"text": "x"}}\n')
    assert pool.ready
    with spool_path.open("w+b") as spool, LabelStudioClient(url, KEY, timeout=5.0) as ls:
        yield Upload(ls, Target("1", url, KEY, "1", "M-1"), pool, one_score(spool),
                     spool, Settings(backend_dir=folder, model_dir=folder)), pool


def one_score(spool: IO[bytes]) -> PoolScores:
    spool.write(orjson.dumps({"result": [{"type": "choices"}]}) + b"\n")
    return PoolScores(task_ids=[7], confidences=[0.6], clusters=[0], offsets=[0])


def test_a_refused_import_drops_the_pool(refusing: str, tmp_path: Path) -> None:
    with upload_to(refusing, tmp_path / "pool", tmp_path / "spool") as (upload, pool), \
            pytest.raises(LabelStudioError) as caught:
        upload.first(switch=False)
    assert caught.value.refused and caught.value.answered == 400
    assert not pool.ready  # listed afresh by the next job


def test_an_unreachable_label_studio_keeps_the_pool(tmp_path: Path) -> None:
    with upload_to(f"http://127.0.0.1:{free_port()}", tmp_path / "pool",
                   tmp_path / "spool") as (upload, pool), \
            pytest.raises(LabelStudioError) as caught:
        upload.first(switch=False)
    assert not caught.value.refused and caught.value.answered is None
    assert pool.ready


def test_a_server_error_keeps_the_pool(refusing: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Answer, "status", 503)
    with upload_to(refusing, tmp_path / "pool", tmp_path / "spool") as (upload, pool), \
            pytest.raises(LabelStudioError) as caught:
        upload.first(switch=False)
    assert caught.value.answered == 503 and not caught.value.refused
    assert pool.ready
