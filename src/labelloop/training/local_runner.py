"""The background runner process of local mode: ``python -m labelloop.training.local_runner P``.

It holds the project's run lock and runs queued jobs, in the order the scheduling policy
says (:class:`labelloop.training.policy.Turn`), until none is left.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from labelloop.errors import LabelloopError
from labelloop.logs import configure_logging
from labelloop.settings import SETTINGS_ENV, Settings
from labelloop.store.factory import open_stores
from labelloop.store.project_ids import project_key
from labelloop.training.job import TrainingContext, run_job
from labelloop.training.local_queue import FileMedium
from labelloop.training.policy import Scheduler, Turn

log = logging.getLogger("labelloop.training")
POLL_S = 0.05


def run_pending(ctx: TrainingContext, scheduler: Scheduler, project: str) -> int:
    """Run the project's queued jobs while holding its lock; returns how many ran.

    After the last job the runner lingers (``runner_linger_s``), still holding the lock,
    so the next annotation trains at once, without a new process importing the model.
    It stops lingering as soon as the server that started it is gone, but it always waits
    for a queued training job to fall due: that job was acknowledged.
    """
    parent = os.getppid()
    ran = 0
    while True:
        lock = scheduler.medium.run_lock(project)
        if not lock.try_acquire():
            return ran  # another runner holds the project and will see what is queued
        try:
            ran += _turn(ctx, Turn(scheduler, project, lock), parent)
        finally:
            lock.release()
        if scheduler.work_left(project) is None:
            return ran  # looked after releasing, so no wake-up is lost


def _turn(ctx: TrainingContext, turn: Turn, parent: int) -> int:
    ctx = TrainingContext(ctx.settings, ctx.stores, ctx.scheduler, preempt=turn.preempted)
    ran = 0
    idle_since = time.monotonic()
    while True:
        record = turn.claim()
        if record is not None:
            try:
                turn.ran(run_job(ctx, record))
            except LabelloopError as exc:  # e.g. the job record could not be saved
                log.error("job %s: %s", record.job_id, exc.message)
            turn.lock.hold_for("")
            ran += 1
            idle_since = time.monotonic()
        elif turn.scheduler.medium.turn_asked(turn.project):
            return ran  # `labelloop train` waits for the project: let it go first
        elif turn.train_wait() is None and (
                time.monotonic() - idle_since >= ctx.settings.runner_linger_s
                or os.getppid() != parent):
            return ran
        else:
            time.sleep(POLL_S)


def main(argv: list[str]) -> int:
    settings = Settings.from_json(os.environ[SETTINGS_ENV])
    configure_logging(settings.log_level, settings.log_format)
    if settings.runner_nice > 0:
        os.nice(settings.runner_nice)  # background work: serving comes first
    project = project_key(argv[0])
    stores = open_stores(settings, for_jobs=True)
    scheduler = Scheduler(settings, FileMedium(settings), stores.jobs)
    ran = run_pending(TrainingContext(settings, stores, scheduler), scheduler, project)
    log.info("runner for %s ran %d job(s)", project, ran)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
