"""Decoding ``/predict`` bodies: the hot path of a 50,000-task "Retrieve Predictions".

Label Studio sends each task with about twenty fields. msgspec decodes the body straight
into typed structs; fields nobody reads are skipped without building Python objects for
them. A model that reads only some task fields says so (``task_fields``, e.g.
``("id", "data")``) and gets tasks with just those keys: decoding then costs about a third
of building every task's full dict. Errors name the field (``tasks[3].data``).

>>> body = b'{"tasks": [{"id": 1, "data": {"text": "hi"}, "meta": {}, "overlap": 1}],' \\
...        b' "project": "1.179", "label_config": "<View/>"}'
>>> req = decode(body, ("id", "data"))
>>> req.tasks, req.project
([{'data': {'text': 'hi'}, 'id': 1}], '1.179')
>>> decode(b'{"tasks": [{"id": 1}], "label_config": "<View/>"}', ("id", "data"))
Traceback (most recent call last):
labelloop.errors.InvalidField: tasks[0].data: Object missing required field `data`
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from labelloop.errors import InvalidField

LabelConfigXml = Annotated[str, msgspec.Meta(min_length=1)]
_WHERE = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


@dataclass
class PredictBody:
    tasks: list[dict[str, Any]]
    label_config: str
    project: str | int | None
    params: dict[str, Any] | None


@functools.cache
def _decoder(fields: tuple[str, ...] | None) -> msgspec.json.Decoder[Any]:
    """A decoder for bodies whose tasks keep ``fields`` (all of them when None)."""
    task: Any = dict[str, Any]
    if fields is not None:
        extra = [(name, Any, None) for name in fields if name != "data"]
        task = msgspec.defstruct("Task", [("data", dict[str, Any]), *extra])
    body = msgspec.defstruct("PredictRequest", [
        ("tasks", list[task]), ("label_config", LabelConfigXml),
        ("project", str | int | None, None), ("params", dict[str, Any] | None, None)])
    return msgspec.json.Decoder(body)


def decode(raw: bytes, fields: tuple[str, ...] | None) -> PredictBody:
    """Decode and check a /predict body; ``fields``: the task keys the model reads."""
    try:
        body = _decoder(fields).decode(raw)
    except msgspec.ValidationError as exc:
        raise _invalid(str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise InvalidField("body", f"is not valid JSON: {exc}") from exc
    tasks = body.tasks
    if fields is not None:
        as_dict = msgspec.structs.asdict
        tasks = [as_dict(t) for t in tasks]
    return PredictBody(tasks, body.label_config, body.project, body.params)


def _invalid(text: str) -> InvalidField:
    """msgspec's "Expected `object`, got `str` - at `$.tasks[0].data`" -> a field error."""
    match = _WHERE.match(text)
    message = match.group("message") if match else text
    path = (match.group("path") or "") if match else ""
    missing = re.search(r"missing required field `(\w+)`", message)
    if missing:
        path = f"{path}.{missing.group(1)}"
    return InvalidField(path.lstrip(".") or "body", message)
