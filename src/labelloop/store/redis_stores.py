"""Redis mode: job records, training sets, the project registry and the current-version
pointer live in Redis, shared by every server and worker. Artifacts stay in the model
directory (``<model_dir>/<project>/<version>/``); ``.current`` is written there too, so the
folder stays self-describing if Redis is emptied.

When Redis does not answer, reads fall back to what this process saw last (so ``/predict``
keeps serving), and writes raise :class:`StoreUnavailable` (so nothing is acknowledged
that was not stored).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import redis

from labelloop.errors import NotFound, StoreUnavailable
from labelloop.settings import Settings
from labelloop.store.bundle import Stores
from labelloop.store.guards import unavailable_on
from labelloop.store.jobs import JobKind, JobRecord, JobState, check_job_id, latest_stem
from labelloop.store.projects import ProjectInfo
from labelloop.store.state import check_value
from labelloop.store.stats import JobStats, bucket_of
from labelloop.store.training_set import (
    annotation_id,
    entry_task_ids,
    group_tasks,
    slim_task,
    task_entries,
)
from labelloop.store.versions import FileVersionStore

PREFIX = "labelloop:"


SERVING_TIMEOUT_S = 0.5  # /health must answer within 1 s even when Redis hangs
JOB_TIMEOUT_S = 5.0  # a training job waits longer on a busy Redis than a request would


def connect(url: str, timeout_s: float = SERVING_TIMEOUT_S) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=timeout_s,
                                socket_connect_timeout=timeout_s)


UNAVAILABLE = "Redis is unavailable"
# Redis failures become StoreUnavailable (HTTP 503), never a traceback.
guarded = unavailable_on(redis.RedisError, UNAVAILABLE)


def key(*parts: str) -> str:
    return PREFIX + ":".join(parts)


def text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


# Compare-and-delete: a lock is released only by the holder that set it.
RELEASE_SCRIPT = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
                  "return redis.call('del', KEYS[1]) end")


@contextlib.contextmanager
def mutex(client: redis.Redis, name: str, ttl_s: float = 30.0,
          wait_s: float = 15.0) -> Iterator[None]:
    """A short-held lock shared by every process that sees this Redis.

    The TTL frees it if the holder dies; holders finish well within it (a pointer switch,
    a prune)."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait_s
    while not client.set(name, token, nx=True, px=int(ttl_s * 1000)):
        if time.monotonic() > deadline:
            raise StoreUnavailable(f"could not take the lock {name} within {wait_s:.0f} s")
        time.sleep(0.01)
    try:
        yield
    finally:
        client.eval(RELEASE_SCRIPT, 1, name, token)


class RedisVersionStore(FileVersionStore):
    """Folders on disk; the pointer, the pins and the versions lock in Redis (the pointer is
    read on every request: switches are instant on every server)."""

    def __init__(self, model_dir: Path, client: redis.Redis) -> None:
        super().__init__(model_dir)
        self.redis = client
        self._last_seen: dict[str, str | None] = {}

    def _pointer(self, project: str) -> str | None:
        try:
            raw = self.redis.get(key("current", project))
        except redis.RedisError:
            if project in self._last_seen:
                return self._last_seen[project]
            return self._stored_pointer(project)
        version = text(raw) if raw else self._stored_pointer(project)
        self._last_seen[project] = version
        return version

    def _stored_pointer(self, project: str) -> str | None:
        """The pointer kept beside the versions (Redis emptied: the folder says)."""
        return super()._pointer(project)  # the .current file on disk

    def _write_pointer(self, project: str, version: str) -> None:
        self._store_pointer(project, version)
        self.redis.set(key("current", project), version)

    def _store_pointer(self, project: str, version: str) -> None:
        super()._write_pointer(project, version)  # .current on disk: the folder stays readable

    @contextlib.contextmanager
    def lock(self, project: str) -> Iterator[None]:
        with guarded.block(), mutex(self.redis, key("vlock", project)):
            yield

    @guarded
    def pinned(self, project: str) -> set[str]:
        return {text(v) for v in self.redis.smembers(key("pinned", project))}

    @guarded
    def pin(self, project: str, version: str, pinned: bool = True) -> None:
        with self.lock(project):
            self.get(project, version)  # refuse unknown versions
            if pinned:
                self.redis.sadd(key("pinned", project), version)
            else:
                self.redis.srem(key("pinned", project), version)

    def remove(self, project: str, version: str) -> None:
        super().remove(project, version)
        self.redis.srem(key("pinned", project), version)


