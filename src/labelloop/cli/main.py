"""The ``labelloop`` command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from labelloop import __version__
from labelloop.cli.audit_report import audit
from labelloop.cli.doctor import doctor
from labelloop.cli.manage import COMMANDS as MANAGE_COMMANDS
from labelloop.cli.options import (
    backend_dir,
    friendly,
    model_dir_opt,
    parse_kwargs,
    project_opt,
    redis_opt,
    storage_opt,
)
from labelloop.cli.scaffold import EXAMPLES
from labelloop.logs import configure_logging
from labelloop.settings import Settings


@click.group()
@click.version_option(__version__, prog_name="labelloop")
def cli() -> None:
    """labelloop: serve, train and version a model for Label Studio."""


@cli.command()
@backend_dir
@click.option("--script", "script_spec", metavar="PATH[:CLASS]",
              help="your model script, optionally with the class to serve "
                   "[default: the bundled simple_text_classifier.py]")
@click.option("--from", "from_spec", metavar="PATH[:CLASS]", help="the same as --script")
@click.option("--example", type=click.Choice(sorted(EXAMPLES)), default=None,
              help="a bundled model instead: text (the founding classifier) or ner")
@click.option("--force", is_flag=True, help="overwrite an existing, non-empty folder")
@click.option("--root-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="create BACKEND_DIR inside this folder")
@friendly
def init(backend_dir: Path, script_spec: str | None, from_spec: str | None,
         example: str | None, force: bool, root_dir: Path | None) -> None:
    """Create BACKEND_DIR holding the model script and a _wsgi.py."""
    from labelloop.cli.scaffold import example_script, init_backend, split_script_spec

    if example and (script_spec or from_spec):
        raise click.UsageError("--example and --script name the model twice: choose one")
    script, class_name = split_script_spec(script_spec or from_spec)
    if example:
        script = example_script(EXAMPLES[example])
    folder = root_dir / backend_dir if root_dir else backend_dir
    name = init_backend(folder, script, force, class_name)
    click.echo(f"Created {folder} with model class {name}.\n"
               f"Start it: labelloop start {folder}")


@cli.command(context_settings={"allow_interspersed_args": True})
@backend_dir
@click.argument("more_kwargs", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--host", default=None, help="[env HOST; default 0.0.0.0]")
@click.option("-p", "--port", type=int, default=None, help="[env PORT; default 9090]")
@model_dir_opt
@click.option("--log-level", default=None, type=click.Choice(
    ["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False), help="[env LOG_LEVEL]")
@click.option("--log-format", default=None, type=click.Choice(["text", "json"]),
              help="json: one JSON object per line [env LABELLOOP_LOG_FORMAT]")
@click.option("-d", "--debug", is_flag=True, default=None, help="log every request, DEBUG level")
@click.option("--kwargs", "--with", "with_kwargs", multiple=True, metavar="KEY=VALUE",
              help="passed to the model's constructor (over config.json): --with a=1 b=x")
@click.option("--check", is_flag=True, help="build the model once, say if it works, and exit")
@click.option("--workers", type=int, default=None, help="server processes [default 1]")
@click.option("--basic-auth-user", default=None, help="[env BASIC_AUTH_USER]")
@click.option("--basic-auth-pass", default=None, help="[env BASIC_AUTH_PASS]")
@click.option("--webhook-secret", default=None, help="[env LABELLOOP_WEBHOOK_SECRET]")
@redis_opt
@storage_opt
@click.option("--active-learning", is_flag=True, default=None,
              help="also set each project's sampling to uncertainty sampling "
                   "[env LABELLOOP_ACTIVE_LEARNING]")
@friendly
def start(backend_dir: Path, more_kwargs: tuple[str, ...], with_kwargs: tuple[str, ...],
          check: bool, **flags: Any) -> None:
    """Serve BACKEND_DIR for Label Studio (port 9090)."""
    kwargs = parse_kwargs(with_kwargs + more_kwargs)
    settings = Settings.from_env(backend_dir=backend_dir, model_kwargs=kwargs, **flags)
    if check:
        from labelloop.backend.service import Backend

        click.echo(f"Check: {Backend.open(settings).check()}")
        return
    from labelloop.server.serving import serve

    serve(settings)


@cli.command()
@backend_dir
@model_dir_opt
@click.option("--redis-url", default=None, help="[env REDIS_URL; required]")
@storage_opt
@click.option("--log-level", default=None, help="[env LOG_LEVEL]")
@click.option("--log-format", default=None, type=click.Choice(["text", "json"]))
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
@friendly
def worker(backend_dir: Path, burst: bool, **flags: Any) -> None:
    """Run training jobs from Redis; start any number, on any machine."""
    from labelloop.compat.loader import load_backend_class

    settings = Settings.from_env(backend_dir=backend_dir, **flags)
    if not settings.redis_url:
        raise click.UsageError("a worker needs Redis: pass --redis-url or set REDIS_URL")
    load_backend_class(settings.backend_dir, settings.model_class)  # fail now, not per job
    from labelloop.training.rq_queue import run_worker

    configure_logging(settings.log_level, settings.log_format)
    run_worker(settings, burst=burst)


tasks_opt = click.option("--tasks", "tasks_file", required=True,
                         type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="a Label Studio JSON export (list of tasks)")
config_opt = click.option("--label-config", "config_file",
                          type=click.Path(exists=True, dir_okay=False, path_type=Path),
                          help="label config XML [default: the project's, from /setup]")


def offline_options(func: Any) -> Any:
    """The options `train` and `predict` share."""
    for option in (redis_opt, storage_opt, model_dir_opt, config_opt, project_opt, tasks_opt,
                   backend_dir):
        func = option(func)
    return func


@cli.command()
@offline_options
@click.option("--replace", is_flag=True,
              help="make the training set exactly TASKS' annotations, removing every other "
                   "(webhooks' too) [default: add and update, keep the rest]")
@friendly
def train(backend_dir: Path, tasks_file: Path, project: str, config_file: Path | None,
          model_dir: Path | None, redis_url: str | None, replace: bool,
          storage: str | None) -> None:
    """Train a new version now, from a Label Studio JSON export (with a progress bar).
    Its annotations join the project's training set. It waits while a job of the
    project runs elsewhere, as a runner would."""
    from labelloop.cli.offline import train_offline

    settings = Settings.from_env(backend_dir=backend_dir, model_dir=model_dir,
                                 redis_url=redis_url, storage=storage)
    removed: list[int] = []
    record = train_offline(settings, project, tasks_file, config_file, replace, removed)
    if removed:
        click.echo(f"--replace removed {removed[0]} annotation(s) not in {tasks_file} from "
                   f"the training set of project {record.project}")
    if record.state != "finished":
        raise click.ClickException(f"training failed: {record.error}")
    metrics = record.metrics or {}
    judged = (f" ({metrics['primary']} {metrics['score']:.3f} on {metrics['n_eval']} held-out)"
              if metrics.get("score") is not None else "")
    if record.outcome == "rejected":
        click.echo(f"trained version {record.version} of project {record.project}, not served: "
                   f"{record.error}")
        return
    click.echo(f"trained version {record.version} of project {record.project}{judged}")


@cli.command()
@offline_options
@friendly
def predict(backend_dir: Path, tasks_file: Path, project: str, config_file: Path | None,
            model_dir: Path | None, redis_url: str | None, storage: str | None) -> None:
    """Print the current version's predictions for TASKS as JSON."""
    from labelloop.cli.offline import predict_offline

    settings = Settings.from_env(backend_dir=backend_dir, model_dir=model_dir,
                                 redis_url=redis_url, storage=storage)
    result = predict_offline(settings, project, tasks_file, config_file)
    sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")


@cli.command()
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="backend, Label Studio data and logs [default: demo, or demo-ner]")
@click.option("--task", type=click.Choice(["text", "ner"]), default="text", show_default=True,
              help="text classification, or named entities")
@click.option("--ls-venv", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Label Studio's virtualenv [env LABELLOOP_LS_VENV; created if missing]")
@click.option("--ls-port", type=int, default=8080, show_default=True)
@click.option("--port", "backend_port", type=int, default=9090, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="backend bind address")
@friendly
def demo(workdir: Path | None, task: str, ls_venv: Path | None, ls_port: int,
         backend_port: int, host: str) -> None:
    """Start a model AND a Label Studio with a connected demo project."""
    from labelloop.cli.demo import run_demo
    from labelloop.cli.studio import DEFAULT_LS_VENV

    venv = ls_venv or Path(os.environ.get("LABELLOOP_LS_VENV") or DEFAULT_LS_VENV)
    folder = workdir or Path("demo" if task == "text" else f"demo-{task}")
    run_demo(folder, venv, ls_port, backend_port, host, click.echo, task)


cli.add_command(doctor)
for _command in MANAGE_COMMANDS:
    cli.add_command(_command)
cli.add_command(audit)

if __name__ == "__main__":
    cli()
