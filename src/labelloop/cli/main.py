"""The ``labelloop`` command."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from labelloop import __version__
from labelloop.errors import LabelloopError
from labelloop.settings import SETTINGS_ENV, Settings, configure_logging

F = TypeVar("F", bound=Callable[..., Any])
backend_dir = click.argument("backend_dir", type=click.Path(file_okay=False, path_type=Path))
model_dir_opt = click.option("--model-dir", type=click.Path(file_okay=False, path_type=Path),
                             help="where versions are stored [env MODEL_DIR; default: BACKEND_DIR]")
project_opt = click.option("--project", default="default", show_default=True,
                           help="project id or name (a folder under the model dir)")


def friendly(func: F) -> F:
    """Show labelloop errors as one clear line, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LabelloopError as exc:
            raise click.ClickException(exc.message) from exc

    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(__version__, prog_name="labelloop")
def cli() -> None:
    """labelloop: serve, train and version a model for Label Studio."""


@cli.command()
@backend_dir
@click.option("--script", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="your model script [default: the bundled simple_text_classifier.py]")
@click.option("--force", is_flag=True, help="overwrite an existing, non-empty folder")
@friendly
def init(backend_dir: Path, script: Path | None, force: bool) -> None:
    """Create BACKEND_DIR holding the model script and a _wsgi.py."""
    from labelloop.cli.scaffold import init_backend

    name = init_backend(backend_dir, script, force)
    click.echo(f"Created {backend_dir} with model class {name}.\n"
               f"Start it: labelloop start {backend_dir}")


@cli.command()
@backend_dir
@click.option("--host", default=None, help="[env HOST; default 0.0.0.0]")
@click.option("-p", "--port", type=int, default=None, help="[env PORT; default 9090]")
@model_dir_opt
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING... [env LOG_LEVEL]")
@click.option("--debug", is_flag=True, default=None, help="log every request, DEBUG level")
@click.option("--workers", type=int, default=None, help="server processes [default 1]")
@click.option("--basic-auth-user", default=None, help="[env BASIC_AUTH_USER]")
@click.option("--basic-auth-pass", default=None, help="[env BASIC_AUTH_PASS]")
@click.option("--webhook-secret", default=None, help="[env LABELLOOP_WEBHOOK_SECRET]")
@click.option("--redis-url", default=None, help="job state in Redis [env REDIS_URL]")
@friendly
def start(backend_dir: Path, **flags: Any) -> None:
    """Serve BACKEND_DIR for Label Studio (port 9090)."""
    settings = Settings.from_env(backend_dir=backend_dir, **flags)
    serve(settings)


def serve(settings: Settings) -> None:
    import uvicorn

    from labelloop.server.app import create_app

    level = "DEBUG" if settings.debug else settings.log_level.upper()
    configure_logging(level)
    common: dict[str, Any] = {"host": settings.host, "port": settings.port,
                              "log_level": level.lower(), "access_log": settings.debug}
    if settings.workers > 1:
        # Check the script in a throw-away process: the supervisor stays small.
        check_script(settings.backend_dir)
        os.environ[SETTINGS_ENV] = settings.to_json()
        logging.getLogger("labelloop").info("starting %d server processes", settings.workers)
        uvicorn.run("labelloop.server.app:app_from_env", factory=True,
                    workers=settings.workers, **common)
        return
    app = create_app(settings)  # loads the model script now: errors show before serving
    backend = app.state.backend
    mode = f"{backend.stores.mode} mode"
    if backend.stores.mode == "redis":
        mode += f" ({settings.redis_url}: " + (
            "answering)" if backend.stores.ping() else "NOT answering; serving what is loaded)")
    logging.getLogger("labelloop").info(
        "serving %s in %s from %s, versions in %s", backend.model_class.__name__,
        mode, settings.backend_dir, settings.model_dir)
    uvicorn.run(app, **common)


