"""All stores of one deployment (:func:`labelloop.store.factory.open_stores` opens them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from labelloop.store.jobs import JobStore
from labelloop.store.projects import ProjectRegistry
from labelloop.store.state import StateStore
from labelloop.store.stats import StatsStore
from labelloop.store.training_set import TrainingSetStore
from labelloop.store.versions import VersionStore


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
    storage_ping: Callable[[], bool] | None = None  # versions in a bucket: does it answer?
