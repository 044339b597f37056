"""Label Studio webhook payloads, checked and reduced to what training needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labelloop.errors import InvalidField
from labelloop.store.project_ids import project_key
from labelloop.store.training_set import annotation_id

# Events that change a project's training set.
UPSERT_ACTIONS = {"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"}
DELETE_ACTIONS = {"ANNOTATIONS_DELETED"}
START_TRAINING = "START_TRAINING"
TASKS_CREATED = "TASKS_CREATED"
# Everything else Label Studio 1.23 sends is acknowledged and ignored.
KNOWN_ACTIONS = UPSERT_ACTIONS | DELETE_ACTIONS | {
    START_TRAINING, TASKS_CREATED, "TASKS_DELETED", "PROJECT_UPDATED", "PROJECT_CREATED",
    "PROJECT_DELETED", "LABEL_LINK_CREATED", "LABEL_LINK_UPDATED", "LABEL_LINK_DELETED",
    "REVIEW_CREATED", "REVIEW_UPDATED", "REVIEWS_DELETED",
}  # fmt: skip


@dataclass
class WebhookEvent:
    action: str
    project: str
    label_config: str | None = None
    upserts: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)

    @property
    def changes_training_set(self) -> bool:
        return bool(self.upserts or self.deletions)


def parse_event(payload: object) -> WebhookEvent:
    """Validate a webhook body; errors name the offending field."""
    if not isinstance(payload, dict):
        raise InvalidField("body", "must be a JSON object")
    action = payload.get("action")
    if not isinstance(action, str) or not action:
        raise InvalidField("action", "is required and must be a string")
    project = payload.get("project")
    if not isinstance(project, dict) or "id" not in project:
        raise InvalidField("project", "must be an object with an 'id'")
    config = project.get("label_config")
    event = WebhookEvent(action, project_key(project["id"], "project.id"),
                         config if isinstance(config, str) and config.strip() else None)
    if action in UPSERT_ACTIONS:
        event.upserts = _upserts(payload)
    elif action in DELETE_ACTIONS:
        event.deletions = _deletions(payload)
    return event


def _upserts(payload: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    anns, tasks = payload.get("annotation"), payload.get("task")
    if isinstance(anns, dict) and isinstance(tasks, dict):
        anns, tasks = [anns], [tasks]
    if not isinstance(anns, list) or not isinstance(tasks, list) or len(anns) != len(tasks):
        raise InvalidField("annotation", "must be an object (with 'task' an object) or a list "
                                         "as long as the 'task' list")
    pairs = []
    for i, (ann, task) in enumerate(zip(anns, tasks, strict=True)):
        where = f"annotation[{i}]" if len(anns) > 1 else "annotation"
        if not isinstance(ann, dict):
            raise InvalidField(where, "must be an object")
        annotation_id(ann.get("id"), f"{where}.id")
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise InvalidField(where.replace("annotation", "task") + ".data",
                               "must be an object")
        pairs.append((ann, task))
    return pairs


def _deletions(payload: dict[str, Any]) -> list[str]:
    anns = payload.get("annotations")
    if not isinstance(anns, list):
        raise InvalidField("annotations", "must be a list of {\"id\": ...}")
    ids = []
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict):
            raise InvalidField(f"annotations[{i}]", "must be an object")
        ids.append(annotation_id(ann.get("id"), f"annotations[{i}].id"))
    return ids


def is_skipped(annotation: dict[str, Any]) -> bool:
    """A skipped ("cancelled") annotation teaches nothing; it is removed from training."""
    return bool(annotation.get("was_cancelled"))