def check_script(backend_dir: Path) -> None:
    """Import the model script in a subprocess; raise its error message if it fails."""
    import subprocess

    code = ("import sys\nfrom labelloop.errors import LabelloopError\n"
            "from labelloop.sdk.script import find_model_script, load_model_class\n"
            "try:\n    load_model_class(find_model_script(sys.argv[1]))\n"
            "except LabelloopError as e:\n    sys.exit(e.message)\n")
    result = subprocess.run([sys.executable, "-c", code, str(backend_dir)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise click.ClickException(result.stderr.strip().splitlines()[-1])


@cli.command()
@backend_dir
@model_dir_opt
@click.option("--redis-url", default=None, help="[env REDIS_URL; required]")
@click.option("--log-level", default=None, help="[env LOG_LEVEL]")
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
@friendly
def worker(backend_dir: Path, model_dir: Path | None, redis_url: str | None,
           log_level: str | None, burst: bool) -> None:
    """Run training jobs from Redis; start any number, on any machine."""
    from labelloop.sdk.script import find_model_script, load_model_class

    settings = Settings.from_env(backend_dir=backend_dir, model_dir=model_dir,
                                 redis_url=redis_url, log_level=log_level)
    if not settings.redis_url:
        raise click.UsageError("a worker needs Redis: pass --redis-url or set REDIS_URL")
    load_model_class(find_model_script(settings.backend_dir))  # fail now, not per job
    from labelloop.training.rq_queue import run_worker

    configure_logging(settings.log_level)
    run_worker(settings, burst=burst)


@cli.command()
@backend_dir
@model_dir_opt
@click.option("--redis-url", default=None, help="[env REDIS_URL]")
@click.option("--project", default=None, help="only this project")
@friendly
def versions(backend_dir: Path, model_dir: Path | None, redis_url: str | None,
             project: str | None) -> None:
    """List model versions, marking the current one with '*'."""
    from labelloop.backend.service import Backend

    backend = Backend.open(Settings.from_env(backend_dir=backend_dir, model_dir=model_dir,
                                             redis_url=redis_url))
    listing = backend.versions(project)["projects"]
    if not listing:
        click.echo("no versions yet")
    for name, infos in listing.items():
        click.echo(f"project {name}")
        for i in infos:
            mark = "*" if i["current"] else " "
            click.echo(f"  {mark} {i['version']}  {i['status']:<10} {i['model_version']}")


@cli.command()
@backend_dir
@model_dir_opt
@click.option("--redis-url", default=None, help="[env REDIS_URL]")
@click.option("--project", required=True)
@click.option("--version", "version", required=True, help="a version folder name")
@friendly
def rollback(backend_dir: Path, model_dir: Path | None, redis_url: str | None, project: str,
             version: str) -> None:
    """Serve an earlier VERSION of PROJECT (atomic; every server switches at once)."""
    from labelloop.backend.service import Backend

    backend = Backend.open(Settings.from_env(backend_dir=backend_dir, model_dir=model_dir,
                                             redis_url=redis_url))
    click.echo(f"now serving {backend.rollback(project, version)['model_version']}")


tasks_opt = click.option("--tasks", "tasks_file", required=True,
                         type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="a Label Studio JSON export (list of tasks)")
config_opt = click.option("--label-config", "config_file",
                          type=click.Path(exists=True, dir_okay=False, path_type=Path),
                          help="label config XML [default: the project's, from /setup]")


def offline_options(func: F) -> F:
    """The options `train` and `predict` share."""
    for option in (model_dir_opt, config_opt, project_opt, tasks_opt, backend_dir):
        func = option(func)
    return func


@cli.command()
@offline_options
@friendly
def train(backend_dir: Path, tasks_file: Path, project: str, config_file: Path | None,
          model_dir: Path | None) -> None:
    """Train a new version now, from a Label Studio JSON export."""
    from labelloop.cli.offline import train_offline

    settings = Settings.from_env(backend_dir=backend_dir, model_dir=model_dir)
    record = train_offline(settings, project, tasks_file, config_file)
    if record.state != "finished":
        raise click.ClickException(f"training failed: {record.error}")
    click.echo(f"trained version {record.version} of project {record.project}")


@cli.command()
@offline_options
@friendly
def predict(backend_dir: Path, tasks_file: Path, project: str, config_file: Path | None,
            model_dir: Path | None) -> None:
    """Print the current version's predictions for TASKS as JSON."""
    from labelloop.cli.offline import predict_offline

    settings = Settings.from_env(backend_dir=backend_dir, model_dir=model_dir)
    result = predict_offline(settings, project, tasks_file, config_file)
    sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")


@cli.command()
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"),
              show_default=True, help="backend, Label Studio data and logs")
@click.option("--ls-venv", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Label Studio's virtualenv [env LABELLOOP_LS_VENV; created if missing]")
@click.option("--ls-port", type=int, default=8080, show_default=True)
@click.option("--port", "backend_port", type=int, default=9090, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="backend bind address")
@friendly
def demo(workdir: Path, ls_venv: Path | None, ls_port: int, backend_port: int, host: str) -> None:
    """Start the text classifier AND a Label Studio with a connected demo project."""
    from labelloop.cli.demo import run_demo
    from labelloop.cli.studio import DEFAULT_LS_VENV

    venv = ls_venv or Path(os.environ.get("LABELLOOP_LS_VENV") or DEFAULT_LS_VENV)
    run_demo(workdir, venv, ls_port, backend_port, host, click.echo)


if __name__ == "__main__":
    cli()
