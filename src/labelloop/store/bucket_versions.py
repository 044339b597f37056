"""Versions in object storage (Redis mode): servers and workers share Redis and a bucket,
no folder.

- A job fits in a local work folder (``<model_dir>/.work/<project>/<version>/``), then
  uploads it whole, ``job_result.json`` last: a prefix without it is *incomplete* (a job
  still uploading, or killed), which no server loads and the next job of the project marks
  failed, for retention to remove. Only after the upload is the pointer moved.
- The pointer, the pins, the versions lock and version names live in Redis; ``.current``
  is also written to the bucket, so the bucket stays self-describing if Redis is emptied.
- A process that serves a version fetches its folder into a bounded local cache
  (:mod:`labelloop.store.version_cache`) and loads the model from there.

``train_output`` names files by the absolute paths the job saw; a version's result is read
with those paths moved to where this process keeps the folder.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

import orjson
import redis

from labelloop.errors import NotFound, StoreUnavailable
from labelloop.settings import Settings
from labelloop.store.atomic import write_json_atomic
from labelloop.store.buckets import Bucket
from labelloop.store.redis_stores import RedisVersionStore, guarded, key, text
from labelloop.store.version_cache import VersionCache
from labelloop.store.versions import CURRENT, JOB_RESULT, VersionInfo, VersionStatus

WORK = ".work"
NAME_TTL_S = 7 * 86400
RESULTS_KEPT = 1024
STORED_POINTER_TTL_S = 2.0  # the bucket's .current, read only when Redis has no pointer


def moved(value: Any, old: str, new: str) -> Any:
    """``value`` with every string path under ``old`` moved under ``new``.

    >>> moved({"m": "/w/1/model.pkl", "n": ["/w/1"], "x": "/w/10"}, "/w/1", "/c/1")
    {'m': '/c/1/model.pkl', 'n': ['/c/1'], 'x': '/w/10'}
    """
    if isinstance(value, str):
        if value == old or value.startswith(old + "/"):
            return new + value[len(old):]
        return value
    if isinstance(value, dict):
        return {k: moved(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [moved(v, old, new) for v in value]
    return value


class BucketVersionStore(RedisVersionStore):
    def __init__(self, model_dir: Path, client: redis.Redis, bucket: Bucket,
                 cache: VersionCache) -> None:
        super().__init__(model_dir, client)
        self.bucket = bucket
        self.cache = cache
        # A version's job_result.json never changes once uploaded: read it once.
        self._results: dict[tuple[str, str], dict[str, Any]] = {}
        self._stored: dict[tuple[str, str], tuple[float, str | None]] = {}

    def _work(self, project: str, version: str) -> Path:
        return self.model_dir / WORK / project / version

    # The pointer: Redis first; the bucket's .current when Redis has none or is down.
    def _pointer(self, project: str) -> str | None:
        try:
            raw = self.redis.get(key("current", project))
        except redis.RedisError:
            with contextlib.suppress(StoreUnavailable):
                # Its own slot: what was read while Redis answered may predate a switch.
                stored = self._stored_pointer(project, slot="outage")
                if stored:
                    return stored
            return self._last_seen.get(project)
        if raw:
            version: str | None = text(raw)
        else:  # no pointer in Redis (emptied, or never trained): the bucket's, if it answers
            try:
                version = self._stored_pointer(project)
            except StoreUnavailable:
                return self._last_seen.get(project)
        self._last_seen[project] = version
        return version

    def _stored_pointer(self, project: str, slot: str = "") -> str | None:
        at, version = self._stored.get((slot, project), (0.0, None))
        if time.monotonic() - at > STORED_POINTER_TTL_S:
            raw = self.bucket.read(f"{project}/{CURRENT}")
            version = raw.decode().strip() or None if raw else None
            self._stored[(slot, project)] = (time.monotonic(), version)
        return version

    def _store_pointer(self, project: str, version: str) -> None:
        self.bucket.write(f"{project}/{CURRENT}", version.encode())
        self._stored.pop(("", project), None)
        self._stored.pop(("outage", project), None)

    def current_version(self, project: str) -> str | None:
        return self._pointer(project)  # no scan of the bucket on every request

    def _job_result(self, project: str, version: str) -> dict[str, Any] | None:
        if (project, version) in self._results:
            return self._results[(project, version)]
        cached = self.cache.path(project, version)
        if self.cache.holds(project, version):  # a complete copy: no need to ask the bucket
            with contextlib.suppress(OSError):
                raw: bytes | None = (cached / JOB_RESULT).read_bytes()
                result: dict[str, Any] = orjson.loads(raw)  # type: ignore[arg-type]
                self._remember(project, version, result)
                return result
        raw = self.bucket.read(f"{project}/{version}/{JOB_RESULT}")
        if raw is None:
            return None
        result = orjson.loads(raw)
        self._remember(project, version, result)
        return result

    def _remember(self, project: str, version: str, result: dict[str, Any]) -> None:
        if len(self._results) >= RESULTS_KEPT:
            self._results.clear()
        self._results[(project, version)] = result

    def get(self, project: str, version: str) -> VersionInfo:
        if not version.isdigit():
            raise NotFound(f"version {version!r} of project {project!r} does not exist")
        result = self._job_result(project, version)
        if result is None:
            work = self._work(project, version)
            if not work.is_dir() and not self.bucket.names(f"{project}/{version}"):
                raise NotFound(f"version {version!r} of project {project!r} does not exist")
            local = work if work.is_dir() else self.cache.path(project, version)
            return VersionInfo(project, version, local, VersionStatus.INCOMPLETE, None)
        local = self.cache.path(project, version)
        made_in = result.get("workdir")
        if isinstance(made_in, str) and made_in:
            result = moved(result, made_in, str(local))
        return VersionInfo(project, version, local, VersionStatus.of(result), result)

    def _scan(self, project: str) -> list[VersionInfo]:
        found = []
        for name in sorted((n for n in self.bucket.names(project) if n.isdigit()), key=int):
            with contextlib.suppress(NotFound):  # pruned while we looked
                found.append(self.get(project, name))
        return found

    def projects(self) -> list[str]:
        return [p for p in self.bucket.names() if not p.startswith(".")
                and any(n.isdigit() or n == CURRENT for n in self.bucket.names(p))]

    def create(self, project: str) -> tuple[str, Path]:
        """A new version name, later than every other and reserved in Redis (workers on
        other machines make versions too), and its local work folder."""
        existing = [int(n) for n in self.bucket.names(project) if n.isdigit()]
        candidate = max([int(time.time()), *(v + 1 for v in existing)])
        with guarded.block():
            while not self.redis.set(key("vname", project, str(candidate)), "1", nx=True,
                                     ex=NAME_TTL_S):
                candidate += 1
        work = self._work(project, str(candidate))
        shutil.rmtree(work.parent, ignore_errors=True)  # leftovers of a killed job
        work.mkdir(parents=True)
        return str(candidate), work

    def finish(self, project: str, version: str, job_result: dict[str, Any]) -> None:
        """Upload the version (its result last), then, for an ok result, serve it."""
        work = self._work(project, version)
        if work.is_dir():
            write_json_atomic(work / JOB_RESULT, job_result, pretty=True)
            self.bucket.upload(work, f"{project}/{version}", last=JOB_RESULT)
        elif self.bucket.names(f"{project}/{version}"):  # made by a job that died elsewhere
            if self._job_result(project, version) is None:
                self.bucket.write(f"{project}/{version}/{JOB_RESULT}",
                                  orjson.dumps(job_result, option=orjson.OPT_INDENT_2))
        else:
            raise NotFound(f"version {version!r} of project {project!r} does not exist")
        self._remember(project, version, job_result)
        if VersionStatus.of(job_result) is VersionStatus.OK:
            with self.lock(project):
                self._write_pointer(project, version)
        if work.is_dir():  # the worker's own cache starts warm with it
            with contextlib.suppress(OSError):
                self.cache.adopt(project, version, work)

    def fetch(self, project: str, version: str) -> Path:
        """The version's folder in the local cache, downloaded on a miss."""
        info = self.get(project, version)
        if info.job_result is None:
            raise NotFound(f"version {version} of project {project} is not complete")
        return self.cache.ensure(project, version, lambda folder: self._download(
            project, version, folder))

    def _download(self, project: str, version: str, folder: Path) -> None:
        if JOB_RESULT not in self.bucket.download(f"{project}/{version}", folder):
            raise NotFound(f"version {version!r} of project {project!r} does not exist")

    def remove(self, project: str, version: str) -> None:
        """Delete the version's prefix, its result first (nobody loads a half-deleted one).
        The caller holds the versions lock and has checked it is not current."""
        if not version.isdigit():
            return
        if self._pointer(project) == version:
            raise StoreUnavailable(f"refusing to remove version {version}: it is served")
        self.bucket.delete(f"{project}/{version}", first=JOB_RESULT)
        self._results.pop((project, version), None)
        self.cache.discard(project, version)
        self.redis.srem(key("pinned", project), version)


def open_bucket_versions(settings: Settings, redis_versions: RedisVersionStore,
                         ) -> BucketVersionStore:
    """Versions in ``settings.storage``, sharing the Redis client of the other stores."""
    cache = VersionCache(settings.version_cache_dir, settings.cache_max_mb * 1024 * 1024)
    return BucketVersionStore(settings.model_dir, redis_versions.redis,
                              Bucket(settings.storage), cache)


