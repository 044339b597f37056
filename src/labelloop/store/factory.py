"""Opening a deployment's stores, the same way in every process: files under the model
directory, or Redis for the shared state when ``redis_url`` is set.

The factory lives apart from the types it builds, so the Redis implementations can import
those types without an import circle.
"""

from __future__ import annotations

import dataclasses

from labelloop.errors import BadRequest
from labelloop.settings import Settings
from labelloop.store.buckets import is_bucket_url
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
    check_storage(settings)
    if settings.redis_url:
        from labelloop.store.redis_stores import JOB_TIMEOUT_S, SERVING_TIMEOUT_S, open_redis_stores

        stores = open_redis_stores(settings, JOB_TIMEOUT_S if for_jobs else SERVING_TIMEOUT_S)
        if is_bucket_url(settings.storage):
            from labelloop.store.bucket_versions import open_bucket_versions

            versions = open_bucket_versions(settings, stores.versions)  # type: ignore[arg-type]
            stores = dataclasses.replace(stores, versions=versions,
                                         storage_ping=versions.bucket.ping)
        return stores
    return Stores(
        versions=FileVersionStore(settings.model_dir),
        training_set=FileTrainingSetStore(settings.model_dir),
        registry=FileProjectRegistry(settings.model_dir),
        jobs=FileJobStore(settings.model_dir),
        state=FileStateStore(settings.model_dir),
        stats=FileStatsStore(settings.model_dir),
        mode="local",
    )


def check_storage(settings: Settings) -> None:
    """Versions in a bucket are shared by machines that share nothing else but Redis: the
    pointer, pins and locks live there, so a bucket without Redis is refused."""
    storage = settings.storage or "file://"
    if is_bucket_url(storage):
        if not settings.redis_url:
            raise BadRequest(f"storage {storage} needs Redis mode: pass --redis-url or set "
                             "REDIS_URL (the served-version pointer lives in Redis)")
        return
    if not storage.startswith("file://"):
        raise BadRequest(f"storage {storage!r}: expected file:// or s3://bucket/prefix "
                         "(gs://, az:// with gcsfs or adlfs installed)")
    if storage.rstrip("/") not in ("file:", "file://"):
        raise BadRequest(f"storage {storage!r}: file:// keeps versions in the model dir; "
                         "choose the folder with --model-dir")
