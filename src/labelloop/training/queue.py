"""What the backend needs of a training queue; local and RQ implementations follow it."""

from __future__ import annotations

from typing import Protocol

from labelloop.store.jobs import JobRecord


class TrainingQueue(Protocol):
    def schedule(self, project: str, source: str) -> JobRecord:
        """Queue a job, or join the one already queued; never waits for training."""
        ...

    def pending(self, project: str) -> JobRecord | None: ...

    def is_running(self, project: str) -> bool: ...
