"""Opening the scheduler of a deployment: the policy over files (local mode) or Redis.

It lives apart from the media, so that they can import the policy (and the job code
import both) without an import circle.
"""

from __future__ import annotations

from labelloop.settings import Settings
from labelloop.store.jobs import JobStore
from labelloop.training.policy import QueueMedium, Scheduler


def open_scheduler(settings: Settings, jobs: JobStore) -> Scheduler:
    """Redis (RQ workers) when ``redis_url`` is set, else local runner processes."""
    medium: QueueMedium
    if settings.redis_url:
        from labelloop.training.rq_queue import RedisMedium

        medium = RedisMedium(settings)
    else:
        from labelloop.training.local_queue import FileMedium

        medium = FileMedium(settings)
    return Scheduler(settings, medium, jobs)
