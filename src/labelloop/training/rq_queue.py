"""Redis mode: training jobs are RQ jobs, run by ``labelloop worker`` on any machine that
sees the same Redis and model directory.

Coalescing across every server process:

* ``labelloop:pending:<project>`` holds the one queued job (``SET NX``); a new pending job
  gets an RQ "drain" job.
* A drain job takes ``labelloop:lock:<project>`` (renewed by a heartbeat while it runs, so
  a killed worker's lock expires; its value names the job it runs) or, if another worker
  holds it, returns at once: it never blocks a worker that could train another project.
  The holder claims pending jobs (``GETDEL``) in the order the scheduling policy says
  (:mod:`labelloop.training.policy`), and looks once more after releasing the lock, so no
  queued job is stranded. A project has at most one job running and one queued.
* A SIGKILLed work-horse is reported by RQ to :func:`on_horse_killed`: the job is marked
  failed (not retried; the next annotation or START_TRAINING queues a fresh one), its
  version folder gets an error ``job_result.json``, and the lock is released.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
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
from labelloop.logs import configure_logging
from labelloop.settings import SETTINGS_ENV, Settings
from labelloop.store.buckets import preload
from labelloop.store.factory import open_stores
from labelloop.store.jobs import JobKind, JobRecord, JobState, Outcome, new_job_id
from labelloop.store.redis_stores import (
    JOB_TIMEOUT_S,
    RELEASE_SCRIPT,
    SERVING_TIMEOUT_S,
    connect,
    guarded,
    key,
    text,
)
from labelloop.training.job import (
    TrainingContext,
    die_with_parent,
    fail_version,
    record_stats,
    run_job,
)
from labelloop.training.policy import Scheduler, Turn

log = logging.getLogger("labelloop.training")
QUEUE = "labelloop"
DRAIN = "labelloop.training.rq_queue.drain"
RQ_JOB_TIMEOUT_S = 6 * 3600
ALIVE = {"queued", "started", "deferred", "scheduled"}


PENDING_KEYS = {JobKind.TRAIN: "pending", JobKind.RESCORE: "pending-rescore"}
IDLE = "idle-"  # a lock token that names no job: its holder is between jobs


def pending_key(project: str, kind: JobKind = JobKind.TRAIN) -> str:
    return key(PENDING_KEYS[kind], project)


class RedisRunLock:
    """The project's run lock, renewed while held so that a dead holder's lock expires.
    Its value names the job the holder runs (:data:`IDLE` between jobs)."""

    def __init__(self, client: redis.Redis, project: str, ttl_s: int,
                 token: str | None = None) -> None:
        self.redis, self.key = client, key("lock", project)
        self.token = token or IDLE + new_job_id()
        self.ttl_ms = ttl_s * 1000
        self._stop = threading.Event()

    def try_acquire(self) -> bool:
        if not self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return False
        self._stop = threading.Event()
        threading.Thread(target=self._beat, args=(self._stop,), daemon=True).start()
        return True

    def hold_for(self, job_id: str) -> None:
        token = job_id or IDLE + new_job_id()
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


class RedisMedium:
    """Queued jobs under ``labelloop:pending*:<project>``, the run lock under
    ``labelloop:lock:<project>``; an RQ "drain" job runs a project's queued jobs."""

    def __init__(self, settings: Settings, timeout_s: float = SERVING_TIMEOUT_S) -> None:
        assert settings.redis_url
        self.settings = settings
        self.redis = connect(settings.redis_url, timeout_s)
        self.queue = Queue(QUEUE, connection=self.redis)

    @guarded
    def put_pending(self, record: JobRecord) -> JobRecord | None:
        name = pending_key(record.project, record.kind)
        while not self.redis.set(name, orjson.dumps(record.to_dict()), nx=True):
            queued = self.peek_pending(record.project, record.kind)
            if queued is not None:
                return queued
            # claimed between the two calls: try again
        return None

    @guarded
    def peek_pending(self, project: str, kind: JobKind) -> JobRecord | None:
        raw = self.redis.get(pending_key(project, kind))
        return JobRecord.from_dict(orjson.loads(raw)) if raw else None

    @guarded
    def replace_pending(self, record: JobRecord) -> bool:
        return bool(self.redis.set(pending_key(record.project, record.kind),
                                   orjson.dumps(record.to_dict()), xx=True))

    @guarded
    def claim_pending(self, project: str, kind: JobKind) -> JobRecord | None:
        raw = self.redis.getdel(pending_key(project, kind))
        return JobRecord.from_dict(orjson.loads(raw)) if raw else None

    @guarded
    def holder(self, project: str) -> str | None:
        raw = self.redis.get(key("lock", project))
        if raw is None:
            return None
        token = text(raw)
        return "" if token.startswith(IDLE) else token

    def run_lock(self, project: str) -> RedisRunLock:
        return RedisRunLock(self.redis, project, self.settings.job_lock_ttl_s)

    @guarded
    def wake(self, project: str, urgent: bool) -> None:
        # Urgent: always, since a draining worker may be past its last look.
        if urgent or (not self._drain_alive(project)
                      and not self.redis.exists(key("lock", project))):
            self.enqueue(project)  # else its drain job was lost and nobody holds the project

    def ask_turn(self, project: str, asked: bool) -> None:
        """Nothing to ask: a drain never holds the lock between jobs."""

    def turn_asked(self, project: str) -> bool:
        return False

    def enqueue(self, project: str, at: float | None = None) -> None:
        """A drain job for ``project``, now or at the Unix time ``at`` (RQ's scheduler)."""
        options: dict[str, Any] = {"job_timeout": RQ_JOB_TIMEOUT_S, "result_ttl": 86400,
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


def drain(project: str) -> dict[str, Any]:
    """The RQ job: run the project's queued jobs, unless another worker is. A training job
    that is not due yet gets a drain job scheduled for when it is."""
    die_with_parent(os.getppid())  # a worker that stops takes its jobs down with it
    settings = Settings.from_json(os.environ[SETTINGS_ENV])
    stores = open_stores(settings, for_jobs=True)
    medium = RedisMedium(settings, JOB_TIMEOUT_S)
    scheduler = Scheduler(settings, medium, stores.jobs)
    lock = medium.run_lock(project)
    current = get_current_job()
    ran = []
    while lock.try_acquire():
        if current is not None:  # which RQ job holds the project, for on_horse_killed
            medium.redis.set(key("lock-owner", project), current.id)
        try:
            turn = Turn(scheduler, project, lock)
            ctx = TrainingContext(settings, stores, scheduler, preempt=turn.preempted)
            while (record := turn.claim()) is not None:
                turn.ran(run_job(ctx, record))
                ran.append(record.job_id)
        finally:
            lock.release()
        wait = scheduler.work_left(project)  # looked after releasing: nothing is stranded
        if wait is None:
            break
        if wait > 0:
            medium.enqueue(project, at=time.time() + wait)
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
    stores = open_stores(settings, for_jobs=True)
    medium = RedisMedium(settings, JOB_TIMEOUT_S)
    project = str(job.args[0])
    client = medium.redis
    if text(client.get(key("lock-owner", project)) or b"") == job.id:
        # The dead drain held the project: fail the job it ran and free the project.
        holder = medium.holder(project)
        record = stores.jobs.get(holder) if holder else None
        if record is not None and not record.state.ended:
            if record.version:
                fail_version(stores, project, record.version, record.job_id, reason)
            record = record.ended_as(JobState.FAILED, Outcome.FAILED, error=reason)
            stores.jobs.put(record)
            record_stats(stores, record)
            log.error("%s job %s of project %s failed: %s", record.kind, record.job_id,
                      project, reason)
        token = client.get(key("lock", project))
        if token is not None:
            RedisRunLock(client, project, settings.job_lock_ttl_s, text(token)).release()
    if any(medium.peek_pending(project, kind) for kind in PENDING_KEYS):
        medium.enqueue(project)  # queued behind the dead job


EX_TEMPFAIL = 75  # the RQ worker lost Redis: the supervisor starts another


def run_worker(settings: Settings, burst: bool = False) -> None:
    """``labelloop worker``: supervise one RQ worker process until stopped.

    A lost Redis ends the RQ worker (mid-job, RQ gives up): a new one starts, with backoff,
    so a Redis restart does not stop training. SIGTERM or SIGINT: the RQ worker gets RQ's
    warm shutdown for ``shutdown_grace_s`` (its job may finish), then it is killed with its
    job, which then counts as failed, as after any kill: the previous version serves.
    """
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    delay = 1.0
    while not stop.is_set():
        code = _supervise(settings, burst, stop)
        if stop.is_set() or code == 0:
            return
        log.error("the RQ worker exited (%s); starting a new one in %.0f s", code, delay)
        stop.wait(delay)
        delay = min(delay * 2, 30.0)


def _supervise(settings: Settings, burst: bool, stop: threading.Event) -> int:
    """Run one RQ worker process to its end; returns its exit code."""
    env = {**os.environ, SETTINGS_ENV: settings.to_json()}
    cmd = [sys.executable, "-m", "labelloop.training.rq_queue", *(["--burst"] if burst else [])]
    child = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    while child.poll() is None and not stop.wait(0.1):
        pass
    if child.poll() is None:  # asked to stop: warm shutdown, then the kill
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(settings.shutdown_grace_s)
        except subprocess.TimeoutExpired:
            log.warning("the RQ worker did not stop within %.0f s: killing it and its job",
                        settings.shutdown_grace_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # its scheduler too; horses die with it
        child.wait()
    return int(child.returncode)


def _work(burst: bool) -> int:
    """The RQ worker process (``python -m labelloop.training.rq_queue``)."""
    die_with_parent(os.getppid())  # a `labelloop worker` killed outright takes it along
    settings = Settings.from_json(os.environ[SETTINGS_ENV])  # drain() reads it too
    configure_logging(settings.log_level, settings.log_format)
    preload(settings.storage)  # each job's work-horse is a fork of this process
    client = connect(str(settings.redis_url), JOB_TIMEOUT_S)
    try:  # Worker() talks to Redis too
        worker = _Worker([Queue(QUEUE, connection=client)], connection=client,
                         work_horse_killed_handler=on_horse_killed)
        # The scheduler starts drains for training jobs once they fall due.
        worker.work(burst=burst, logging_level=settings.log_level.upper(),
                    with_scheduler=True)
    except redis.RedisError as exc:
        log.error("lost Redis: %s", exc)
        return EX_TEMPFAIL
    # RQ also returns, unasked, when Redis times out: then start anew.
    return 0 if burst or worker.stopping else EX_TEMPFAIL


def queue_health(url: str) -> tuple[int, int, int, float | None]:
    """For ``labelloop doctor``: (workers, busy workers, queued jobs, age in seconds of the
    oldest queued job); raises :class:`redis.RedisError` when Redis does not answer."""
    conn = connect(url)
    try:
        workers = Worker.all(connection=conn)
        busy = sum(w.get_state() == "busy" for w in workers)
        queue = Queue(QUEUE, connection=conn)
        ids = queue.get_job_ids(0, 0)
        oldest = None
        if ids:
            job = queue.fetch_job(ids[0])
            if job is not None and job.enqueued_at is not None:
                enqueued = job.enqueued_at.replace(tzinfo=job.enqueued_at.tzinfo or timezone.utc)
                oldest = (datetime.now(timezone.utc) - enqueued).total_seconds()
        return len(workers), busy, queue.count, oldest
    finally:
        conn.close()


class _Worker(Worker):
    """An RQ worker that remembers whether it was asked to stop."""

    stopping = False

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stopping = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    sys.exit(_work("--burst" in sys.argv[1:]))
