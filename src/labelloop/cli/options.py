"""Options and conventions every ``labelloop`` command shares."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from labelloop.errors import LabelloopError

F = TypeVar("F", bound=Callable[..., Any])
backend_dir = click.argument("backend_dir", type=click.Path(file_okay=False, path_type=Path))
model_dir_opt = click.option("--model-dir", type=click.Path(file_okay=False, path_type=Path),
                             help="where versions are stored [env MODEL_DIR; default: BACKEND_DIR]")
redis_opt = click.option("--redis-url", default=None, help="Redis mode [env REDIS_URL]")
storage_opt = click.option("--storage", default=None, metavar="URL",
                           help="where versions live: file:// (the model dir) or "
                                "s3://bucket/prefix, Redis mode [env LABELLOOP_STORAGE]")
project_opt = click.option("--project", default="default", show_default=True,
                           help="project id or name (a folder under the model dir)")
version_opt = click.option("--version", "version", required=True, help="a version folder name")


def friendly(func: F) -> F:
    """Show labelloop errors as one clear line, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LabelloopError as exc:
            raise click.ClickException(exc.message) from exc

    return wrapper  # type: ignore[return-value]


def typed_value(text: str) -> Any:
    """A ``--with KEY=VALUE`` value typed as the label-studio-ml ``_wsgi.py`` did: digits
    are ints, true/false booleans, numbers floats, anything else a string.

    >>> [typed_value(v) for v in ("3", "true", "False", "0.5", "-2", "cpu")]
    [3, True, False, 0.5, -2.0, 'cpu']
    """
    if text.isdigit():
        return int(text)
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    try:
        return float(text)
    except ValueError:
        return text


def parse_kwargs(items: tuple[str, ...]) -> dict[str, Any]:
    """``("a=1", "b=x=y")`` -> ``{"a": 1, "b": "x=y"}``; anything else is a usage error."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--with")
        out[key] = typed_value(value)
    return out
