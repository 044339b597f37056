"""One training job: snapshot the training set into a new version folder, train and judge
the model (:mod:`labelloop.training.pipeline`), write ``job_result.json`` atomically, and
only then make the version current (when it is not worse than the one served). Then
prune old versions (:mod:`labelloop.store.retention`).

``fit`` runs in a child process: if it crashes or is killed, the parent still records
the failure, and the previous version keeps serving.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from labelloop.compat.loader import load_backend_class
from labelloop.errors import LabelloopError, LabelStudioError, NotFound, TrainingError
from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.settings import Settings
from labelloop.store.atomic import write_json_atomic
from labelloop.store.bundle import Stores
from labelloop.store.jobs import JobKind, JobRecord, JobSource, JobState, Outcome
from labelloop.store.project_ids import is_label_studio_project
from labelloop.store.projects import ProjectInfo, label_studio_of
from labelloop.store.retention import RetentionPolicy, prune
from labelloop.store.stats import counted_outcome
from labelloop.store.versions import VersionInfo, VersionStatus
from labelloop.training.audit_upload import publish_suspects
from labelloop.training.fit_event import trigger
from labelloop.training.model_opener import ModelOpener
from labelloop.training.pipeline import Pipeline
from labelloop.training.policy import Scheduler
from labelloop.training.rescoring import rescore_job, rescored, why_not_rescored

log = logging.getLogger("labelloop.training")
PROGRESS_EVERY_S = 0.5
PUBLISH_ERROR = ".publish_error"  # the fit child's word on why the version was not stored


WAIT_POLL_S = 0.2


def _never() -> bool:
    return False


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class TrainingContext:
    settings: Settings
    stores: Stores
    scheduler: Scheduler | None = None  # where a job queues its follow-ups (re-scoring)
    preempt: Callable[[], bool] = _never  # is a training job due? (re-scoring then yields)


def run_job(ctx: TrainingContext, record: JobRecord) -> JobRecord:
    """Run ``record``'s job to the end; returns the finished or failed record.

    The caller holds the project's run lock, so no other job of the project is running.
    """
    job = _Job(record.update(state=JobState.RUNNING, started=time.time()))
    ctx.stores.jobs.put(job.record)
    log.info("%s job %s of project %s started (%s)", record.kind, record.job_id,
             record.project, record.source, extra={"job": {
                 "event": "started", "kind": record.kind, "job_id": record.job_id,
                 "project": record.project, "source": record.source}})
    if record.kind is JobKind.RESCORE:
        job.record = rescore_job(ctx.settings, ctx.stores, job.record, ctx.preempt,
                                 _ProgressWriter(ctx, job.record))
        return _end(ctx, job.record)
    try:
        _train(ctx, job)
    except LabelloopError as exc:
        job.fail(exc.message)
    except OSError as exc:  # disk full, unwritable model dir...: fail cleanly, keep serving
        job.fail(f"cannot write the new version: {exc}")
        with contextlib.suppress(OSError, LabelloopError):
            if job.record.version:
                fail_version(ctx.stores, record.project, job.record.version, record.job_id,
                             str(job.record.error))
    # Retention before the record says the job ended: whoever sees it ended (/is_training,
    # a test's wait) sees the versions retention leaves. This job's version is kept: its
    # job still runs.
    _prune_quietly(ctx, record.project)
    _end(ctx, job.record)
    # With re-scoring, the suspects follow once the version is stored whole (a stream of
    # versions would otherwise cost Label Studio a delete and an import each, under its
    # write lock); without it, now.
    if job.record.outcome is Outcome.PROMOTED and why_not_rescored(
            ctx.settings, ctx.stores, record.project) is not None:
        publish_suspects(ctx.settings, ctx.stores, record.project)
    _queue_rescoring(ctx, record.project)
    return job.record


def run_exclusively(ctx: TrainingContext, record: JobRecord,
                    waiting: Callable[[], None] = _nothing) -> JobRecord:
    """Run ``record`` now, in this process, under the project's run lock as a runner would
    (``labelloop train``): wait while another job of the project runs (a runner that only
    lingers lets go), then wake a runner for whatever was queued meanwhile."""
    assert ctx.scheduler is not None
    medium = ctx.scheduler.medium
    lock = medium.run_lock(record.project)
    medium.ask_turn(record.project, True)
    try:
        while not lock.try_acquire():
            waiting()
            time.sleep(WAIT_POLL_S)
    finally:
        medium.ask_turn(record.project, False)
    try:
        lock.hold_for(record.job_id)
        return run_job(ctx, record)
    finally:
        lock.release()
        if ctx.scheduler.work_left(record.project) is not None:
            medium.wake(record.project, urgent=True)


def _end(ctx: TrainingContext, record: JobRecord) -> JobRecord:
    ctx.stores.jobs.put(record)
    _log_end(record)
    record_stats(ctx.stores, record)
    return record


def _queue_rescoring(ctx: TrainingContext, project: str) -> None:
    """After training: re-score Label Studio's unlabeled tasks if the served version has
    not been (it is new, or its re-scoring was cancelled)."""
    if ctx.scheduler is None:
        return
    try:
        if why_not_rescored(ctx.settings, ctx.stores, project) is not None:
            return
        version = ctx.stores.versions.current_version(project)
        if not rescored(ctx.stores.jobs.records(project), version):
            ctx.scheduler.schedule(project, JobSource.WEBHOOKS, kind=JobKind.RESCORE)
    except (LabelloopError, OSError) as exc:
        log.warning("could not queue re-scoring of project %s: %s", project, exc)


def record_stats(stores: Stores, record: JobRecord) -> None:
    """Count the finished job for /metrics (best effort: never fails the job)."""
    took = record.seconds()
    try:
        stores.stats.record(record.project, record.kind, counted_outcome(record), took)
    except (LabelloopError, OSError) as exc:
        log.warning("could not count job %s: %s", record.job_id, exc)


@dataclass
class _Job:
    """The record of the job as it goes: the version is known once its folder exists."""

    record: JobRecord

    def fail(self, message: str) -> None:
        self.record = self.record.ended_as(JobState.FAILED, Outcome.FAILED, error=message)


def _train(ctx: TrainingContext, job: _Job) -> None:
    record = job.record
    sweep_abandoned(ctx.stores, record.project)
    info = ctx.stores.registry.get(record.project)
    if info is None:
        raise TrainingError(f"project {record.project} has no label config yet: "
                            "connect it in Label Studio (/setup) first")
    tasks, source = _training_tasks(ctx, record, info)
    if not tasks:
        raise TrainingError(f"project {record.project} has no annotations to train on")
    # Imported here, before the fork: the fit child inherits it instead of paying the
    # import (sklearn...) each time, and a broken script fails before any folder exists.
    load_backend_class(ctx.settings.backend_dir, ctx.settings.model_class)
    version, workdir = ctx.stores.versions.create(record.project)
    job.record = record = record.update(version=version, source=source)
    ctx.stores.jobs.put(record)
    result = _fit_in_child(ctx, record, info, tasks, workdir)
    promoted = VersionStatus.of(result) is VersionStatus.OK
    job.record = record.ended_as(
        JobState.FINISHED, Outcome.PROMOTED if promoted else Outcome.REJECTED,
        metrics=_summary(result), error=None if promoted else result["promotion"]["reason"])


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    metrics = result.get("metrics") or {}
    promotion = result.get("promotion") or {}
    return {"primary": metrics.get("primary"), "score": metrics.get("score"),
            "n_train": result.get("n_train"), "n_eval": result.get("n_eval"),
            "current_score": promotion.get("current")}


def _log_end(record: JobRecord) -> None:
    took = record.seconds()
    metrics = record.metrics or {}
    detail = (f"{metrics.get('tasks', 0)} tasks stored" if record.kind is JobKind.RESCORE else
              f"{metrics.get('primary')}={metrics.get('score')} (n_train="
              f"{metrics.get('n_train')}, n_eval={metrics.get('n_eval')})")
    log.info("%s job %s of project %s ended: %s, version %s, %.2f s, %s%s", record.kind,
             record.job_id, record.project, record.outcome, record.version, took, detail,
             f": {record.error}" if record.error else "", extra={"job": {
                 "event": "ended", "kind": record.kind, "job_id": record.job_id,
                 "project": record.project, "outcome": record.outcome,
                 "version": record.version, "seconds": round(took, 3), "metrics": metrics,
                 "error": record.error}})


def _prune_quietly(ctx: TrainingContext, project: str) -> None:
    """Retention after each job; a failure here never fails the job."""
    try:
        done = prune(ctx.stores.versions, ctx.stores.jobs, project,
                     RetentionPolicy.from_settings(ctx.settings))
    except (LabelloopError, OSError) as exc:
        log.warning("pruning project %s failed: %s", project, exc)
        return
    if done.removed:
        log.info("pruned versions %s of project %s", ", ".join(done.removed), project)


def _training_tasks(ctx: TrainingContext, record: JobRecord,
                    info: ProjectInfo) -> tuple[list[dict[str, Any]], JobSource]:
    """Label Studio's own export when asked and reachable; else what webhooks delivered."""
    address = label_studio_of(ctx.settings, info)
    if (record.source is JobSource.LABEL_STUDIO and address
            and is_label_studio_project(record.project)):
        try:
            with LabelStudioClient(*address) as ls:
                tasks = ls.annotated_tasks(record.project)
        except LabelStudioError as exc:
            log.warning("falling back to webhook data: %s", exc.message)
        else:
            ctx.stores.training_set.replace(record.project, tasks)
            return tasks, JobSource.LABEL_STUDIO
    return ctx.stores.training_set.snapshot(record.project), JobSource.WEBHOOKS


