"""The event a training job stands for, as label-studio-ml-backend's ``fit(event, data)``
expects it.

A job may stand for a burst of events (they coalesce): it is ``START_TRAINING`` when Label
Studio asked for training, else ``ANNOTATION_CREATED`` with the newest annotation of the
training set, shaped like Label Studio's webhook payload.

>>> from labelloop.store.jobs import JobRecord
>>> from labelloop.store.projects import ProjectInfo
>>> tasks = [{"id": 3, "data": {"t": "x"}, "annotations": [{"id": 9, "result": []}]}]
>>> event, data = trigger(JobRecord("a" * 32, "7", "running"), ProjectInfo("<View/>"), tasks)
>>> event, data["annotation"]["id"], data["annotation"]["project"], data["task"]["id"]
('ANNOTATION_CREATED', 9, 7, 3)
"""

from __future__ import annotations

from typing import Any

from labelloop.store.jobs import JobRecord
from labelloop.store.projects import ProjectInfo


def trigger(record: JobRecord, info: ProjectInfo,
            tasks: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    pid: int | str = int(record.project) if record.project.isdigit() else record.project
    project = {"id": pid, "label_config": info.label_config}
    newest = max(((a, t) for t in tasks for a in t.get("annotations") or []),
                 key=lambda pair: _order(pair[0]), default=None)
    if record.source == "label_studio" or newest is None:
        # Official examples read data["annotation"]["project"] even for START_TRAINING.
        return "START_TRAINING", {"project": project, "annotation": {"project": pid}}
    annotation, task = newest
    slim = {k: task[k] for k in ("id", "data", "meta") if k in task}
    return "ANNOTATION_CREATED", {"annotation": {**annotation, "project": pid, "task": task.get(
        "id")}, "task": {**slim, "project": pid}, "project": project}


def _order(annotation: dict[str, Any]) -> tuple[str, int]:
    when = str(annotation.get("updated_at") or annotation.get("created_at") or "")
    ident = str(annotation.get("id"))
    return when, int(ident) if ident.isdigit() else 0
