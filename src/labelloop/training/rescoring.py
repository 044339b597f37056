"""The re-scoring job: the served version predicts the project's unlabeled tasks, and the
predictions go into Label Studio, so its "Uncertainty sampling" serves the task the model
is least sure of (and its Data Manager shows fresh predictions and scores).

1. Bring the pool of unlabeled tasks up to date (:mod:`labelloop.training.task_pool`):
   listed from Label Studio once, then only new tasks; annotated ones drop out.
2. Predict the candidates in this process (:mod:`labelloop.training.pool_scores`): the
   last version's least certain and the tasks listed since (``rescore_candidates``), or
   the whole pool when there are none.
3. Store their least certain first and, with active learning on, switch the project to this
   version at once (:mod:`labelloop.training.prediction_upload`); then predict the whole
   pool (the next version's candidates) and store the rest, while this version still
   serves; then clean up old versions' predictions.

A newer version (a rollback, or a training job that falls due) stops it after the first
batch; a later job of the same version goes on where it stopped.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from typing import IO

from labelloop.compat.loader import load_backend_class
from labelloop.errors import LabelloopError, TrainingError
from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.sdk.model import LabelStudioModel
from labelloop.settings import Settings
from labelloop.store.bundle import Stores
from labelloop.store.jobs import JobKind, JobRecord, JobState, Outcome
from labelloop.store.model_context import project_version_name
from labelloop.store.project_ids import is_label_studio_project
from labelloop.store.projects import ProjectInfo, label_studio_of
from labelloop.training.audit_upload import publish_suspects
from labelloop.training.model_opener import ModelOpener
from labelloop.training.pool_scores import score_pool
from labelloop.training.prediction_upload import Target, Upload, clean_old_versions
from labelloop.training.task_pool import POOL_DIR, Candidates, TaskPool

log = logging.getLogger("labelloop.training")
Progress = Callable[[float, str], None]


class Cancelled(Exception):
    """The served version changed, or a training job fell due: stop, store nothing more."""

    stored = 0  # what the job had stored by then


NO_LABEL_STUDIO = ("no Label Studio to re-score in (connect the project in Label Studio, "
                   "or set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY)")
NOTHING_SERVES = "no version serves yet"


def why_not_rescored(settings: Settings, stores: Stores, project: str) -> str | None:
    """Why the project's unlabeled tasks in Label Studio are not re-scored now; None when
    they should be. The one rule that the webhook, a training job and the re-scoring job
    itself follow."""
    if not settings.rescore:
        return "re-scoring is off (LABELLOOP_RESCORE)"
    if not is_label_studio_project(project):
        return f"project {project} is not a Label Studio project"
    try:
        info = stores.registry.get(project)
    except LabelloopError as exc:
        return exc.message
    if info is None or label_studio_of(settings, info) is None:
        return NO_LABEL_STUDIO
    if stores.versions.current_version(project) is None:
        return NOTHING_SERVES
    return None


def run_rescore(settings: Settings, stores: Stores, record: JobRecord,
                preempt: Callable[[], bool], progress: Progress) -> int:
    """Re-score the project for ``record.version`` (the version that served when the job
    started); returns how many predictions this job stored."""
    project, version = record.project, record.version
    why_not = why_not_rescored(settings, stores, project)
    if version is None or why_not == NOTHING_SERVES:
        return 0
    if why_not is not None:
        raise TrainingError(f"project {project}: {why_not}")
    info = stores.registry.get(project)
    address = label_studio_of(settings, info)
    assert info is not None and address is not None  # why_not_rescored said so
    model_cls = load_backend_class(settings.backend_dir, settings.model_class)
    target = Target(project, *address, version,
                    project_version_name(stores, model_cls, project, version))

    def served() -> None:
        if stores.versions.current_version(project) != version:
            raise Cancelled(f"version {version} no longer serves")

    def check() -> None:
        served()
        if preempt():
            raise Cancelled("a training job is due")

    with LabelStudioClient(target.url, target.key) as ls:
        pool = TaskPool(settings.model_dir / project / POOL_DIR, settings.pool_resync_hours * 3600)
        progress(0.0, "listing new unlabeled tasks")
        pool.sync(ls, project, settings.rescore_page_size, check)
        opener = ModelOpener(settings, stores, model_cls)
        model = opener.open_model(project, version, opener.label_config(info.label_config))
        return _score_and_store(ls, target, pool, model, settings, stores, info, served,
                                check, progress)


def _score_and_store(ls: LabelStudioClient, target: Target, pool: TaskPool,
                     model: LabelStudioModel,
                     settings: Settings, stores: Stores, info: ProjectInfo,
                     served: Callable[[], None], check: Callable[[], None],
                     progress: Progress) -> int:
    labeled = stores.training_set.task_ids(target.project)
    switch = settings.active_learning or info.active_learning
    candidates = pool.candidates() if settings.rescore_candidates else None
    uploads: list[Upload] = []
    try:
        _store(ls, target, pool, model, settings, labeled, switch, candidates, check, served,
               progress, uploads)
        publish_suspects(settings, stores, target.project)  # the version is stored whole
        deleted = clean_old_versions(ls, target, target.model_version.rsplit("-", 1)[0],
                                     settings.keep_prediction_versions,
                                     settings.prediction_cleanup_budget_s,
                                     settings.rescore_share, check)
    except Cancelled as exc:
        exc.stored = sum(u.stored for u in uploads)  # what the job's record says it stored
        raise
    if deleted:
        log.info("project %s: deleted the predictions of %s", target.project,
                 ", ".join(deleted))
    return sum(u.stored for u in uploads)


def _store(ls: LabelStudioClient, target: Target, pool: TaskPool, model: LabelStudioModel,
           settings: Settings, labeled: set[int], switch: bool, candidates: Candidates | None,
           check: Callable[[], None], served: Callable[[], None], progress: Progress,
           uploads: list[Upload]) -> None:
    """Score and store: the candidates' least certain first when there are candidates,
    then the whole pool. ``uploads`` gets each upload as it starts (what was stored)."""
    took = None
    if candidates is not None and candidates.narrower:
        # The last version's least certain hold almost all of this one's (bench/
        # al_freshness.py: 99.7 to 100 % of the 1,000 least certain were among the last
        # version's 20,000): score them first, switch, then score the whole pool.
        with tempfile.TemporaryFile("w+b") as spool:
            upload, scored_s = _scored(model, pool, labeled, settings, spool, target, ls,
                                       progress, candidates.__contains__)
            uploads.append(upload)
            took = _first(upload, served, switch, "candidate ", scored_s)
    with tempfile.TemporaryFile("w+b") as spool:
        upload, scored_s = _scored(model, pool, labeled, settings, spool, target, ls, progress)
        uploads.append(upload)
        if took is None:
            took = _first(upload, served, switch, "", scored_s)
        progress(0.3, f"stored the {upload.before + upload.stored} least certain; "
                      f"{upload.total} in all")
        upload.rest(took, check, lambda n: progress(
            0.3 + 0.7 * n / max(upload.total, 1), f"stored {n} of {upload.total}"))


def _scored(model: LabelStudioModel, pool: TaskPool, labeled: set[int], settings: Settings,
            spool: IO[bytes], target: Target, ls: LabelStudioClient, progress: Progress,
            keep: Callable[[int], bool] | None = None) -> tuple[Upload, float]:
    """Score the pool (the tasks ``keep`` accepts); the whole pool's least certain become
    the next version's candidates. Returns the upload and the seconds scoring took."""
    began = time.monotonic()
    scores = score_pool(model, pool, labeled, settings.predict_chunk, spool,
                        lambda n: progress(0.2, f"scored {n} unlabeled tasks"), keep)
    if keep is None:
        pool.note_candidates([scores.task_ids[i] for i in
                              scores.order()[:settings.rescore_candidates]],
                             len(scores.task_ids))
    return Upload(ls, target, pool, scores, spool, settings), time.monotonic() - began


