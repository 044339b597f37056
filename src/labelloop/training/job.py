"""One training job: snapshot the training set into a new version folder, call ``fit``,
write ``job_result.json`` atomically, and only then make the version current.

``fit`` runs in a child process: if it crashes or is killed, the parent still records
the failure, and the previous version keeps serving.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from labelloop.errors import LabelloopError, LabelStudioError, TrainingError
from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.sdk.script import find_model_script, load_model_class
from labelloop.settings import Settings
from labelloop.store.atomic import write_json_atomic
from labelloop.store.bundle import Stores
from labelloop.store.jobs import JobRecord
from labelloop.store.projects import ProjectInfo

log = logging.getLogger("labelloop.training")
@dataclass(frozen=True)
class TrainingContext:
    settings: Settings
    stores: Stores


def run_job(ctx: TrainingContext, record: JobRecord) -> JobRecord:
    """Run ``record``'s job to the end; returns the finished or failed record.

    The caller holds the project's run lock, so no other job of the project is running.
    """
    record = record.update(state="running", started=time.time())
    ctx.stores.jobs.put(record)
    try:
        sweep_abandoned(ctx.stores, record.project)
        info = ctx.stores.registry.get(record.project)
        if info is None:
            raise TrainingError(f"project {record.project} has no label config yet: "
                                "connect it in Label Studio (/setup) first")
        tasks, source = _training_tasks(ctx, record, info)
        if not tasks:
            raise TrainingError(f"project {record.project} has no annotations to train on")
        # Imported here, before the fork: the fit child inherits it instead of paying the
        # import (sklearn...) each time, and a broken script fails before any folder exists.
        load_model_class(find_model_script(ctx.settings.backend_dir))
        version, workdir = ctx.stores.versions.create(record.project)
        record = record.update(version=version, source=source)
        ctx.stores.jobs.put(record)
        _fit_in_child(ctx, record, info, tasks, workdir)
    except LabelloopError as exc:
        log.error("training job %s failed: %s", record.job_id, exc.message)
        record = record.update(state="failed", ended=time.time(), error=exc.message)
    except OSError as exc:  # disk full, unwritable model dir...: fail cleanly, keep serving
        message = f"cannot write the new version: {exc}"
        log.error("training job %s failed: %s", record.job_id, message)
        record = record.update(state="failed", ended=time.time(), error=message)
        with contextlib.suppress(OSError, LabelloopError):
            if record.version:
                fail_version(ctx.stores, record.project, record.version, record.job_id, message)
    else:
        record = record.update(state="finished", ended=time.time())
    ctx.stores.jobs.put(record)
    return record


def _training_tasks(ctx: TrainingContext, record: JobRecord,
                    info: ProjectInfo) -> tuple[list[dict[str, Any]], str]:
    """Label Studio's own export when asked and reachable; else what webhooks delivered."""
    url = ctx.settings.label_studio_url or info.hostname
    key = ctx.settings.label_studio_api_key or info.access_token
    if record.source == "label_studio" and url and key and record.project.isdigit():
        try:
            tasks = LabelStudioClient(url, key).annotated_tasks(record.project)
        except LabelStudioError as exc:
            log.warning("falling back to webhook data: %s", exc.message)
        else:
            ctx.stores.training_set.replace(record.project, tasks)
            return tasks, "label_studio"
    return ctx.stores.training_set.snapshot(record.project), "webhooks"


def _fit_in_child(ctx: TrainingContext, record: JobRecord, info: ProjectInfo,
                  tasks: list[dict[str, Any]], workdir: Path) -> None:
    assert record.version is not None
    write_json_atomic(workdir / "train_data.json", tasks, pretty=True)
    write_json_atomic(workdir / "train_data_info.json", {"count": len(tasks)})
    started = time.time()
    child = multiprocessing.get_context("fork").Process(
        target=_fit_and_finish, args=(ctx, record, info, tasks, workdir, started, os.getpid()),
        name=f"labelloop-fit-{record.project}-{record.version}")
    child.start()
    child.join()
    result = ctx.stores.versions.get(record.project, record.version)
    if result.status == "ok":
        return
    if result.job_result is None:  # the child died before it could record anything
        reason = f"the training process died (exit code {child.exitcode})"
        if child.exitcode is not None and child.exitcode < 0:
            reason = f"the training process was killed by signal {-child.exitcode}"
        fail_version(ctx.stores, record.project, record.version, record.job_id, reason, started)
        raise TrainingError(reason)
    raise TrainingError(str(result.job_result.get("error", "training failed")))


def sweep_abandoned(stores: Stores, project: str) -> None:
    """Mark failed the version folders whose job died without a word (a SIGKILLed runner).

    Safe only under the project's run lock: then no job of the project is still writing.
    """
    for info in stores.versions.history(project):
        if info.status == "incomplete":
            fail_version(stores, project, info.version, None,
                         "abandoned: the training process died")
            log.warning("marked abandoned version %s of project %s failed", info.version,
                        project)


def fail_version(stores: Stores, project: str, version: str, job_id: str | None,
                 reason: str, started: float | None = None) -> None:
    """Mark a version folder failed, unless it already holds a result."""
    info = stores.versions.get(project, version)
    if info.job_result is None:
        stores.versions.finish(project, version, _job_result(
            project, version, info.path, job_id, started or time.time(), error=reason))


def _die_with_parent(parent: int) -> None:
    """If the supervising process dies, the fit dies too: an orphan must not promote."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the supervisor records failures anyway
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _fit_and_finish(ctx: TrainingContext, record: JobRecord, info: ProjectInfo,
                    tasks: list[dict[str, Any]], workdir: Path, started: float,
                    parent: int) -> None:
    assert record.version is not None
    _die_with_parent(parent)
    try:
        model_cls = load_model_class(find_model_script(ctx.settings.backend_dir))
        current = ctx.stores.versions.current_version(record.project)
        previous = (ctx.stores.versions.get(record.project, current).train_output
                    if current else None)
        model = model_cls(info.label_config, train_output=previous,
                          **(info.extra_params or {}))
        train_output = model.fit(tasks, workdir)
        if not isinstance(train_output, dict):
            raise TrainingError(f"{model_cls.__name__}.fit() returned "
                                f"{type(train_output).__name__}, not a dict")
        orjson.dumps(train_output)  # must be JSON-serialisable before it is recorded
        result = _job_result(record.project, record.version, workdir, record.job_id, started,
                             train_output=train_output)
    except BaseException as exc:  # any failure of user code is recorded, never raised
        with contextlib.suppress(OSError):
            (workdir / "error.log").write_text(traceback.format_exc())
        result = _job_result(record.project, record.version, workdir, record.job_id, started,
                             error=f"{type(exc).__name__}: {exc}")
    ctx.stores.versions.finish(record.project, record.version, result)


def _job_result(project: str, version: str, workdir: Path, job_id: str | None,
                started: float, *, train_output: dict[str, Any] | None = None,
                error: str | None = None) -> dict[str, Any]:
    """The founding ``job_result.json``; failures add ``error``."""
    result: dict[str, Any] = {
        "status": "ok" if error is None else "error",
        "train_output": train_output,
        "project": project,
        "workdir": str(workdir),
        "version": version,
        "job_id": job_id,
        "time": round(time.time() - started, 3),
    }
    if error is not None:
        result["error"] = error
    return result
