"""The one scheduling policy of training and re-scoring jobs, whatever holds the queue.

Every decision about *when* a job runs is made here, once, for both modes:

* **coalescing**: a project has at most one queued job of each kind; a new event joins the
  queued one; ``START_TRAINING`` upgrades a queued job to read Label Studio's own export.
  A re-scoring waits beside a queued training job (not joining it: under a steady stream
  of annotations a training job is always queued, and re-scoring would never run); it
  re-scores whichever version serves when it starts;
* **cadence**: a job made by annotation events waits (:mod:`labelloop.training.cadence`);
* **which job next**: a due training job first, else a queued re-scoring;
* **pre-emption**: a re-scoring yields as soon as a training job falls due;
* **is a job alive**: its record says it runs *and* the project's run lock is held by it.

Where queued jobs and the run lock live is a :class:`QueueMedium`: files and ``flock`` in
local mode (:mod:`labelloop.training.local_queue`), Redis in Redis mode
(:mod:`labelloop.training.rq_queue`). Local runner processes and RQ workers both run a
project's jobs through :class:`Turn`.
"""

from __future__ import annotations

import time
from typing import Protocol

from labelloop.errors import NotFound
from labelloop.settings import Settings
from labelloop.store.jobs import JobKind, JobRecord, JobSource, JobState, JobStore, new_job_id
from labelloop.training.cadence import due_at, last_train_job

DIED = "the worker running this job died"


class RunLock(Protocol):
    """The project's run lock: whoever holds it runs the project's jobs, one at a time."""

    def try_acquire(self) -> bool: ...

    def hold_for(self, job_id: str) -> None:
        """Say which job the holder runs now (status reads see it)."""

    def release(self) -> None: ...


class QueueMedium(Protocol):
    """Where queued jobs and the run lock live; no decisions, only storage."""

    def put_pending(self, record: JobRecord) -> JobRecord | None:
        """Queue ``record`` unless a job of its kind is queued for its project: then that
        job (and nothing is written)."""

    def peek_pending(self, project: str, kind: JobKind) -> JobRecord | None: ...

    def replace_pending(self, record: JobRecord) -> bool:
        """Overwrite the queued job of the record's kind; False if none is queued (claimed)."""

    def claim_pending(self, project: str, kind: JobKind) -> JobRecord | None:
        """Take the queued job of ``kind`` (later events queue a new one)."""

    def holder(self, project: str) -> str | None:
        """The job the run lock's holder runs ("" between jobs), or None: nobody holds it."""

    def run_lock(self, project: str) -> RunLock: ...

    def wake(self, project: str, urgent: bool) -> None:
        """Make sure something will run the project's queued jobs: ``urgent`` after a job
        was queued or changed; else only if nothing is on its way."""

    def ask_turn(self, project: str, asked: bool) -> None:
        """Ask a runner that holds the lock between jobs to let go (or stop asking)."""

    def turn_asked(self, project: str) -> bool: ...


class Scheduler:
    """The policy, over a medium and the job records."""

    def __init__(self, settings: Settings, medium: QueueMedium, jobs: JobStore) -> None:
        self.settings = settings
        self.medium = medium
        self.jobs = jobs

    def schedule(self, project: str, source: JobSource,
                 kind: JobKind = JobKind.TRAIN) -> JobRecord:
        """Queue a job of ``kind`` or join the queued one; never waits for it to run."""
        new = JobRecord(new_job_id(), project, JobState.QUEUED, source, kind=kind)
        queued = self.medium.put_pending(new)
        if queued is None:
            self.jobs.put(new)
            self.medium.wake(project, urgent=True)
            return new
        if source is JobSource.LABEL_STUDIO and queued.source is not JobSource.LABEL_STUDIO:
            # START_TRAINING asks for Label Studio's data, now: upgrade the queued job.
            upgraded = queued.update(source=JobSource.LABEL_STUDIO)
            if not self.medium.replace_pending(upgraded):
                return self.schedule(project, source, kind)  # claimed meanwhile: queue anew
            self.medium.wake(project, urgent=True)
            return upgraded
        self.medium.wake(project, urgent=False)
        return queued

    def pending(self, project: str) -> JobRecord | None:
        """The queued training job, else the queued re-scoring, else a job a runner has
        claimed and not started yet (so a read in between does not see an idle project)."""
        for kind in (JobKind.TRAIN, JobKind.RESCORE):
            queued = self.medium.peek_pending(project, kind)
            if queued is not None:
                return queued
        holder = self.medium.holder(project)
        if holder:
            record = self._record(holder)
            if record is not None and record.state is JobState.QUEUED:
                return record
        return None

    def is_alive(self, record: JobRecord) -> bool:
        """Whether a job whose record says it runs is really running."""
        return (record.state is JobState.RUNNING
                and self.medium.holder(record.project) == record.job_id)

    def reconcile(self, record: JobRecord) -> JobRecord:
        """The record as people should see it: a "running" job that is not alive died."""
        if record.state is not JobState.RUNNING or self.is_alive(record):
            return record
        return record.update(state=JobState.FAILED, error=record.error or DIED)

    def running(self, project: str, kind: JobKind | None = None) -> JobRecord | None:
        """The job of the project that runs now (of ``kind``, if given)."""
        holder = self.medium.holder(project)
        record = self._record(holder) if holder else None
        if record is None or not self.is_alive(record):
            return None
        return record if kind is None or record.kind is kind else None

    def train_wait(self, project: str, last_train: JobRecord | None) -> float | None:
        """Seconds until the queued training job is due (0: now); None: none is queued."""
        queued = self.medium.peek_pending(project, JobKind.TRAIN)
        if queued is None:
            return None
        due = due_at(queued, last_train, self.settings.train_min_interval_s,
                     self.settings.train_interval_factor)
        return max(0.0, due - time.time())

    def work_left(self, project: str) -> float | None:
        """After a runner released the lock: seconds until it should look again (0: now),
        None when nothing is queued. Looked at *after* releasing, so no job is stranded."""
        wait = self.train_wait(project, last_train_job(self.jobs.records(project)))
        if wait is None and self.medium.peek_pending(project, JobKind.RESCORE) is not None:
            return 0.0
        return wait

    def _record(self, job_id: str) -> JobRecord | None:
        try:  # a record may have been pruned meanwhile
            return self.jobs.get(job_id)
        except NotFound:
            return None


class Turn:
    """One runner's turn at a project while it holds the run lock."""

    def __init__(self, scheduler: Scheduler, project: str, lock: RunLock) -> None:
        self.scheduler, self.project, self.lock = scheduler, project, lock
        self.last_train = last_train_job(scheduler.jobs.records(project))

    def train_wait(self) -> float | None:
        return self.scheduler.train_wait(self.project, self.last_train)

    def preempted(self) -> bool:
        """For a running re-scoring: is a training job due?"""
        return self.train_wait() == 0.0

    def claim(self) -> JobRecord | None:
        """The next job: the training job once due, else a queued re-scoring."""
        kind = JobKind.TRAIN if self.train_wait() == 0.0 else JobKind.RESCORE
        record = self.scheduler.medium.claim_pending(self.project, kind)
        if record is not None:
            self.lock.hold_for(record.job_id)
        return record

    def ran(self, record: JobRecord) -> None:
        """Note a job that ended: a training job restarts the cadence."""
        if record.kind is JobKind.TRAIN:
            self.last_train = record
