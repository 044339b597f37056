"""Opening a deployment's stores, the same way in every process: files under the model
directory, or Redis for the shared state when ``redis_url`` is set.

The factory lives apart from the types it builds, so the Redis implementations can import
those types without an import circle.
"""

from __future__ import annotations

from labelloop.settings import Settings
from labelloop.store.bundle import Stores
from labelloop.store.jobs import FileJobStore
from labelloop.store.projects import FileProjectRegistry
from labelloop.store.state import FileStateStore
from labelloop.store.stats import FileStatsStore
from labelloop.store.training_set import FileTrainingSetStore
from labelloop.store.versions import FileVersionStore


def open_stores(settings: Settings, for_jobs: bool = False) -> Stores:
    """File stores under ``settings.model_dir``; Redis-backed state when ``redis_url`` is set.
    ``for_jobs``: for a process that runs training jobs, which may wait longer on Redis than
    a server answering a request."""
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    if settings.redis_url:
        from labelloop.store.redis_stores import JOB_TIMEOUT_S, SERVING_TIMEOUT_S, open_redis_stores

        return open_redis_stores(settings, JOB_TIMEOUT_S if for_jobs else SERVING_TIMEOUT_S)
    return Stores(
        versions=FileVersionStore(settings.model_dir),
        training_set=FileTrainingSetStore(settings.model_dir),
        registry=FileProjectRegistry(settings.model_dir),
        jobs=FileJobStore(settings.model_dir),
        state=FileStateStore(settings.model_dir),
        stats=FileStatsStore(settings.model_dir),
        mode="local",
    )
