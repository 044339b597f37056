"""Where a /predict spends its CPU, stage by stage, and a profile of the whole app.

    python bench/profile_predict.py [--script bench/models/word_native.py] [--tasks 10000]
                                    [--no-served] [--profile]

The backend is made as users make it (``labelloop init --script``, the founding classifier
by default; ``labelloop train`` on 1,000 annotated sentences). Then, for a 1-task body
and a ``--tasks`` body (real Label Studio /predict bodies), the CPU time of each stage,
best of 3 runs, in ms per request and us per task:

- parse: ``PredictRequest.model_validate_json`` (orjson.loads alone, for reference);
- ``Backend.predict`` (config, version lookup, the model, stamping) and, of it, the
  model's own ``predict()`` on the same tasks;
- the answer: ``json_response`` (orjson) and ``release_memory``;
- the same two calls each in a worker thread (``run_in_threadpool``, as the route runs
  them), ``GET /health`` through the app (the middleware and routing every request
  pays), and the whole ASGI app (``create_app``) on the body, called in-process without
  sockets;
- ``labelloop start`` (1 worker) answering the same request over loopback: its CPU, from
  psutil. Served minus the in-process app is uvicorn, HTTP and the socket calls; the
  floor under it: uvicorn serving bench/null_app.py (reads the body, answers as many
  bytes as labelloop did).

CPU time (``time.process_time``, all threads) rather than wall time, so that other load
on the machine changes the figures little. ``--profile`` adds pyinstrument profiles of
the in-process app: the big request once, and 2,000 one-task requests.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    BENCH,
    CONFIG,
    PROJECT,
    Backend,
    Server,
    corpus_texts,
    free_port,
    load,
    predict_body,
    trained_backend,
    write_export,
)
from labelloop.backend.memory import release_memory
from labelloop.backend.service import Backend as Service
from labelloop.sdk.label_config import parse_label_config
from labelloop.server.app import create_app, json_response
from labelloop.server.schemas import PredictRequest
from labelloop.settings import Settings

SINGLE_CALLS = 2000
Row = tuple[str, float]  # (stage, CPU seconds per request)


def cpu_per_call(func: Callable[[], Any], calls: int, runs: int = 3) -> float:
    """CPU seconds a call, best of ``runs`` runs of ``calls`` calls."""
    func()
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        for _ in range(calls):
            func()
        best = min(best, (time.process_time() - started) / calls)
    return best


class AsgiClient:
    """Calls an ASGI app as uvicorn would, minus the sockets and the HTTP parsing."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    async def _call(self, body: bytes) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
                 "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/predict", "raw_path": b"/predict", "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 50000),
                 "server": ("127.0.0.1", 9090),
                 "headers": [(b"host", b"127.0.0.1:9090"),
                             (b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode())]}
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status

    def post(self, body: bytes, times: int = 1) -> None:
        async def many() -> None:
            for _ in range(times):
                status = await self._call(body)
                assert status == 200, status

        self.loop.run_until_complete(many())

    def health(self, times: int = 1) -> None:
        """GET /health: the middleware and routing every request goes through."""
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "GET", "scheme": "http", "path": "/health",
                 "raw_path": b"/health", "query_string": b"", "root_path": "",
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 9090),
                 "headers": [(b"host", b"127.0.0.1:9090")]}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            pass

        async def many() -> None:
            for _ in range(times):
                await self.app(scope, receive, send)

        self.loop.run_until_complete(many())

    def in_threads(self, funcs: tuple[Callable[[], Any], ...], times: int = 1) -> None:
        """Each function in a worker thread, one after the other, as the route runs
        ``Backend.predict`` and ``json_response``."""
        async def many() -> None:
            for _ in range(times):
                for func in funcs:
                    await run_in_threadpool(func)

        self.loop.run_until_complete(many())


def per_call(func: Callable[[int], Any], calls: int) -> float:
    """CPU seconds a call of ``func(calls)`` (which makes ``calls`` calls in one event
    loop run), best of 3."""
    return cpu_per_call(lambda: func(calls), 1) / calls


