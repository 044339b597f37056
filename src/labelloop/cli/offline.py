"""``labelloop train`` and ``predict``: the same model, driven from JSON files."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from labelloop.backend.service import Backend
from labelloop.errors import BadRequest, InvalidField, LabelloopError, TrainingError
from labelloop.settings import Settings
from labelloop.store.factory import open_stores
from labelloop.store.jobs import JobRecord, JobSource, JobState, JobStore, new_job_id
from labelloop.store.project_ids import project_key
from labelloop.training.job import TrainingContext, run_exclusively

POLL_S = 0.2


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


def load_training_set(backend: Backend, project: str, tasks_file: Path,
                      replace: bool) -> int | None:
    """Add TASKS' annotations to the project's training set (the rest stay), or with
    ``replace`` make the set equal to them: then how many annotations were removed."""
    tasks = read_tasks(tasks_file)
    if replace:
        return backend.stores.training_set.replace(project, tasks)
    backend.stores.training_set.merge(project, tasks)
    return None


def train_offline(settings: Settings, project: str, tasks_file: Path,
                  config_file: Path | None, replace: bool = False,
                  removed: list[int] | None = None) -> JobRecord:
    """Train now, showing the job's progress (what ``fit`` reports) as a progress bar;
    ``removed`` receives how many annotations ``replace`` removed."""
    key = project_key(project)
    config = label_config_for(settings, key, config_file)
    backend = Backend.open(settings)  # checks the script and the label config
    if not backend.model_class.learns():
        raise BadRequest(f"{backend.model_class.__name__} does not override fit(): "
                         "there is nothing to train")
    backend.setup(key, config)
    gone = load_training_set(backend, key, tasks_file, replace)
    if gone is not None and removed is not None:
        removed.append(gone)
    record = JobRecord(new_job_id(), key, JobState.QUEUED, JobSource.TRAIN_REQUEST)
    backend.stores.jobs.put(record)
    done: list[JobRecord] = []
    ctx = TrainingContext(settings, backend.stores, backend.scheduler)
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task(f"training project {key}", total=1.0)

        def waiting() -> None:
            bar.update(task, description=f"waiting for the job of project {key} that runs")

        runner = threading.Thread(target=lambda: done.append(
            run_exclusively(ctx, record, waiting)), daemon=True)
        runner.start()
        while runner.is_alive():
            runner.join(POLL_S)
            _show(bar, task, backend.stores.jobs, record.job_id)
    if not done:
        raise TrainingError("the training job stopped without a result")
    return done[0]


def _show(bar: Progress, task: TaskID, jobs: JobStore, job_id: str) -> None:
    try:
        progress = jobs.get(job_id).progress or {}
    except LabelloopError:
        return  # not written yet
    if progress:
        bar.update(task, completed=float(progress.get("fraction") or 0.0),
                   description=str(progress.get("message") or "training"))


def predict_offline(settings: Settings, project: str, tasks_file: Path,
                    config_file: Path | None) -> dict[str, Any]:
    key = project_key(project)
    config = label_config_for(settings, key, config_file)
    return Backend.open(settings).predict(key, read_tasks(tasks_file), config)

