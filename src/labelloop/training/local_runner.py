"""The background runner process of local mode: ``python -m labelloop.training.local_runner P``.

It holds the project's runner lock and runs queued jobs until none is left.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from labelloop.errors import LabelloopError
from labelloop.settings import SETTINGS_ENV, Settings, configure_logging
from labelloop.store.bundle import open_stores
from labelloop.store.jobs import JOBS_DIR
from labelloop.store.project_ids import project_key
from labelloop.training.job import TrainingContext, run_job
from labelloop.training.local_queue import LOCK, PENDING, claim_pending, try_lock

log = logging.getLogger("labelloop.training")


def run_pending(ctx: TrainingContext, project: str) -> int:
    """Run the project's queued jobs while holding its lock; returns how many ran.

    After the last job the runner lingers (``runner_linger_s``), still holding the lock,
    so the next annotation trains at once, without a new process importing the model.
    It stops lingering as soon as the server that started it is gone.
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
            idle_since = time.monotonic()
            while True:
                record = claim_pending(folder)
                if record is not None:
                    try:
                        run_job(ctx, record)
                    except LabelloopError as exc:  # e.g. the job record could not be saved
                        log.error("job %s: %s", record.job_id, exc.message)
                    ran += 1
                    idle_since = time.monotonic()
                elif (time.monotonic() - idle_since >= ctx.settings.runner_linger_s
                      or os.getppid() != parent):
                    break
                else:
                    time.sleep(0.05)
        finally:
            lock.close()
        if not (folder / PENDING).exists():
            return ran  # checked after releasing, so no wake-up is lost


def main(argv: list[str]) -> int:
    settings = Settings.from_json(os.environ[SETTINGS_ENV])
    configure_logging(settings.log_level)
    project = project_key(argv[0])
    ran = run_pending(TrainingContext(settings, open_stores(settings)), project)
    log.info("runner for %s ran %d job(s)", project, ran)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