def stages(service: Service, model: Any, client: AsgiClient, body: bytes,
           calls: int) -> list[Row]:
    req = PredictRequest.model_validate_json(body)
    tasks = list(req.tasks)
    result = service.predict(req.project, tasks, req.label_config)
    return [
        ("parse: PredictRequest.model_validate_json",
         cpu_per_call(lambda: PredictRequest.model_validate_json(body), calls)),
        ("  (orjson.loads of the same body)", cpu_per_call(lambda: orjson.loads(body), calls)),
        ("Backend.predict", cpu_per_call(
            lambda: service.predict(req.project, tasks, req.label_config), calls)),
        ("  of which the model's own predict()", cpu_per_call(lambda: model.predict(tasks),
                                                             calls)),
        ("answer: json_response (orjson)", cpu_per_call(lambda: json_response(result), calls)),
        ("release_memory (after batches >= 5,000)", cpu_per_call(release_memory, calls)
         if len(tasks) >= 5000 else 0.0),
        ("Backend.predict + json_response, each in a worker thread", per_call(
            lambda k: client.in_threads((
                lambda: service.predict(req.project, tasks, req.label_config),
                lambda: json_response(result)), k), calls)),
        ("GET /health through the app (middleware, routing)", per_call(client.health, calls)),
        ("the whole ASGI app, in-process", per_call(lambda k: client.post(body, k), calls)),
    ]


class NullServer(Server):
    """uvicorn serving bench/null_app.py: the floor of an HTTP request."""

    def __init__(self) -> None:
        port = free_port()
        super().__init__([sys.executable, "-m", "uvicorn", "null_app:app", "--app-dir",
                          str(BENCH), "--host", "127.0.0.1", "--port", str(port),
                          "--log-level", "warning", "--no-access-log"], port)


def served(server: Server, body: bytes, tasks: int, path: str = "/predict") -> float:
    """The server's CPU seconds per request (c=1 closed loop for 1 task; best of 3)."""
    if tasks == 1:
        cpu = server.cpu()
        got = load(server.port, body, 1, 3.0, path)
        return (server.cpu() - cpu) / got["total"]
    best = float("inf")
    for _ in range(3):
        cpu = server.cpu()
        status, _, _ = server.timed("POST", path, body)
        assert status == 200, status
        best = min(best, server.cpu() - cpu)
    return best


def print_rows(title: str, rows: list[Row], tasks: int) -> None:
    print(f"\n{title}")
    width = max(len(name) for name, _ in rows)
    print(f"{'':<{width}}  {'CPU ms/request':>14}  {'us/task':>9}")
    for name, secs in rows:
        print(f"{name:<{width}}  {secs * 1000:>14.3f}  {secs / tasks * 1e6:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", type=Path, default=None,
                        help="model script (default: the founding classifier)")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--train", type=int, default=1000, help="annotated sentences")
    parser.add_argument("--no-served", action="store_true",
                        help="skip the `labelloop start` measurement")
    parser.add_argument("--profile", action="store_true", help="pyinstrument profiles too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export = write_export(root, args.train)
        script = args.script.resolve() if args.script else None
        backend_dir, model_dir, train_output = trained_backend(root, "backend", script, export)
        settings = Settings.from_env({}, backend_dir=backend_dir, model_dir=model_dir)
        service = Service.open(settings)
        model = service.model_class(parse_label_config(CONFIG), train_output=train_output)
        client = AsgiClient(create_app(settings, service))
        service.setup(PROJECT, CONFIG)
        bodies = {1: predict_body(corpus_texts(1)), args.tasks: predict_body(
            corpus_texts(args.tasks))}
        server = None if args.no_served else Backend(backend_dir, model_dir)
        null = None if args.no_served else NullServer()
        try:
            if server is not None:
                server.post("/setup", {"project": PROJECT, "schema": CONFIG})
            for n, body in bodies.items():
                rows = stages(service, model, client, body, SINGLE_CALLS if n == 1 else 1)
                if server is not None and null is not None:
                    rows.append(("labelloop start, 1 worker (psutil)", served(server, body, n)))
                    answer = len(server.timed("POST", "/predict", body)[1])
                    rows.append((f"  floor: uvicorn + a null ASGI app ({answer:,} B answer)",
                                 served(null, body, n, f"/predict?answer={answer}")))
                name = args.script.name if args.script else "the founding classifier"
                print_rows(f"{n:,} task(s) a request, {name} ({service.generation})", rows, n)
        finally:
            for running in (server, null):
                if running is not None:
                    running.stop()
        if args.profile:
            profile(client, bodies[args.tasks], bodies[1])


def profile(client: AsgiClient, big: bytes, one: bytes) -> None:
    from pyinstrument import Profiler

    for label, body, times in (("one big request", big, 1),
                               (f"{SINGLE_CALLS} one-task requests", one, SINGLE_CALLS)):
        profiler = Profiler(interval=0.0005)
        profiler.start()
        client.post(body, times)
        profiler.stop()
        print(f"\n== profile: {label} (in-process ASGI app) ==")
        print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
