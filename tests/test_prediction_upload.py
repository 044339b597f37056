"""What a failed prediction import does to labelloop's pool of unlabeled tasks: a refusal
(Label Studio answered 4xx, e.g. tasks deleted) drops it so the next job lists it afresh; a
timeout or an unreachable Label Studio keeps it (listing 100,000 tasks again costs minutes,
and under load every later re-scoring was pre-empted while listing: the ordering froze).

And how the rest of a version's predictions gives way to annotators: between two calls, the
job waits until Label Studio spent only ``rescore_share`` of its time on our imports.

The far end is a real HTTP server on loopback that answers one fixed status, or stores
slowly."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, ClassVar

import orjson
import pytest

from labelloop.cli.studio import free_port
from labelloop.errors import BadRequest, LabelStudioError
from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.settings import Settings
from labelloop.training.pool_scores import PoolScores
from labelloop.training.prediction_upload import Target, Upload, give_way
from labelloop.training.task_pool import TASKS, TaskPool

KEY = "0123456789abcdef0123456789abcdef01234567"


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """Answers each POST with ``answer(body sent)``: (status, JSON body)."""

    def do_POST(self) -> None:
        status, body = self.answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer(self, sent: bytes) -> tuple[int, bytes]:
        raise NotImplementedError

    def log_message(self, *args: object) -> None:
        pass


class Answer(JsonHandler):
    status = 400

    def answer(self, sent: bytes) -> tuple[int, bytes]:
        return self.status, b'{"detail": "no such task"}'


class SlowStore(JsonHandler):
    """Stores every prediction it is sent, taking ``seconds`` a call; notes when each came."""

    seconds = 0.3
    calls: ClassVar[list[float]] = []

    def answer(self, sent: bytes) -> tuple[int, bytes]:
        SlowStore.calls.append(time.monotonic())
        time.sleep(self.seconds)
        return 201, orjson.dumps({"created": len(orjson.loads(sent))})


@contextlib.contextmanager
def serving(handler: type[JsonHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def refusing() -> Iterator[str]:
    with serving(Answer) as url:
        yield url


@pytest.fixture
def slow_store() -> Iterator[str]:
    SlowStore.calls = []
    with serving(SlowStore) as url:
        yield url


@contextlib.contextmanager
def upload_to(url: str, folder: Path, spool_path: Path, tasks: int = 1,
              **settings: float) -> Iterator[tuple[Upload, TaskPool]]:
    pool = TaskPool(folder)
    folder.mkdir(parents=True)
    (folder / TASKS).write_bytes(b"".join(orjson.dumps({"id": 7 + i, "data": {"text": "x"}})
                                          + b"\n" for i in range(tasks)))
    assert pool.ready
    with spool_path.open("w+b") as spool, LabelStudioClient(url, KEY, timeout=5.0) as ls:
        yield Upload(ls, Target("1", url, KEY, "1", "M-1"), pool, scores(spool, tasks),
                     spool, Settings(backend_dir=folder, model_dir=folder, **settings)), pool


def scores(spool: IO[bytes], tasks: int) -> PoolScores:
    line = orjson.dumps({"result": [{"type": "choices"}]}) + b"\n"
    spool.write(line * tasks)
    return PoolScores(task_ids=[7 + i for i in range(tasks)], confidences=[0.6] * tasks,
                      clusters=list(range(tasks)), offsets=[i * len(line) for i in range(tasks)])


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


def test_the_rest_gives_way_to_annotators(slow_store: str, tmp_path: Path) -> None:
    """A share of a half: after a call of 0.3 s, the next starts 0.6 s or more after it."""
    with upload_to(slow_store, tmp_path / "pool", tmp_path / "spool", tasks=4,
                   rescore_first=1, rescore_batch=1, rescore_share=0.5) as (upload, _):
        took = upload.first(switch=False)
        upload.rest(took, lambda: None, lambda n: None)
    assert upload.stored == 4
    gaps = [b - a for a, b in zip(SlowStore.calls[1:], SlowStore.calls[2:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 2 * SlowStore.seconds * 0.95, gaps


def test_a_newer_version_does_not_wait_for_the_rest(slow_store: str, tmp_path: Path) -> None:
    """The wait checks every half second: a cancellation ends it, and nothing more is sent."""
    class Newer(Exception):
        pass

    def check() -> None:
        if len(SlowStore.calls) >= 2:
            raise Newer

    with upload_to(slow_store, tmp_path / "pool", tmp_path / "spool", tasks=4,
                   rescore_first=1, rescore_batch=1, rescore_share=0.01) as (upload, _):
        took = upload.first(switch=False)
        began = time.monotonic()
        with pytest.raises(Newer):
            upload.rest(took, check, lambda n: None)
    assert len(SlowStore.calls) == 2  # the first, one of the rest; the wait (30 s) was cut
    assert time.monotonic() - began < 10


def test_give_way_without_a_share_does_not_wait() -> None:
    began = time.monotonic()
    give_way(5.0, 1.0, lambda: None)
    assert time.monotonic() - began < 1


@pytest.mark.parametrize("share", ["0", "1.5", "a lot"])
def test_a_share_out_of_range_is_refused_by_name(share: str, tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="rescore_share"):
        Settings.from_env({"LABELLOOP_RESCORE_SHARE": share}, backend_dir=tmp_path)
