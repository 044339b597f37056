"""When a queued training job may start.

Jobs made by annotation events wait until ``train_min_interval_s`` seconds, and
``train_interval_factor`` times the last job's duration, have passed since the last job
started: the first versions come at once, and a project whose fits take longer trains
less often. Events that arrive meanwhile join the waiting job. ``START_TRAINING`` and
``labelloop train`` start at once.

>>> from labelloop.store.jobs import JobRecord
>>> last = JobRecord("a" * 32, "p", "finished", started=100.0, ended=104.0)
>>> due_at(JobRecord("b" * 32, "p", "queued"), last, min_interval_s=5, factor=3)
112.0
>>> due_at(JobRecord("b" * 32, "p", "queued", source="label_studio"), last, 5, 3)
0.0
"""

from __future__ import annotations

import time

from labelloop.store.jobs import JobRecord


def due_at(record: JobRecord, last_train: JobRecord | None, min_interval_s: float,
           factor: float) -> float:
    """The Unix time at which ``record`` may start (0: now)."""
    if record.source != "webhooks" or last_train is None or last_train.started is None:
        return 0.0
    took = (last_train.ended or time.time()) - last_train.started
    return last_train.started + max(min_interval_s, factor * max(took, 0.0))


def last_train_job(records: list[JobRecord]) -> JobRecord | None:
    """The newest training job that started (records oldest first)."""
    started = [r for r in records if r.kind == "train" and r.started is not None]
    return max(started, key=lambda r: r.started or 0.0) if started else None
