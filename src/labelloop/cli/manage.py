"""Commands that look after versions: versions, status, rollback, promote, pin, unpin,
prune. Tables are drawn with rich."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from labelloop.cli.options import (
    backend_dir,
    friendly,
    model_dir_opt,
    redis_opt,
    storage_opt,
    version_opt,
)
from labelloop.settings import Settings


def _backend(backend_dir: Path, model_dir: Path | None, redis_url: str | None,
             storage: str | None) -> Any:
    from labelloop.backend.service import Backend

    return Backend.open(Settings.from_env(backend_dir=backend_dir, model_dir=model_dir,
                                          redis_url=redis_url, storage=storage))


def _when(ts: float | None) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%m-%d %H:%M:%S") if ts else ""


def _score(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else ""


def _console() -> Console:
    """The terminal's width in a terminal; 140 columns when piped (rich would say 80)."""
    return Console() if sys.stdout.isatty() else Console(width=140)


def versions_table(project: str | None, versions: list[dict[str, Any]]) -> Table:
    """The versions of ``project`` (the title; None: no title)."""
    table = Table(title=f"project {project}" if project else None, title_justify="left")
    for name in ("", "version", "made", "status", "trained on", "held out", "metric",
                 "score", "served was", "decision"):
        table.add_column(name, overflow="fold")
    for v in versions:
        mark = "*" if v["current"] else ("p" if v["pinned"] else "")
        table.add_row(mark, v["version"], _when(v["created"]), v["status"],
                      str(v["n_train"] or ""), str(v["n_eval"] or ""), v["primary"] or "",
                      _score(v["score"]), _score(v["current_score"]),
                      v["decision"] or v["error"] or "")
    return table


def jobs_table(status: dict[str, Any]) -> Table | str:
    """The jobs that run, wait or failed lately; a line saying so when there are none."""
    rows = [(label, job) for label, job in [("running", status["running"]),
                                            ("queued", status["queued"]),
                                            *[("failed", f) for f in status["failures"]]]
            if job is not None]
    if not rows:
        return "jobs: none running, queued or failed lately"
    table = Table(title="jobs", title_justify="left")
    for name in ("", "job", "kind", "state", "progress", "version", "message"):
        table.add_column(name, overflow="fold")
    for label, job in rows:
        fraction = job.get("fraction")
        table.add_row(label, job["job_id"][:8], job["kind"], job["state"],
                      f"{fraction:.0%}" if fraction is not None else "", job["version"] or "",
                      job.get("message") or job.get("error") or "")
    return table


def version_target(func: Any) -> Any:
    """The options of a command that acts on one version of one project."""
    for option in (friendly, version_opt, click.option("--project", required=True),
                   redis_opt, storage_opt, model_dir_opt, backend_dir):
        func = option(func)
    return func


def project_listing(func: Any) -> Any:
    """The options of a command that looks at every project, or one."""
    for option in (friendly, click.option("--project", default=None, help="only this project"),
                   redis_opt, storage_opt, model_dir_opt, backend_dir):
        func = option(func)
    return func


@click.command()
@project_listing
def versions(backend_dir: Path, model_dir: Path | None, redis_url: str | None, storage: str | None,
             project: str | None) -> None:
    """List versions with their metrics: '*' marks the one served, 'p' pinned ones."""
    listing = _backend(backend_dir, model_dir, redis_url, storage).versions(project)["projects"]
    if not listing:
        click.echo("no versions yet")
    console = _console()
    for name, infos in listing.items():
        console.print(versions_table(name, infos))


@click.command()
@project_listing
def status(backend_dir: Path, model_dir: Path | None, redis_url: str | None, storage: str | None,
           project: str | None) -> None:
    """Projects, their versions, and the jobs that run, wait or failed."""
    projects = _backend(backend_dir, model_dir, redis_url, storage).status(project)
    if not projects:
        click.echo("no projects with versions yet")
    console = _console()
    for p in projects:
        console.print(f"[bold]project {p['project']}[/bold]: serving {p['model_version']}")
        console.print(versions_table(None, p["versions"]))
        console.print(jobs_table(p))


@click.command()
@version_target
def rollback(backend_dir: Path, model_dir: Path | None, redis_url: str | None,
             storage: str | None, project: str,
             version: str) -> None:
    """Serve an earlier ok VERSION of PROJECT (every server switches at once)."""
    answer = _backend(backend_dir, model_dir, redis_url, storage).rollback(project, version)
    click.echo(f"now serving {answer['model_version']}")


@click.command()
@version_target
def promote(backend_dir: Path, model_dir: Path | None, redis_url: str | None,
            storage: str | None, project: str,
            version: str) -> None:
    """Serve VERSION of PROJECT even if training rejected it (your call)."""
    answer = _backend(backend_dir, model_dir, redis_url, storage).promote(project, version)
    click.echo(f"now serving {answer['model_version']}")


@click.command()
@version_target
def pin(backend_dir: Path, model_dir: Path | None, redis_url: str | None,
        storage: str | None, project: str,
        version: str) -> None:
    """Keep VERSION of PROJECT whatever pruning decides."""
    _backend(backend_dir, model_dir, redis_url, storage).pin(project, version, True)
    click.echo(f"version {version} of project {project} is pinned: pruning keeps it")


@click.command()
@version_target
def unpin(backend_dir: Path, model_dir: Path | None, redis_url: str | None,
          storage: str | None, project: str,
          version: str) -> None:
    """Let pruning decide about VERSION of PROJECT again."""
    _backend(backend_dir, model_dir, redis_url, storage).pin(project, version, False)
    click.echo(f"version {version} of project {project} is no longer pinned")


@click.command()
@click.option("--dry-run", is_flag=True, help="say what would go, remove nothing")
@project_listing
def prune(backend_dir: Path, model_dir: Path | None, redis_url: str | None, storage: str | None,
          project: str | None, dry_run: bool) -> None:
    """Remove old versions: keeps the served one, pinned ones, the newest ok ones
    (LABELLOOP_KEEP_VERSIONS) and recent failures (LABELLOOP_KEEP_FAILED_HOURS)."""
    results = _backend(backend_dir, model_dir, redis_url, storage).prune(project, dry_run)
    verb = "would remove" if dry_run else "removed"
    for r in results:
        gone = ", ".join(r.removed) or "nothing"
        click.echo(f"project {r.project}: {verb} {gone}; kept {', '.join(r.kept)}")


COMMANDS = (versions, status, rollback, promote, pin, unpin, prune)
