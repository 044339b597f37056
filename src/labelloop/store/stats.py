"""Counts of finished jobs per project (by kind and outcome) and a histogram of their
durations: what ``/metrics`` reports of training, wherever the jobs ran (a local runner,
an RQ worker on another machine). Kept in the stores, so they never go backwards when
job records are pruned.

>>> import tempfile
>>> stats = FileStatsStore(Path(tempfile.mkdtemp()))
>>> stats.record("7", "train", "ok", 3.2)
>>> s = stats.get("7")
>>> s.outcomes, s.count, s.buckets[DURATION_BUCKETS.index(5.0)]
({('train', 'ok'): 1}, 1, 1)
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from labelloop.store.atomic import disk_guarded, read_json, write_json_atomic
from labelloop.store.jobs import JobKind, JobRecord, Outcome

STATS_FILE = ".stats.json"
# Seconds: a fit of the founding classifier takes well under one; big models, hours.
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
                    3600.0, float("inf"))


@dataclass
class JobStats:
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, outcome)
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    total_seconds: float = 0.0
    count: int = 0  # training jobs timed (the histogram's count)


# How /metrics counts each outcome (``labelloop_training_jobs{outcome=...}``): a version
# that serves and a re-scoring that stored are both "ok".
COUNTED = {Outcome.PROMOTED: "ok", Outcome.RESCORED: "ok", Outcome.REJECTED: "rejected",
           Outcome.CANCELLED: "cancelled"}


def counted_outcome(record: JobRecord) -> str:
    """The job's outcome as /metrics counts it: ok, rejected, cancelled, failed, killed."""
    counted = COUNTED.get(record.outcome) if record.outcome is not None else None
    if counted is not None:
        return counted
    return "killed" if "killed" in (record.error or "") else "failed"


def bucket_of(seconds: float) -> int:
    return next(i for i, bound in enumerate(DURATION_BUCKETS) if seconds <= bound)


class StatsStore(Protocol):
    def record(self, project: str, kind: str, outcome: str, seconds: float) -> None: ...
    def get(self, project: str) -> JobStats: ...


class FileStatsStore:
    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir

    def get(self, project: str) -> JobStats:
        raw = read_json(self.model_dir / project / STATS_FILE) or {}
        outcomes = {tuple(k.split(":", 1)): int(v) for k, v in raw.get("outcomes", {}).items()}
        buckets = list(raw.get("buckets") or [0] * len(DURATION_BUCKETS))
        return JobStats(outcomes, buckets, float(raw.get("total_seconds", 0.0)),
                        int(raw.get("count", 0)))

    @disk_guarded
    def record(self, project: str, kind: str, outcome: str, seconds: float) -> None:
        folder = self.model_dir / project
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ".stats.lock").open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # read-modify-write across processes
            stats = self.get(project)
            stats.outcomes[(kind, outcome)] = stats.outcomes.get((kind, outcome), 0) + 1
            if kind == JobKind.TRAIN:
                stats.buckets[bucket_of(seconds)] += 1
                stats.total_seconds += seconds
                stats.count += 1
            write_json_atomic(folder / STATS_FILE, {
                "outcomes": {f"{k}:{o}": n for (k, o), n in stats.outcomes.items()},
                "buckets": stats.buckets, "total_seconds": stats.total_seconds,
                "count": stats.count}, durable=False)
