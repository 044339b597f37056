"""The background runner process of local mode: ``python -m labelloop.training.local_runner P``.

It holds the project's runner lock and runs queued jobs until none is left: a training
job once it is due (:mod:`labelloop.training.cadence`), a re-scoring job while none is.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from labelloop.errors import LabelloopError
from labelloop.logs import configure_logging
from labelloop.settings import SETTINGS_ENV, Settings
from labelloop.store.bundle import open_stores
from labelloop.store.jobs import JOBS_DIR, JobRecord
from labelloop.store.project_ids import project_key
from labelloop.training.cadence import due_at, last_train_job
from labelloop.training.job import TrainingContext, run_job
from labelloop.training.local_queue import (
    LOCK,
    LocalQueue,
    claim_pending,
    has_pending,
    peek_pending,
    try_lock,
)

log = logging.getLogger("labelloop.training")
POLL_S = 0.05


class _Runner:
    """Picks the next job: a due training job first, else a queued re-scoring."""

    def __init__(self, ctx: TrainingContext, project: str, folder: Path) -> None:
        # A re-scoring job yields as soon as a training job falls due.
        self.ctx = replace(ctx, preempt=lambda: self.train_wait() == 0.0)
        self.project, self.folder = project, folder
        self.last_train = last_train_job(ctx.stores.jobs.records(project))

    def train_wait(self) -> float | None:
        """Seconds until the queued training job is due (0: now); None: none queued."""
        queued = peek_pending(self.folder)
        if queued is None:
            return None
        settings = self.ctx.settings
        due = due_at(queued, self.last_train, settings.train_min_interval_s,
                     settings.train_interval_factor)
        return max(0.0, due - time.time())

    def next_job(self) -> JobRecord | None:
        if self.train_wait() == 0.0:
            return claim_pending(self.folder)
        return claim_pending(self.folder, "rescore")

    def run(self, record: JobRecord) -> None:
        try:
            done = run_job(self.ctx, record)
        except LabelloopError as exc:  # e.g. the job record could not be saved
            log.error("job %s: %s", record.job_id, exc.message)
            return
        if done.kind == "train":
            self.last_train = done


def run_pending(ctx: TrainingContext, project: str) -> int:
    """Run the project's queued jobs while holding its lock; returns how many ran.

    After the last job the runner lingers (``runner_linger_s``), still holding the lock,
    so the next annotation trains at once, without a new process importing the model.
    It stops lingering as soon as the server that started it is gone, but it always waits
    for a queued training job to fall due: that job was acknowledged.
    """
    folder = ctx.settings.model_dir / project / JOBS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    parent = os.getppid()
    ran = 0
    while True:
        lock = try_lock(folder / LOCK)
        if lock is None:
            return ran  # another runner holds the project and will see what is pending
        try:
            runner = _Runner(ctx, project, folder)
            idle_since = time.monotonic()
            while True:
                record = runner.next_job()
                if record is not None:
                    runner.run(record)
                    ran += 1
                    idle_since = time.monotonic()
                elif runner.train_wait() is None and (
                        time.monotonic() - idle_since >= ctx.settings.runner_linger_s
                        or os.getppid() != parent):
                    break
                else:
                    time.sleep(POLL_S)
        finally:
            lock.close()
        if not has_pending(folder):
            return ran  # checked after releasing, so no wake-up is lost


def main(argv: list[str]) -> int:
    settings = Settings.from_json(os.environ[SETTINGS_ENV])
    configure_logging(settings.log_level, settings.log_format)
    project = project_key(argv[0])
    stores = open_stores(settings)
    ctx = TrainingContext(settings, stores, LocalQueue(settings, stores.jobs))
    ran = run_pending(ctx, project)
    log.info("runner for %s ran %d job(s)", project, ran)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
