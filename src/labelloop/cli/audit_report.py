"""``labelloop audit``: the annotations the served version doubts, and the annotators'
estimated accuracy, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import click
import orjson
from rich.table import Table

from labelloop.cli.manage import _backend, _console
from labelloop.cli.options import backend_dir, friendly, model_dir_opt, redis_opt, storage_opt

COLUMNS = ("task", "annotation", "annotator", "given", "suggested", "score")


def suspects_table(quality: dict[str, Any]) -> Table:
    table = Table(title=f"probably mislabelled: project {quality['project']}, version "
                        f"{quality['version']}", title_justify="left")
    for name in (*COLUMNS, "link"):
        table.add_column(name, overflow="fold")
    page = quality.get("label_studio")
    for s in quality["suspects"]:
        table.add_row(*(str(s.get(c) if s.get(c) is not None else "") for c in COLUMNS),
                      f"{page}?task={s['task']}" if page else "")
    return table


def annotators_table(quality: dict[str, Any]) -> Table:
    method = quality["consensus"].get("method") or "consensus"
    table = Table(title=f"annotators (estimated accuracy, {method})", title_justify="left")
    for name in ("annotator", "annotations", "accuracy"):
        table.add_column(name)
    for who, accuracy in sorted(quality["annotators"].items(), key=lambda kv: kv[1]):
        table.add_row(who, str(quality["annotations"].get(who, "")), f"{accuracy:.3f}")
    return table


def as_csv(suspects: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(suspects)
    return out.getvalue()


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="json: suspects, annotators and agreement; csv: "
                                      "the suspects only")
@click.option("--project", required=True, help="project id (a folder under the model dir)")
@friendly
@redis_opt
@storage_opt
@model_dir_opt
@backend_dir
def audit(backend_dir: Path, model_dir: Path | None, redis_url: str | None,
          storage: str | None, project: str, fmt: str) -> None:
    """The annotations of PROJECT that are probably wrong, most doubtful first, and each
    annotator's estimated accuracy (from the version that serves)."""
    quality = _backend(backend_dir, model_dir, redis_url, storage).label_quality(project)
    if fmt == "json":
        click.echo(orjson.dumps(quality, option=orjson.OPT_INDENT_2).decode())
    elif fmt == "csv":
        click.echo(as_csv(quality["suspects"]), nl=False)
    else:
        console = _console()
        state = quality["audit"]
        if state.get("status") != "done":
            console.print(f"label audit {state.get('status')}: {state.get('reason')}")
        else:
            console.print(f"{len(quality['suspects'])} suspects among "
                          f"{state.get('audited')} annotations audited")
            console.print(suspects_table(quality))
        if quality["annotators"]:
            console.print(annotators_table(quality))
