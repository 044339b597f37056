"""Redis mode: training jobs are RQ jobs, run by ``labelloop worker`` on any machine that
sees the same Redis and model directory.

Coalescing across every server process:

* ``labelloop:pending:<project>`` holds the one queued job (``SET NX``); a new pending job
  gets an RQ "drain" job.
* A drain job takes ``labelloop:lock:<project>`` (renewed by a heartbeat while it runs, so
  a killed worker's lock expires) or, if another worker holds it, returns at once: it never
  blocks a worker that could train another project. The holder claims pending jobs
  (``GETDEL``) until none is left, and looks once more after releasing the lock, so no
  queued job is stranded. A project has at most one job running and one queued.
* A SIGKILLed work-horse is reported by RQ to :func:`on_horse_killed`: the job is marked
  failed (not retried; the next annotation or START_TRAINING queues a fresh one), its
  version folder gets an error ``job_result.json``, and the lock is released.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timezone
from typing import Any

import orjson
import redis
from rq import Queue, Worker, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job

from labelloop.errors import LabelloopError
from labelloop.settings import SETTINGS_ENV, Settings
from labelloop.store.bundle import open_stores
from labelloop.store.jobs import JobRecord, JobStore, new_job_id
from labelloop.store.redis_stores import RELEASE_SCRIPT, connect, guarded, key, text
from labelloop.training.cadence import due_at, last_train_job
from labelloop.training.job import TrainingContext, fail_version, record_stats, run_job

log = logging.getLogger("labelloop.training")
QUEUE = "labelloop"
DRAIN = "labelloop.training.rq_queue.drain"
JOB_TIMEOUT_S = 6 * 3600
ALIVE = {"queued", "started", "deferred", "scheduled"}


PENDING_KEYS = {"train": "pending", "rescore": "pending-rescore"}


def pending_key(project: str, kind: str = "train") -> str:
    return key(PENDING_KEYS[kind], project)


class RQQueue:
    def __init__(self, settings: Settings, jobs: JobStore) -> None:
        assert settings.redis_url
        self.redis = connect(settings.redis_url)
        self.queue = Queue(QUEUE, connection=self.redis)
        self.jobs = jobs

    @guarded
    def schedule(self, project: str, source: str, kind: str = "train") -> JobRecord:
        """Queue a job of ``kind`` or join the queued one. A re-scoring job joins a queued
        training job: the training job re-scores when it promotes."""
        if kind == "rescore" and (train := self._pending(project, "train")) is not None:
            return train
        new = JobRecord(new_job_id(), project, "queued", source, kind=kind)
        if self.redis.set(pending_key(project, kind), orjson.dumps(new.to_dict()), nx=True):
            self.jobs.put(new)
            self._enqueue(project)  # always: a draining worker may be past its last look
            return new
        queued = self._pending(project, kind)
        if queued is None:  # claimed in between: queue a fresh one
            return self.schedule(project, source, kind)
        if source == "label_studio" and queued.source != source:
            # START_TRAINING asks for Label Studio's data, now: upgrade the queued job,
            # and wake a drain even if one waits for the job to fall due.
            queued = queued.update(source=source)
            self.redis.set(pending_key(project, kind), orjson.dumps(queued.to_dict()), xx=True)
            self._enqueue(project)
        elif not self._drain_alive(project) and not self.redis.exists(key("lock", project)):
            self._enqueue(project)  # its drain job was lost and nobody holds the project
        return queued

    def _pending(self, project: str, kind: str) -> JobRecord | None:
        raw = self.redis.get(pending_key(project, kind))
        return JobRecord.from_dict(orjson.loads(raw)) if raw else None

    def _enqueue(self, project: str, at: float | None = None) -> None:
        """A drain job for ``project``, now or at the Unix time ``at`` (RQ's scheduler)."""
        options: dict[str, Any] = {"job_timeout": JOB_TIMEOUT_S, "result_ttl": 86400,
                                   "failure_ttl": 7 * 86400}
        if at is None:
            job = self.queue.enqueue(DRAIN, project, **options)
        else:
            job = self.queue.enqueue_at(datetime.fromtimestamp(at, timezone.utc), DRAIN,
                                        project, **options)
        self.redis.set(key("drain", project), job.id)

    def _drain_alive(self, project: str) -> bool:
        job_id = self.redis.get(key("drain", project))
        if job_id is None:
            return False
        try:
            return Job.fetch(text(job_id), connection=self.redis).get_status() in ALIVE
        except NoSuchJobError:
            return False

    @guarded
    def pending(self, project: str) -> JobRecord | None:
        """The queued training job, else the queued re-scoring job."""
        return self._pending(project, "train") or self._pending(project, "rescore")

    @guarded
    def is_running(self, project: str) -> bool:
        return bool(self.redis.exists(key("lock", project)))


class _Lock:
    """The project's run lock, renewed while held so that a dead holder's lock expires."""

    def __init__(self, client: redis.Redis, project: str, token: str, ttl_s: int) -> None:
        self.redis, self.key, self.token = client, key("lock", project), token
        self.ttl_ms = ttl_s * 1000
        self._stop = threading.Event()

    def try_acquire(self) -> bool:
        if not self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return False
        self._stop = threading.Event()
        threading.Thread(target=self._beat, args=(self._stop,), daemon=True).start()
        return True

    def retoken(self, token: str) -> None:
        self.redis.set(self.key, token, xx=True, keepttl=True)
        self.token = token

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(self.ttl_ms / 3000):
            try:
                if text(self.redis.get(self.key) or b"") == self.token:
                    self.redis.pexpire(self.key, self.ttl_ms)
            except redis.RedisError as exc:
                log.warning("lock heartbeat failed: %s", exc)

    def release(self) -> None:
        self._stop.set()
        self.redis.eval(RELEASE_SCRIPT, 1, self.key, self.token)


class _Drain:
    """One worker's turn at a project: due training jobs first, else queued re-scoring."""

    def __init__(self, settings: Settings, project: str) -> None:
        self.settings, self.project = settings, project
        stores = open_stores(settings)
        self.client = connect(str(settings.redis_url))
        self.queue = RQQueue(settings, stores.jobs)
        self.ctx = TrainingContext(settings, stores, self.queue,
                                   preempt=lambda: self.train_wait() == 0.0)
        self.last_train = last_train_job(stores.jobs.records(project))

    def train_wait(self) -> float | None:
        """Seconds until the queued training job is due (0: now); None: none queued."""
        queued = self.queue._pending(self.project, "train")
        if queued is None:
            return None
        due = due_at(queued, self.last_train, self.settings.train_min_interval_s,
                     self.settings.train_interval_factor)
        return max(0.0, due - time.time())

    def claim(self, lock: _Lock) -> JobRecord | None:
        kind = "train" if self.train_wait() == 0.0 else "rescore"
        raw = self.client.getdel(pending_key(self.project, kind))
        if raw is None:
            return None
        record = JobRecord.from_dict(orjson.loads(raw))
        lock.retoken(record.job_id)  # the lock names the job: status checks see it
        return record

    def run(self, record: JobRecord) -> None:
        done = run_job(self.ctx, record)
        if done.kind == "train":
            self.last_train = done


def drain(project: str) -> dict[str, Any]:
    """The RQ job: run the project's queued jobs, unless another worker is. A training job
    that is not due yet gets a drain job scheduled for when it is."""
    settings = Settings.from_json(os.environ[SETTINGS_ENV])
    turn = _Drain(settings, project)
    current = get_current_job()
    lock = _Lock(turn.client, project, current.id if current else new_job_id(),
                 settings.job_lock_ttl_s)
    ran = []
    while lock.try_acquire():
        try:
            while (record := turn.claim(lock)) is not None:
                turn.run(record)
                ran.append(record.job_id)
        finally:
            lock.release()
        wait = turn.train_wait()
        if wait:  # looked after releasing: a job queued meanwhile is not stranded
            turn.queue._enqueue(project, at=time.time() + wait)
            break
        if wait is None and not turn.client.exists(pending_key(project, "rescore")):
            break
    return {"ran": ran}


def on_horse_killed(job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
    """RQ calls this in the worker when a work-horse dies (e.g. SIGKILL) mid-job.

    It must never raise (RQ would stop the worker). If Redis is down too, the record is
    reported failed once the dead job's lock expires, and the next job of the project
    marks the folder failed.
    """
    reason = f"the worker process was killed (wait status {ret_val})"
    if os.WIFSIGNALED(ret_val):
        reason = f"the worker process was killed by signal {os.WTERMSIG(ret_val)}"
    try:
        _record_killed(job, reason)
    except (redis.RedisError, LabelloopError, OSError) as exc:
        log.error("could not record the death of job %s (%s): %s", job.id, reason, exc)


def _record_killed(job: Job, reason: str) -> None:
    settings = Settings.from_json(os.environ[SETTINGS_ENV])
    stores = open_stores(settings)
    project = str(job.args[0])
    client = connect(str(settings.redis_url))
    holder = client.get(key("lock", project))
    record = stores.jobs.get(text(holder)) if holder else stores.jobs.get(job.id)
    if record.state in ("running", "queued"):
        if record.version:
            fail_version(stores, project, record.version, record.job_id, reason)
        record = record.update(state="failed", outcome="failed", ended=time.time(),
                               error=reason)
        stores.jobs.put(record)
        record_stats(stores, record)
    if holder:
        _Lock(client, project, text(holder), settings.job_lock_ttl_s).release()
    if any(client.exists(pending_key(project, kind)) for kind in PENDING_KEYS):
        RQQueue(settings, stores.jobs)._enqueue(project)  # queued behind the dead job
    log.error("training job %s of project %s failed: %s", record.job_id, project, reason)


def run_worker(settings: Settings, burst: bool = False) -> None:
    """``labelloop worker``: run training jobs from Redis until stopped.

    RQ retries a lost Redis only while idle; mid-job it gives up. Then we start a new RQ
    worker (with backoff) instead of exiting: a Redis restart must not stop training.
    """
    os.environ[SETTINGS_ENV] = settings.to_json()  # read by drain() in each work-horse
    client = connect(str(settings.redis_url))
    delay = 1.0
    while True:
        try:  # Worker() talks to Redis too
            worker = Worker([Queue(QUEUE, connection=client)], connection=client,
                            work_horse_killed_handler=on_horse_killed)
            # The scheduler starts drains for training jobs once they fall due.
            worker.work(burst=burst, logging_level=settings.log_level.upper(),
                        with_scheduler=True)
            return
        except redis.RedisError as exc:
            log.error("lost Redis (%s); starting a new worker in %.0f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
