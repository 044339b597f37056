"""The training set of each project, built from webhook events.

An idempotent upsert by annotation id; deletion removes. A snapshot regroups the
annotations into Label Studio's export shape: ``[{"id", "data", "annotations": [...]}]``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Protocol

from labelloop.errors import InvalidField
from labelloop.store.atomic import disk_guarded, read_json, write_json_atomic

ANNOTATIONS_DIR = ".annotations"


def annotation_id(value: object, field: str = "annotation.id") -> str:
    """Annotation ids are Label Studio's integers; they become file names."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise InvalidField(field, f"{value!r} is not an annotation id (a non-negative integer)")
    return str(int(value))


class TrainingSetStore(Protocol):
    def upsert(self, project: str, annotation: dict[str, Any], task: dict[str, Any]) -> None: ...
    def delete(self, project: str, annotation_ids: list[str]) -> int: ...
    def merge(self, project: str, tasks: list[dict[str, Any]]) -> int: ...
    def replace(self, project: str, tasks: list[dict[str, Any]]) -> int: ...
    def snapshot(self, project: str) -> list[dict[str, Any]]: ...
    def task_ids(self, project: str) -> set[int]: ...


def task_entries(tasks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(annotation, task) pairs of export-format tasks, each annotation validated."""
    pairs = []
    for i, task in enumerate(tasks):
        for j, ann in enumerate(task.get("annotations") or []):
            annotation_id(ann.get("id"), f"tasks[{i}].annotations[{j}].id")
            pairs.append((ann, task))
    return pairs


def group_tasks(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Regroup stored ``{"annotation", "task"}`` entries into export-format tasks."""
    tasks: dict[Any, dict[str, Any]] = {}
    for entry in entries:
        task, ann = entry["task"], entry["annotation"]
        key = task.get("id", f"annotation-{ann.get('id')}")
        grouped = tasks.setdefault(key, {**task, "annotations": []})
        grouped["annotations"].append(ann)
    for t in tasks.values():
        t["annotations"].sort(key=lambda a: int(a.get("id") or 0))
    return sorted(tasks.values(), key=lambda t: str(t.get("id")).zfill(20))


def entry_task_ids(entries: list[dict[str, Any]]) -> set[int]:
    """The Label Studio task ids of stored entries (the tasks that hold an annotation)."""
    ids = set()
    for entry in entries:
        ident = (entry.get("task") or {}).get("id")
        if isinstance(ident, int) or (isinstance(ident, str) and ident.isdigit()):
            ids.add(int(ident))
    return ids


def slim_task(task: dict[str, Any]) -> dict[str, Any]:
    """What training needs of a task: its id, data and meta (not others' annotations)."""
    return {k: task[k] for k in ("id", "data", "meta") if k in task}


class FileTrainingSetStore:
    """One small JSON file per annotation: writes are atomic and need no lock."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir

    def _dir(self, project: str) -> Path:
        return self.model_dir / project / ANNOTATIONS_DIR

    @disk_guarded
    def upsert(self, project: str, annotation: dict[str, Any], task: dict[str, Any]) -> None:
        ann_id = annotation_id(annotation.get("id"))
        entry = {"annotation": annotation, "task": slim_task(task)}
        write_json_atomic(self._dir(project) / f"{ann_id}.json", entry)

    @disk_guarded
    def delete(self, project: str, annotation_ids: list[str]) -> int:
        removed = 0
        for ann_id in annotation_ids:
            with contextlib.suppress(FileNotFoundError):
                (self._dir(project) / f"{annotation_id(ann_id)}.json").unlink()
                removed += 1
        return removed

    @disk_guarded
    def merge(self, project: str, tasks: list[dict[str, Any]]) -> int:
        """Add or update the annotations of ``tasks``, keeping every other one; how many."""
        pairs = task_entries(tasks)  # all validated before anything is written
        for ann, task in pairs:
            self.upsert(project, ann, task)
        return len(pairs)

    @disk_guarded
    def replace(self, project: str, tasks: list[dict[str, Any]]) -> int:
        """Make the stored set equal to ``tasks`` (e.g. an export fetched from Label Studio);
        how many stored annotations it removed."""
        pairs = task_entries(tasks)
        keep = set()
        for ann, task in pairs:
            self.upsert(project, ann, task)
            keep.add(annotation_id(ann.get("id")))
        folder = self._dir(project)
        stale = [p.stem for p in folder.glob("*.json") if p.stem not in keep]
        return self.delete(project, stale)

    def snapshot(self, project: str) -> list[dict[str, Any]]:
        folder = self._dir(project)
        if not folder.is_dir():
            return []
        entries = [read_json(p) for p in folder.glob("*.json")]
        return group_tasks([e for e in entries if e is not None])

    def task_ids(self, project: str) -> set[int]:
        folder = self._dir(project)
        entries = [read_json(p) for p in folder.glob("*.json")] if folder.is_dir() else []
        return entry_task_ids([e for e in entries if e is not None])