class RedisTrainingSetStore:
    """One hash per project: annotation id -> {"annotation", "task"}."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    @guarded
    def upsert(self, project: str, annotation: dict[str, Any], task: dict[str, Any]) -> None:
        entry = orjson.dumps({"annotation": annotation, "task": slim_task(task)})
        self.redis.hset(key("annotations", project), annotation_id(annotation.get("id")), entry)

    @guarded
    def delete(self, project: str, annotation_ids: list[str]) -> int:
        ids = [annotation_id(a) for a in annotation_ids]
        return int(self.redis.hdel(key("annotations", project), *ids)) if ids else 0

    @guarded
    def merge(self, project: str, tasks: list[dict[str, Any]]) -> int:
        entries = _entries(tasks)
        if entries:
            self.redis.hset(key("annotations", project), mapping=entries)  # type: ignore[arg-type]
        return len(entries)

    @guarded
    def replace(self, project: str, tasks: list[dict[str, Any]]) -> int:
        entries = _entries(tasks)
        pipe = self.redis.pipeline()  # MULTI/EXEC: readers see the old set or the new one
        pipe.hkeys(key("annotations", project))
        pipe.delete(key("annotations", project))
        if entries:
            pipe.hset(key("annotations", project), mapping=entries)  # type: ignore[arg-type]
        before = pipe.execute()[0]
        return len({text(k) for k in before} - set(entries))

    @guarded
    def snapshot(self, project: str) -> list[dict[str, Any]]:
        raw = self.redis.hvals(key("annotations", project))
        return group_tasks([orjson.loads(v) for v in raw])

    @guarded
    def task_ids(self, project: str) -> set[int]:
        raw = self.redis.hvals(key("annotations", project))
        return entry_task_ids([orjson.loads(v) for v in raw])


def _entries(tasks: list[dict[str, Any]]) -> dict[str, bytes]:
    return {annotation_id(ann.get("id")): orjson.dumps(
        {"annotation": ann, "task": slim_task(task)}) for ann, task in task_entries(tasks)}


class RedisProjectRegistry:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._last_seen: dict[str, ProjectInfo | None] = {}

    @guarded
    def save(self, project: str, info: ProjectInfo) -> None:
        if self._last_seen.get(project) == info:
            return  # /setup repeats on every Label Studio page load
        self.redis.hset(key("projects"), project, orjson.dumps(info.to_dict()))
        self._last_seen[project] = info

    def get(self, project: str) -> ProjectInfo | None:
        try:
            raw = self.redis.hget(key("projects"), project)
        except redis.RedisError as exc:
            if project in self._last_seen:
                return self._last_seen[project]
            raise StoreUnavailable(f"{UNAVAILABLE}: {exc}") from exc
        info = ProjectInfo.from_dict(orjson.loads(raw)) if raw else None
        self._last_seen[project] = info
        return info

    @guarded
    def projects(self) -> list[str]:
        return sorted(text(p) for p in self.redis.hkeys(key("projects")))


class RedisStateStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    @guarded
    def items(self, project: str) -> dict[str, str]:
        raw = self.redis.hgetall(key("state", project))
        return {text(k): text(v) for k, v in raw.items()}

    @guarded
    def get(self, project: str, name: str) -> str | None:
        raw = self.redis.hget(key("state", project), name)
        return text(raw) if raw is not None else None

    @guarded
    def set(self, project: str, name: str, value: str) -> None:
        self.redis.hset(key("state", project), name, check_value(name, value))


class RedisStatsStore:
    """A hash per project: "outcome:<kind>:<outcome>", "bucket:<i>", "sum", "count"."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    @guarded
    def record(self, project: str, kind: str, outcome: str, seconds: float) -> None:
        name = key("stats", project)
        pipe = self.redis.pipeline()
        pipe.hincrby(name, f"outcome:{kind}:{outcome}", 1)
        if kind == JobKind.TRAIN:
            pipe.hincrby(name, f"bucket:{bucket_of(seconds)}", 1)
            pipe.hincrbyfloat(name, "sum", seconds)
            pipe.hincrby(name, "count", 1)
        pipe.execute()

    @guarded
    def get(self, project: str) -> JobStats:
        raw = {text(k): text(v) for k, v in self.redis.hgetall(key("stats", project)).items()}
        stats = JobStats(total_seconds=float(raw.get("sum", 0)), count=int(raw.get("count", 0)))
        for field_name, value in raw.items():
            kind, _, rest = field_name.partition(":")
            if kind == "outcome":
                job_kind, _, outcome = rest.partition(":")
                stats.outcomes[(job_kind, outcome)] = int(value)
            elif kind == "bucket":
                stats.buckets[int(rest)] = int(value)
        return stats