def _first(upload: Upload, served: Callable[[], None], switch: bool, which: str,
           scored_s: float) -> float:
    """Store the least certain and switch, unless a newer version serves (whatever else
    is due: this is what keeps the order fresh). Returns how long the store took."""
    served()
    took = upload.first(switch)
    # The time from promotion to here is how stale Label Studio's ordering gets.
    log.info("project %s: %s scored %d %stasks in %.1f s, stored the %d least certain in "
             "%.1f s", upload.target.project, upload.target.model_version,
             len(upload.scores.task_ids), which, scored_s, upload.stored, took)
    return took


def rescore_job(settings: Settings, stores: Stores, record: JobRecord,
                preempt: Callable[[], bool], progress: Callable[[float, str], None]
                ) -> JobRecord:
    """Run a re-scoring job to its end: finished (``rescored``), cancelled, or failed."""
    version = stores.versions.current_version(record.project)
    record = record.update(version=version)
    try:
        stored = run_rescore(settings, stores, record, preempt, progress)
    except Cancelled as exc:
        return record.ended_as(JobState.FINISHED, Outcome.CANCELLED, error=str(exc),
                               metrics={"tasks": exc.stored})
    except LabelloopError as exc:  # Label Studio, the stores, or the model's constructor
        return record.ended_as(JobState.FAILED, Outcome.FAILED, error=exc.message)
    except Exception as exc:  # the model's own code (predict) failed
        log.exception("re-scoring project %s failed", record.project)
        return record.ended_as(JobState.FAILED, Outcome.FAILED,
                               error=f"{type(exc).__name__}: {exc}")
    return record.ended_as(JobState.FINISHED, Outcome.RESCORED, metrics={"tasks": stored})


def rescored(records: list[JobRecord], version: str | None) -> bool:
    """Whether a re-scoring job finished for ``version``."""
    return any(r.kind is JobKind.RESCORE and r.outcome is Outcome.RESCORED
               and r.version == version for r in records)
