"""The one scheduling policy (``labelloop.training.policy``) over both media: files and
flock in local mode, a real redis-server in Redis mode. No runner or worker runs here:
each test holds the project's run lock itself, as a runner would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labelloop.settings import Settings
from labelloop.store.factory import open_stores
from labelloop.store.jobs import JobKind, JobRecord, JobSource, JobState
from labelloop.training.policy import RunLock, Scheduler, Turn
from labelloop.training.scheduling import open_scheduler
from support.servers import RedisServer


@pytest.fixture(params=["local", "redis"])
def scheduler(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scheduler]:
    redis = RedisServer(tmp_path / "redis") if request.param == "redis" else None
    settings = Settings(backend_dir=tmp_path, model_dir=tmp_path / "models",
                        redis_url=redis.url if redis else None,
                        train_min_interval_s=60.0, train_interval_factor=0.0)
    yield open_scheduler(settings, open_stores(settings).jobs)
    if redis:
        redis.stop()


@pytest.fixture
def held(scheduler: Scheduler) -> Iterator[RunLock]:
    """Project "p"'s run lock, held as a runner holds it (so no runner is started)."""
    lock = scheduler.medium.run_lock("p")
    assert lock.try_acquire()
    yield lock
    lock.release()


def test_a_burst_of_events_queues_one_job(scheduler: Scheduler, held: RunLock) -> None:
    first = scheduler.schedule("p", JobSource.WEBHOOKS)
    assert all(scheduler.schedule("p", JobSource.WEBHOOKS) == first for _ in range(5))
    assert scheduler.pending("p") == first and first.state is JobState.QUEUED
    assert scheduler.jobs.get(first.job_id) == first


def test_rescoring_waits_beside_a_queued_training_job_which_goes_first_when_due(
        scheduler: Scheduler, held: RunLock) -> None:
    """Under a stream of annotations a training job is always queued: a re-scoring that
    joined it would never run. It waits beside it, and yields to it once it is due."""
    last = JobRecord("b" * 32, "p", JobState.FINISHED, started=time.time() - 1,
                     ended=time.time())
    scheduler.jobs.put(last)
    train = scheduler.schedule("p", JobSource.WEBHOOKS)
    rescore = scheduler.schedule("p", JobSource.WEBHOOKS, JobKind.RESCORE)
    assert rescore.kind is JobKind.RESCORE and rescore.job_id != train.job_id
    turn = Turn(scheduler, "p", held)
    assert turn.claim() == rescore  # the training job is not due for a minute
    assert not turn.preempted()
    scheduler.schedule("p", JobSource.LABEL_STUDIO)  # now it is
    assert turn.preempted() and turn.claim() == train.update(source=JobSource.LABEL_STUDIO)


def test_start_training_upgrades_the_queued_job(scheduler: Scheduler, held: RunLock) -> None:
    queued = scheduler.schedule("p", JobSource.WEBHOOKS)
    upgraded = scheduler.schedule("p", JobSource.LABEL_STUDIO)
    assert upgraded.job_id == queued.job_id and upgraded.source is JobSource.LABEL_STUDIO
    assert scheduler.pending("p") == upgraded


def test_start_training_after_a_claim_queues_a_new_job(scheduler: Scheduler,
                                                       held: RunLock) -> None:
    queued = scheduler.schedule("p", JobSource.WEBHOOKS)
    assert scheduler.medium.claim_pending("p", JobKind.TRAIN) == queued
    fresh = scheduler.schedule("p", JobSource.LABEL_STUDIO)
    assert fresh.job_id != queued.job_id and fresh.source is JobSource.LABEL_STUDIO


def test_a_claimed_job_not_yet_started_still_counts_as_waiting(scheduler: Scheduler,
                                                               held: RunLock) -> None:
    """Between a runner taking the queued job and marking it running, ``/is_training``
    must not see an idle project (a client waiting for the job would stop waiting)."""
    record = scheduler.schedule("p", JobSource.WEBHOOKS)  # no job ran yet: due at once
    claimed = Turn(scheduler, "p", held).claim()
    assert claimed == record
    assert scheduler.medium.peek_pending("p", JobKind.TRAIN) is None
    assert scheduler.pending("p") == record
    running = record.update(state=JobState.RUNNING, started=time.time())
    scheduler.jobs.put(running)
    assert scheduler.pending("p") is None and scheduler.is_alive(running)
    assert scheduler.running("p", JobKind.TRAIN) == running


def test_a_job_whose_runner_let_go_is_dead(scheduler: Scheduler) -> None:
    lock = scheduler.medium.run_lock("p")
    assert lock.try_acquire()
    record = JobRecord("a" * 32, "p", JobState.RUNNING, started=time.time())
    scheduler.jobs.put(record)
    lock.hold_for(record.job_id)
    assert scheduler.is_alive(record) and scheduler.reconcile(record) == record
    lock.hold_for("")  # between jobs: the lock names no job
    assert not scheduler.is_alive(record)
    lock.release()
    assert scheduler.medium.holder("p") is None
    dead = scheduler.reconcile(record)
    assert dead.state is JobState.FAILED and "died" in (dead.error or "")
    assert scheduler.pending("p") is None and scheduler.running("p") is None


def test_a_second_runner_cannot_take_a_held_project(scheduler: Scheduler,
                                                    held: RunLock) -> None:
    assert not scheduler.medium.run_lock("p").try_acquire()
    assert scheduler.medium.holder("p") == ""


def test_the_cadence_holds_webhook_jobs_not_asked_ones(scheduler: Scheduler,
                                                      held: RunLock) -> None:
    last = JobRecord("b" * 32, "p", JobState.FINISHED, started=time.time() - 1,
                     ended=time.time())
    scheduler.schedule("p", JobSource.WEBHOOKS)
    wait = scheduler.train_wait("p", last)
    assert wait is not None and 55 < wait <= 60
    assert scheduler.schedule("p", JobSource.TRAIN_REQUEST).source is JobSource.WEBHOOKS
    scheduler.schedule("p", JobSource.LABEL_STUDIO)
    assert scheduler.train_wait("p", last) == 0.0


def test_work_left_after_a_runner_lets_go(scheduler: Scheduler, held: RunLock) -> None:
    assert scheduler.work_left("p") is None
    scheduler.schedule("p", JobSource.WEBHOOKS, JobKind.RESCORE)
    assert scheduler.work_left("p") == 0.0