def _fit_in_child(ctx: TrainingContext, record: JobRecord, info: ProjectInfo,
                  tasks: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    assert record.version is not None
    write_json_atomic(workdir / "train_data.json", tasks, pretty=True)
    write_json_atomic(workdir / "train_data_info.json", {"count": len(tasks)})
    started = time.time()
    child = multiprocessing.get_context("fork").Process(
        target=_fit_and_finish, args=(ctx, record, info, tasks, workdir, started, os.getpid()),
        name=f"labelloop-fit-{record.project}-{record.version}")
    child.start()
    child.join()
    result = ctx.stores.versions.get(record.project, record.version)
    if result.status in (VersionStatus.OK, VersionStatus.REJECTED) and result.job_result:
        return result.job_result
    if result.job_result is None:  # the child died before it could record anything
        reason = f"the training process died (exit code {child.exitcode})"
        if child.exitcode is not None and child.exitcode < 0:
            reason = f"the training process was killed by signal {-child.exitcode}"
        with contextlib.suppress(OSError):
            reason = (workdir / PUBLISH_ERROR).read_text()
        fail_version(ctx.stores, record.project, record.version, record.job_id, reason, started)
        raise TrainingError(reason)
    raise TrainingError(str(result.job_result.get("error", "training failed")))


def sweep_abandoned(stores: Stores, project: str) -> None:
    """Mark failed the version folders whose job died without a word (a SIGKILLed runner).

    Safe only under the project's run lock: then no job of the project is still writing.
    """
    for info in stores.versions.history(project):
        if info.status is VersionStatus.INCOMPLETE:
            fail_version(stores, project, info.version, None,
                         "abandoned: the training process died")
            log.warning("marked abandoned version %s of project %s failed", info.version,
                        project)


def fail_version(stores: Stores, project: str, version: str, job_id: str | None,
                 reason: str, started: float | None = None) -> None:
    """Mark a version folder failed, unless it already holds a result."""
    info = stores.versions.get(project, version)
    if info.job_result is None:
        stores.versions.finish(project, version, _job_result(
            project, version, info.path, job_id, started or time.time(), error=reason))


def die_with_parent(parent: int) -> None:
    """If the supervising process dies, the fit dies too: an orphan must not promote."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the supervisor records failures anyway
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class _ProgressWriter:
    """Progress reported from ``fit`` goes into the job record, at most twice a second."""

    def __init__(self, ctx: TrainingContext, record: JobRecord) -> None:
        self.ctx, self.record, self.last = ctx, record, 0.0

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S and fraction < 1.0:
            return
        self.last = now
        progress = {"fraction": round(fraction, 4), "message": message[:200], "at": time.time()}
        with contextlib.suppress(LabelloopError, OSError):  # progress is best effort
            self.ctx.stores.jobs.put(self.record.update(progress=progress))


def _fit_and_finish(ctx: TrainingContext, record: JobRecord, info: ProjectInfo,
                    tasks: list[dict[str, Any]], workdir: Path, started: float,
                    parent: int) -> None:
    assert record.version is not None
    die_with_parent(parent)
    try:
        model_cls = load_backend_class(ctx.settings.backend_dir, ctx.settings.model_class)
        opener = ModelOpener(ctx.settings, ctx.stores, model_cls)
        event, data = trigger(record, info, tasks)
        outcome = Pipeline(opener, record.project, record.version, info,
                           _current(ctx, record.project), _ProgressWriter(ctx, record)).run(
            tasks, workdir, event=event, data=data, job_id=record.job_id)
        orjson.dumps(outcome.train_output)  # must be JSON-serialisable before it is recorded
        result = _job_result(record.project, record.version, workdir, record.job_id, started,
                             train_output=outcome.train_output, status=outcome.status)
        result.update(metrics=outcome.metrics, n_train=outcome.n_train, n_eval=outcome.n_eval,
                      evaluation=outcome.evaluation, promotion=outcome.decision.to_dict())
        if outcome.consensus is not None:
            result["consensus"] = outcome.consensus
        if outcome.audit is not None:
            result["audit"] = outcome.audit
        model_metrics = outcome.train_output.get("metrics")
        if isinstance(model_metrics, dict):  # what the model reported about itself
            result["model_metrics"] = model_metrics
    except BaseException as exc:  # any failure of user code is recorded, never raised
        with contextlib.suppress(OSError):
            (workdir / "error.log").write_text(traceback.format_exc())
        result = _job_result(record.project, record.version, workdir, record.job_id, started,
                             error=_describe(exc))
    try:
        ctx.stores.versions.finish(record.project, record.version, result)
    except (LabelloopError, OSError) as exc:  # e.g. the bucket refused the upload
        with contextlib.suppress(OSError):
            (workdir / PUBLISH_ERROR).write_text(f"could not store the version: {_describe(exc)}")
        raise


def _describe(exc: BaseException) -> str:
    return exc.message if isinstance(exc, LabelloopError) else f"{type(exc).__name__}: {exc}"


def _current(ctx: TrainingContext, project: str) -> VersionInfo | None:
    version = ctx.stores.versions.current_version(project)
    if version is None:
        return None
    try:
        ctx.stores.versions.fetch(project, version)  # a bucket's: into this worker's cache
        return ctx.stores.versions.get(project, version)
    except NotFound:  # the pointer names a folder that is gone: train from scratch
        return None


def _job_result(project: str, version: str, workdir: Path, job_id: str | None,
                started: float, *, train_output: dict[str, Any] | None = None,
                error: str | None = None,
                status: VersionStatus = VersionStatus.OK) -> dict[str, Any]:
    """The founding ``job_result.json``; failures add ``error``."""
    result: dict[str, Any] = {
        "status": (status if error is None else VersionStatus.ERROR).value,
        "train_output": train_output,
        "project": project,
        "workdir": str(workdir),
        "version": version,
        "job_id": job_id,
        "time": round(time.time() - started, 3),
    }
    if error is not None:
        result["error"] = error
    return result