JOB_TTL_S = 30 * 86400


class RedisJobStore:
    """Job records, as written (whether a "running" job is alive is the scheduling
    policy's call: :mod:`labelloop.training.policy`)."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    @guarded
    def put(self, record: JobRecord) -> None:
        pipe = self.redis.pipeline()
        pipe.set(key("job", record.job_id), orjson.dumps(record.to_dict()), ex=JOB_TTL_S)
        pipe.zadd(key("jobs", record.project), {record.job_id: record.created})
        if record.state is not JobState.QUEUED:
            pipe.set(key(latest_stem(record.kind), record.project), record.job_id)
        pipe.execute()

    @guarded
    def records(self, project: str) -> list[JobRecord]:
        """Every job record of the project still in Redis, oldest first."""
        ids = [text(i) for i in self.redis.zrange(key("jobs", project), 0, -1)]  # type: ignore[arg-type]
        raws = self.redis.mget([key("job", i) for i in ids]) if ids else []
        gone = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
        if gone:  # expired records: forget their ids too
            self.redis.zrem(key("jobs", project), *gone)
        return [JobRecord.from_dict(orjson.loads(raw)) for raw in raws if raw is not None]

    @guarded
    def delete(self, project: str, job_ids: list[str]) -> None:
        if job_ids:
            pipe = self.redis.pipeline()
            pipe.delete(*[key("job", check_job_id(i)) for i in job_ids])
            pipe.zrem(key("jobs", project), *job_ids)
            pipe.execute()

    @guarded
    def get(self, job_id: str) -> JobRecord:
        raw = self.redis.get(key("job", check_job_id(job_id)))
        if raw is None:
            raise NotFound(f"no training job {job_id}")
        return JobRecord.from_dict(orjson.loads(raw))

    @guarded
    def latest(self, project: str, kind: JobKind = JobKind.TRAIN) -> JobRecord | None:
        job_id = self.redis.get(key(latest_stem(kind), project))
        return self.get(text(job_id)) if job_id else None


def open_redis_stores(settings: Settings, timeout_s: float = SERVING_TIMEOUT_S) -> Stores:
    assert settings.redis_url
    client = connect(settings.redis_url, timeout_s)
    return Stores(
        versions=RedisVersionStore(settings.model_dir, client),
        training_set=RedisTrainingSetStore(client),
        registry=RedisProjectRegistry(client),
        jobs=RedisJobStore(client),
        state=RedisStateStore(client),
        stats=RedisStatsStore(client),
        mode="redis",
        ping=lambda: _ping(client),
    )


def _ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
