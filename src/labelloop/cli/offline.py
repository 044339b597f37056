"""``labelloop train`` and ``predict``: the same model, driven from JSON files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from labelloop.backend.service import Backend
from labelloop.errors import BadRequest, InvalidField
from labelloop.settings import Settings
from labelloop.store.bundle import open_stores
from labelloop.store.jobs import JobRecord, new_job_id
from labelloop.store.project_ids import project_key
from labelloop.training.job import TrainingContext, run_job


def read_tasks(path: Path) -> list[dict[str, Any]]:
    """A Label Studio JSON export (a list of tasks), or ``{"tasks": [...]}``."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise BadRequest(f"cannot read tasks from {path}: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("tasks")
    if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
        raise InvalidField("tasks", f"{path} must hold a JSON list of task objects")
    return data


def label_config_for(settings: Settings, project: str, config_file: Path | None) -> str:
    if config_file is not None:
        return config_file.read_text()
    info = open_stores(settings).registry.get(project)
    if info is None:
        raise BadRequest(f"project {project!r} has no label config yet: pass --label-config")
    return info.label_config


def train_offline(settings: Settings, project: str, tasks_file: Path,
                  config_file: Path | None) -> JobRecord:
    key = project_key(project)
    config = label_config_for(settings, key, config_file)
    backend = Backend.open(settings)  # checks the script and the label config
    backend.setup(key, config)
    backend.stores.training_set.replace(key, read_tasks(tasks_file))
    record = JobRecord(new_job_id(), key, "queued", "webhooks")
    return run_job(TrainingContext(settings, backend.stores), record)


def predict_offline(settings: Settings, project: str, tasks_file: Path,
                    config_file: Path | None) -> dict[str, Any]:
    key = project_key(project)
    config = label_config_for(settings, key, config_file)
    return Backend.open(settings).predict(key, read_tasks(tasks_file), config)

