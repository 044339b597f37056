"""What the status page and ``labelloop status`` show of each project: its versions (with
metrics), the job that runs or waits (with its progress), and the last failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labelloop.backend.version_view import describe
from labelloop.store.bundle import Stores
from labelloop.store.jobs import JobRecord, JobState, Outcome
from labelloop.training.policy import Scheduler

FAILURES_SHOWN = 5


def project_status(stores: Stores, scheduler: Scheduler, project: str,
                   name_of: Callable[[str | None], str]) -> dict[str, Any]:
    history = stores.versions.history(project)
    records = [scheduler.reconcile(r) for r in stores.jobs.records(project)]
    running = scheduler.running(project)
    failures = [r for r in records
                if r.state is JobState.FAILED or r.outcome is Outcome.REJECTED]
    current = next((i for i in history if i.current), None)
    return {
        "project": project,
        "model_version": name_of(current.version if current else None),
        "versions": [describe(i, name_of(i.version)) for i in history],
        "running": _job(running),
        "queued": _job(scheduler.pending(project)),
        "failures": [_job(r) for r in failures[-FAILURES_SHOWN:]][::-1],
    }


def _job(record: JobRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    out = record.to_dict()
    progress = record.progress or {}
    out["fraction"] = progress.get("fraction")
    out["message"] = progress.get("message")
    return out
