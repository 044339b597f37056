"""All stores of one deployment, opened the same way by every process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from labelloop.settings import Settings
from labelloop.store.jobs import FileJobStore, JobStore
from labelloop.store.projects import FileProjectRegistry, ProjectRegistry
from labelloop.store.state import FileStateStore, StateStore
from labelloop.store.stats import FileStatsStore, StatsStore
from labelloop.store.training_set import FileTrainingSetStore, TrainingSetStore
from labelloop.store.versions import FileVersionStore, VersionStore


@dataclass(frozen=True)
class Stores:
    versions: VersionStore
    training_set: TrainingSetStore
    registry: ProjectRegistry
    jobs: JobStore
    state: StateStore
    stats: StatsStore
    mode: str  # "local" or "redis"
    ping: Callable[[], bool] = lambda: True  # does the shared state store answer?


def open_stores(settings: Settings) -> Stores:
    """File stores under ``settings.model_dir``; Redis-backed state when ``redis_url`` is set."""
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    if settings.redis_url:
        from labelloop.store.redis_stores import open_redis_stores

        return open_redis_stores(settings)
    return Stores(
        versions=FileVersionStore(settings.model_dir),
        training_set=FileTrainingSetStore(settings.model_dir),
        registry=FileProjectRegistry(settings.model_dir),
        jobs=FileJobStore(settings.model_dir),
        state=FileStateStore(settings.model_dir),
        stats=FileStatsStore(settings.model_dir),
        mode="local",
    )
