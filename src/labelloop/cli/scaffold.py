"""``labelloop init``: a backend folder holding the model script and a ``_wsgi.py``."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

from labelloop.compat.loader import BACKEND_FILE, generation_title, load_model_class
from labelloop.errors import ScriptError
from labelloop.sdk.script import WSGI_NAME, is_test_module

EXAMPLE_SCRIPT = "simple_text_classifier.py"
EXAMPLES = {"text": EXAMPLE_SCRIPT, "ner": "ner_tagger.py"}  # init --example NAME

WSGI_TEMPLATE = '''\
"""Serve this backend: python _wsgi.py [-p 9090] [--host 0.0.0.0] [--log-level DEBUG]
[-d/--debug] [--with KEY=VALUE ...] [--model-dir DIR] [--check].

Made by `labelloop init`. The same as `labelloop start <this folder>`. As label-studio-ml's
_wsgi.py did, it offers `init_app(model_class=None, **kwargs)` (an app with `.config`,
`.test_client()` and `.run()`) and `app`, a WSGI app: gunicorn _wsgi:app (needs a2wsgi).
For an ASGI server: uvicorn --factory _wsgi:create_app
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def create_app():  # noqa: ANN201
    from labelloop.server.app import create_app as build
    from labelloop.settings import Settings

    return build(Settings.from_env(backend_dir=HERE))


def init_app(model_class=None, **kwargs):  # noqa: ANN001, ANN003, ANN201
    from labelloop.server.legacy_app import init_app as build

    return build(model_class, backend_dir=HERE, **kwargs)


def __getattr__(name):  # noqa: ANN001, ANN201
    # `app` is built when a WSGI server first asks for it, not at every import.
    if name == "app":
        globals()["app"] = app = init_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    from labelloop.cli.main import cli

    cli(["start", str(HERE), *sys.argv[1:]])
'''

README_TEMPLATE = """\
# {name}: a labelloop ML backend for Label Studio

Model: `{script}` (class `{cls}`, written for {api}).

    labelloop start {name}                       # serve on http://localhost:9090
    python {name}/_wsgi.py --log-level DEBUG --debug

In Label Studio: Project → Settings → Model → Connect Model → `http://<this host>:9090`.
Trained versions land in `<project>/<version>/` inside this folder (or MODEL_DIR).
"""


def example_script(name: str = EXAMPLE_SCRIPT) -> Path:
    """A script bundled in ``labelloop.examples``."""
    return Path(str(resources.files("labelloop.examples") / name))


def split_script_spec(spec: str | None) -> tuple[Path | None, str | None]:
    """``path/to/model.py:MyModel`` -> (path, "MyModel"); a plain path -> (path, None)."""
    if not spec:
        return None, None
    path, sep, name = spec.rpartition(":")
    if sep and name.isidentifier() and path:
        return Path(path), name
    return Path(spec), None


def init_backend(folder: Path, script: Path | None, force: bool = False,
                 class_name: str | None = None) -> str:
    """Create ``folder``; returns the model class name. Checks the script first."""
    script = script or example_script()
    if not script.is_file():
        raise ScriptError(f"model script {script} does not exist")
    model_class = load_model_class(script, class_name)  # no class, several, import error...
    if folder.exists() and any(folder.iterdir()) and not force:
        raise ScriptError(f"{folder} exists and is not empty (use --force to overwrite)")
    others = [p.name for p in folder.glob("*.py")
              if p.name not in (WSGI_NAME, script.name) and not is_test_module(p)]
    if others:
        raise ScriptError(f"{folder} already holds another model script ({', '.join(others)}); "
                          "remove it first")
    folder.mkdir(parents=True, exist_ok=True)
    if script.resolve() != (folder / script.name).resolve():
        shutil.copyfile(script, folder / script.name)
    (folder / WSGI_NAME).write_text(WSGI_TEMPLATE)
    config = {"script": script.name, "model_class": class_name or model_class.__name__}
    (folder / BACKEND_FILE).write_text(json.dumps(config, indent=2) + "\n")
    (folder / "README.md").write_text(README_TEMPLATE.format(
        name=folder.name, script=script.name, cls=model_class.__name__,
        api=generation_title(model_class)))
    return model_class.__name__
