"""What the backend needs of a training queue; local and RQ implementations follow it."""

from __future__ import annotations

from typing import Protocol

from labelloop.settings import Settings
from labelloop.store.jobs import JobRecord, JobStore


class TrainingQueue(Protocol):
    def schedule(self, project: str, source: str, kind: str = "train") -> JobRecord:
        """Queue a job of ``kind`` ("train" or "rescore"), or join the one already queued;
        never waits for it to run."""
        ...

    def pending(self, project: str) -> JobRecord | None: ...

    def is_running(self, project: str) -> bool: ...


def open_queue(settings: Settings, jobs: JobStore) -> TrainingQueue:
    """RQ when ``redis_url`` is set, else local runner processes."""
    if settings.redis_url:
        from labelloop.training.rq_queue import RQQueue

        return RQQueue(settings, jobs)
    from labelloop.training.local_queue import LocalQueue

    return LocalQueue(settings, jobs)
