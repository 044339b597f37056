"""The HTTP app Label Studio talks to. Only this package imports the web framework.

Bodies are parsed by pydantic straight from bytes (fast for 50,000-task batches) and
answers are written with orjson; errors are JSON ``{"error", "message", "field"}``.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from labelloop import __version__
from labelloop.backend.memory import LARGE_BATCH, release_memory
from labelloop.backend.metrics import CONTENT_TYPE
from labelloop.backend.service import Backend
from labelloop.errors import InvalidField, LabelloopError, ModelError, NotFound
from labelloop.server.middleware import AuthGuard, BodyLimit, RequestMetrics
from labelloop.server.pacing import Pace
from labelloop.server.predict_body import decode
from labelloop.server.schemas import (
    ErrorBody,
    JobId,
    PredictRequest,
    ProjectQuery,
    SetupRequest,
    TrainRequest,
    WebhookRequest,
)
from labelloop.server.status_routes import install_status_routes
from labelloop.settings import SETTINGS_ENV, Settings

log = logging.getLogger("labelloop.server")
M = TypeVar("M", bound=BaseModel)
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorBody} for s in (400, 401, 404, 413, 422, 500, 503)}


def json_response(content: Any, status: int = 200) -> Response:
    try:
        body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:
        raise ModelError(f"the answer is not JSON-serialisable: {exc}") from exc
    return Response(body, status_code=status, media_type="application/json")


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body we parse ourselves."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": model.model_json_schema(by_alias=True)}}}}


async def parse(request: Request, model: type[M]) -> M:
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise InvalidField(field_path(err["loc"]), err["msg"]) from exc


_UNION_TAGS = {"str", "int", "float", "bool", "dict", "list"}


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("tasks", 0, "data")`` -> ``tasks[0].data``, without pydantic's union-member tags."""
    parts = [p for p in loc if isinstance(p, int)
             or (p.isidentifier() and p not in _UNION_TAGS)]
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    return path.lstrip(".") or "body"


def create_app(settings: Settings, backend: Backend | None = None) -> FastAPI:
    """Build the app; ``backend`` defaults to :meth:`Backend.open` on ``settings``."""
    backend = backend or Backend.open(settings)
    app = FastAPI(title="labelloop", version=__version__,
                  description="A Label Studio ML backend.", responses=_ERRORS)
    app.state.backend = backend
    _install_errors(app)
    _install_routes(app, backend, settings)
    install_status_routes(app, backend, settings)
    app.add_middleware(AuthGuard, settings=settings)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if backend.metrics is not None:  # outermost: it sees every answer, 401s and 413s too
        routes = frozenset(getattr(r, "path", "") for r in app.routes)
        app.add_middleware(RequestMetrics, metrics=backend.metrics, routes=routes)
    return app


def _install_errors(app: FastAPI) -> None:
    async def known(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LabelloopError)
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message)
        return json_response(exc.to_dict(), exc.status)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"] if p not in ("query", "body"))
        return json_response(InvalidField(field or "request", err["msg"]).to_dict(), 422)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return json_response({"error": "internal_error",
                              "message": "internal error; see the server log"}, 500)

    app.add_exception_handler(LabelloopError, known)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)


def _install_routes(app: FastAPI, backend: Backend,  # noqa: C901 - one route each
                    settings: Settings) -> None:
    pace = Pace()
    @app.get("/", summary="Same as /health")
    @app.get("/health", summary="Liveness; never waits for a model to load")
    async def health() -> Response:
        return json_response(backend.health())

    @app.post("/setup", openapi_extra=_body(SetupRequest))
    async def setup(request: Request) -> Response:
        req = await parse(request, SetupRequest)
        return json_response(await run_in_threadpool(
            backend.setup, req.project, req.label_config, req.hostname, req.access_token,
            req.extra_params))

    @app.post("/predict", openapi_extra=_body(PredictRequest))
    async def predict(request: Request) -> Response:
        req = decode(await request.body(), backend.model_class.task_fields)
        context = (req.params or {}).get("context")
        if context is not None and not isinstance(context, dict):
            raise InvalidField("params.context", "must be an object or null")
        project = req.project if req.project is not None else settings.default_project
        tasks = len(req.tasks)

        def answer() -> Response:  # one thread hop for both: predicting and serialising
            started = time.perf_counter()
            response = json_response(backend.predict(project, req.tasks, req.label_config,
                                                     context))
            pace.observe(tasks, time.perf_counter() - started)
            return response

        response = answer() if pace.inline(tasks) else await run_in_threadpool(answer)
        if tasks >= LARGE_BATCH:
            del req  # drop the batch before trimming the heap: once the answer is sent
            response.background = BackgroundTask(release_memory)
        return response

    # The hot route as a plain Starlette route, matched before FastAPI's own (which stays
    # for the OpenAPI document): FastAPI's dependency solving was a fifth of a one-task
    # answer, and this endpoint takes the raw request anyway.
    app.router.routes.insert(0, Route("/predict", predict, methods=["POST"]))

    @app.post("/webhook", openapi_extra=_body(WebhookRequest))
    async def webhook(request: Request) -> Response:
        raw = await request.body()
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidField("body", f"is not valid JSON: {exc}") from exc
        return json_response(await run_in_threadpool(backend.webhook, payload))

    @app.get("/versions")
    async def versions(project: ProjectQuery | None = None) -> Response:
        return json_response(await run_in_threadpool(backend.versions, project))

    @app.post("/train", openapi_extra=_body(TrainRequest), status_code=201,
              summary="Legacy training request")
    async def train(request: Request) -> Response:
        req = await parse(request, TrainRequest)
        tasks = req.annotations if req.annotations is not None else req.completions
        if tasks is None:
            raise InvalidField("annotations", "is required (or 'completions', as Label Studio "
                                              "0.8/0.9 sent it)")
        field = "annotations" if req.annotations is not None else "completions"
        project = req.project if req.project is not None else settings.default_project
        return json_response(await run_in_threadpool(
            backend.train_legacy, project, [_annotations_key(t) for t in tasks],
            req.label_config, field), 201)  # Label Studio 0.x's backend answered 201

    @app.get("/is_training")
    async def is_training(project: ProjectQuery | None = None) -> Response:
        return json_response(await run_in_threadpool(
            backend.is_training, project if project is not None else settings.default_project))

    @app.get("/job_status")
    async def job_status(job_id: JobId) -> Response:
        return json_response(await run_in_threadpool(backend.job_status, job_id))

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        if backend.metrics is None:
            raise NotFound("metrics are off (LABELLOOP_METRICS=false)")
        body = await run_in_threadpool(backend.metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE)


def _annotations_key(task: dict[str, Any]) -> dict[str, Any]:
    """Label Studio 0.x called annotations "completions"."""
    if "annotations" not in task and isinstance(task.get("completions"), list):
        return {**task, "annotations": task["completions"]}
    return task


def app_from_env() -> FastAPI:
    """The factory uvicorn's worker processes call: settings come from the environment."""
    text = os.environ.get(SETTINGS_ENV)
    settings = Settings.from_json(text) if text else Settings.from_env()
    return create_app(settings)
