"""``labelloop doctor``: check both ends of the connection and say what to fix."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from labelloop.backend.connection import Report, Target, run_checks
from labelloop.backend.connection_judge import FAIL, Check
from labelloop.cli.options import model_dir_opt, redis_opt
from labelloop.errors import LabelloopError
from labelloop.settings import Settings


@click.command()
@click.argument("backend_dir", required=False, default=".",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--label-studio", "ls_url", default=None, metavar="URL",
              help="Label Studio's URL [env LABEL_STUDIO_URL; else what /setup sent]")
@click.option("--token", default=None, help="a Label Studio token to read it with "
              "[env LABEL_STUDIO_API_KEY; else the one /setup sent]")
@click.option("--project", type=int, default=None,
              help="the project's id in Label Studio [default: the one this backend knows]")
@click.option("--backend-url", default=None, metavar="URL",
              help="this backend's URL as Label Studio knows it [default: the project's "
                   "ML backend]")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@model_dir_opt
@redis_opt
def doctor(backend_dir: Path, ls_url: str | None, token: str | None, project: int | None,
           backend_url: str | None, fmt: str, model_dir: Path | None,
           redis_url: str | None) -> None:
    """Check Label Studio and the backend in BACKEND_DIR (default: here) against each
    other; exit 1 when a check fails. Changes nothing in Label Studio."""
    try:
        settings = Settings.from_env(backend_dir=backend_dir, model_dir=model_dir,
                                     redis_url=redis_url)
    except LabelloopError as exc:
        raise click.ClickException(exc.message) from exc
    report = diagnose(settings, Target(ls_url, token, project, backend_url))
    if fmt == "json":
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2)
                                + b"\n")
    else:
        click.echo(report.text())
    sys.exit(1 if report.failed else 0)


def diagnose(settings: Settings, target: Target) -> Report:
    """The report; a model that does not load is its first failed check."""
    from labelloop.backend.service import Backend

    try:
        backend = Backend.open(settings)
    except LabelloopError as exc:
        first = Check("model", FAIL, f"the backend in {settings.backend_dir} does not load: "
                      f"{exc.message}"[:500], "pass the backend's folder: labelloop doctor "
                      "DIR (the one given to labelloop start)")
        report = run_checks(target, settings, None)
        report.checks.insert(0, first)
        return report
    report = run_checks(target, settings, backend)
    report.checks.insert(0, Check("model", "ok", f"{backend.model_class.__name__} "
                                  f"({backend.generation}) loads from {settings.backend_dir}"))
    return report
