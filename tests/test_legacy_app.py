"""``init_app`` as label-studio-ml offered it: the app's ``config``, its Flask-like test
client, its keyword arguments, the WSGI callable, and the generated ``_wsgi.py``."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from labelloop.compat.standins import install, is_standin
from labelloop.errors import ScriptError
from labelloop.sdk.script import load_model_class
from labelloop.server.legacy_app import LegacyApp, init_app
from support.data import TEXT_CONFIG
from support.servers import make_backend

# A native model that says what it was built with: its constructor's keyword arguments.
PARAMS_MODEL = '''
import json
from labelloop.sdk import LabelStudioModel, prediction, textarea_region

class ParamsModel(LabelStudioModel):
    def predict(self, tasks, context=None, **kwargs):
        text = json.dumps(self.params, sort_keys=True)
        return [prediction([textarea_region("answer", "text", [text])]) for _ in tasks]
'''
ANSWER_CONFIG = ('<View><Text name="text" value="$text"/>'
                 '<TextArea name="answer" toName="text"/></View>')
BODY = {"tasks": [{"data": {"text": "x"}}], "label_config": ANSWER_CONFIG}


def script_class(folder: Path, source: str, name: str = "model.py") -> type:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(source)
    return load_model_class(folder / name)


def import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"wsgi_{abs(hash(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def params_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type:
    monkeypatch.delenv("MODEL_DIR", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return script_class(tmp_path / "backend", PARAMS_MODEL)


def test_test_client_speaks_flask(params_model: type) -> None:
    app = init_app(model_class=params_model)
    app.config["TESTING"] = True
    with app.test_client() as client:
        health = client.get("/health")
        assert health.status_code == 200 and health.status == "200 OK"
        assert health.json["model_class"] == "ParamsModel" == health.get_json()["model_class"]
        assert json.loads(health.data) == health.json and health.is_json
        assert health.headers["content-type"] == "application/json"
        as_data = client.post("/predict", data=json.dumps(BODY),
                              content_type="application/json")
        as_json = client.post("/predict", json=BODY, headers={"X-Request": "1"})
        assert as_data.status_code == as_json.status_code == 200
        assert as_data.json["results"][0]["result"][0]["value"]["text"] == ["{}"]
        refused = client.post("/predict", data="not json", content_type="application/json")
        assert refused.status_code == 422 and refused.json["error"]
        metrics = client.get("/metrics")  # Prometheus text: not JSON
        assert metrics.status_code == 200 and metrics.json is None
        assert metrics.get_json(silent=True, force=True) is None
        with pytest.raises(ValueError):
            metrics.get_json(force=True)
        assert isinstance(metrics.get_data(as_text=True), str)


def test_init_app_keyword_arguments(params_model: type, tmp_path: Path) -> None:
    """model_dir and basic auth are the server's; label-studio-ml 1.0.x's Redis arguments
    are accepted and unused; the rest reach the model's constructor."""
    app = init_app(model_class=params_model, model_dir=tmp_path / "versions",
                   basic_auth_user="ann", basic_auth_pass="secret", redis_queue="default",
                   redis_host="localhost", redis_port=6379, threshold=0.5, mode="fast")
    assert app.settings.model_dir == (tmp_path / "versions").resolve()
    assert app.settings.redis_url is None
    client = app.test_client()
    assert client.post("/predict", json=BODY).status_code == 401
    answer = client.post("/predict", json=BODY, headers={"Authorization": _basic("ann:secret")})
    text = answer.json["results"][0]["result"][0]["value"]["text"][0]
    assert json.loads(text) == {"mode": "fast", "threshold": 0.5}


def _basic(pair: str) -> str:
    import base64

    return "Basic " + base64.b64encode(pair.encode()).decode()


def test_init_app_refuses_what_training_could_not_load(tmp_path: Path) -> None:
    two = tmp_path / "two"
    model = script_class(two, PARAMS_MODEL)
    (two / "helpers.py").write_text("X = 1\n")  # training processes could not tell which
    with pytest.raises(ScriptError, match=r"labelloop\.json"):
        init_app(model_class=model)
    (two / "labelloop.json").write_text(json.dumps({"script": "model.py"}))
    assert isinstance(init_app(model_class=model), LegacyApp)
    with pytest.raises(TypeError, match="model_class or backend_dir"):
        init_app()
    with pytest.raises(ScriptError, match="neither"):
        init_app(model_class=dict)


def test_the_app_is_a_wsgi_app(params_model: type) -> None:
    app = init_app(model_class=params_model)
    environ: dict[str, Any] = {"PATH_INFO": "/predict", "REQUEST_METHOD": "POST",
                               "CONTENT_TYPE": "application/json"}
    setup_testing_defaults(environ)
    body = json.dumps(BODY).encode()
    environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
    started: list[str] = []
    chunks = app(environ, lambda status, headers, exc_info=None: started.append(status))
    answer = json.loads(b"".join(chunks))
    assert started == ["200 OK"] and answer["results"][0]["result"]


def test_generated_wsgi_offers_init_app_and_app(tmp_path: Path) -> None:
    backend = make_backend(tmp_path / "be", Path(__file__).parent / "models" / "echo_model.py")
    wsgi = import_file(backend / "_wsgi.py")
    assert "app" not in vars(wsgi)  # built on first use (gunicorn _wsgi:app), not on import
    assert isinstance(wsgi.app, LegacyApp) and wsgi.app is wsgi.app
    with wsgi.init_app().test_client() as client:
        assert client.get("/health").json["model_class"] == "EchoModel"
        body = {"tasks": [{"data": {"text": "a"}}], "label_config": TEXT_CONFIG}
        assert client.post("/predict", json=body).json["results"][0]["model_version"] == (
            "EchoModel-untrained")


def test_label_studio_ml_api_offers_init_app(params_model: type) -> None:
    install()
    for name in ("label_studio_ml.api", "label_studio.ml.api"):
        api = importlib.import_module(name)
        assert is_standin(name)  # this environment has neither old package installed
        assert isinstance(api.init_app(model_class=params_model), LegacyApp)
        with pytest.raises(ScriptError, match="_server"):
            api._server  # noqa: B018 - the old Flask app itself stays unsupported
