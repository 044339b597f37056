"""``labelloop init``: a backend folder holding the model script and a ``_wsgi.py``."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from labelloop.errors import ScriptError
from labelloop.sdk.script import WSGI_NAME, load_model_class

EXAMPLE_SCRIPT = "simple_text_classifier.py"

WSGI_TEMPLATE = '''\
"""Serve this backend: python _wsgi.py [--port 9090] [--log-level DEBUG] [--debug].

Made by `labelloop init`. The same as `labelloop start <this folder>`; for another
ASGI server: uvicorn --factory _wsgi:create_app
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def create_app():  # noqa: ANN201
    from labelloop.server.app import create_app as build
    from labelloop.settings import Settings

    return build(Settings.from_env(backend_dir=HERE))


if __name__ == "__main__":
    from labelloop.cli.main import cli

    cli(["start", str(HERE), *sys.argv[1:]])
'''

README_TEMPLATE = """\
# {name}: a labelloop ML backend for Label Studio

Model: `{script}` (class `{cls}`).

    labelloop start {name}                       # serve on http://localhost:9090
    python {name}/_wsgi.py --log-level DEBUG --debug

In Label Studio: Project → Settings → Model → Connect Model → `http://<this host>:9090`.
Trained versions land in `<project>/<version>/` inside this folder (or MODEL_DIR).
"""


def example_script() -> Path:
    return Path(str(resources.files("labelloop.examples") / EXAMPLE_SCRIPT))


def init_backend(folder: Path, script: Path | None, force: bool = False) -> str:
    """Create ``folder``; returns the model class name. Checks the script first."""
    script = script or example_script()
    model_class = load_model_class(script)  # fails clearly: no class, several, import error
    if folder.exists() and any(folder.iterdir()) and not force:
        raise ScriptError(f"{folder} exists and is not empty (use --force to overwrite)")
    others = [p.name for p in folder.glob("*.py") if p.name not in (WSGI_NAME, script.name)]
    if others:
        raise ScriptError(f"{folder} already holds another model script ({', '.join(others)}); "
                          "remove it first")
    folder.mkdir(parents=True, exist_ok=True)
    if script.resolve() != (folder / script.name).resolve():
        shutil.copyfile(script, folder / script.name)
    (folder / WSGI_NAME).write_text(WSGI_TEMPLATE)
    (folder / "README.md").write_text(README_TEMPLATE.format(
        name=folder.name, script=script.name, cls=model_class.__name__))
    return model_class.__name__
