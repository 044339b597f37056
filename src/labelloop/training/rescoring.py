"""The re-scoring job: the served version predicts the project's unlabeled tasks, and the
predictions go into Label Studio in bulk, so its "Uncertainty sampling" serves the task the
model is least sure of (and its Data Manager shows fresh predictions and scores).

1. Page through the unlabeled tasks that hold no prediction of the served version (by id,
   1,000 at a time: bounded memory), predict each page, and spool the predictions to a
   temporary file with their confidence and cluster (:mod:`labelloop.training.uncertainty`).
2. Score them (clusters folded into the score) and store them with ``import/predictions``,
   in batches.
3. With active learning on, point the project at this version and set its sampling.

A newer version (a rollback, or a training job that falls due) cancels it; tasks already
stored are not scored again by the next run of the same version.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from labelloop.compat.loader import load_backend_class
from labelloop.errors import LabelloopError, LabelStudioError, TrainingError
from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.sdk.model import LabelStudioModel
from labelloop.settings import Settings
from labelloop.store.bundle import Stores
from labelloop.store.jobs import JobKind, JobRecord, JobState, Outcome
from labelloop.store.model_context import version_name
from labelloop.store.project_ids import is_label_studio_project
from labelloop.store.projects import label_studio_of
from labelloop.training.holdout import predict_all
from labelloop.training.model_opener import ModelOpener
from labelloop.training.uncertainty import SAMPLE, Clusterer, confidence, interleave, label_clusters

log = logging.getLogger("labelloop.training")
UNCERTAINTY_SAMPLING = "Uncertainty sampling"
POST_BATCH = 10_000  # predictions per import call (~2 MB of JSON for text classification);
# each call also costs Label Studio a recount over the project: fewer, bigger calls


class Cancelled(Exception):
    """The served version changed, or a training job fell due: stop, store nothing more."""


@dataclass(frozen=True)
class Target:
    """Where the predictions go, and which version makes them."""

    project: str
    url: str
    key: str
    version: str
    model_version: str


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
                preempt: Callable[[], bool], progress: Callable[[float, str], None]) -> int:
    """Re-score the project for ``record.version`` (the version that served when the job
    started); returns how many tasks were stored."""
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
    target = Target(project, *address, version, version_name(model_cls.__name__, version))
    opener = ModelOpener(settings, stores, model_cls)
    model = opener.open_model(project, version, opener.label_config(info.label_config))

    def check() -> None:
        if stores.versions.current_version(project) != version:
            raise Cancelled(f"version {version} no longer serves")
        if preempt():
            raise Cancelled("a training job is due")

    with LabelStudioClient(target.url, target.key) as ls, tempfile.TemporaryFile("w+") as spool:
        confidences, clusters = _scan(ls, target, model, settings, spool, check, progress)
        scores = interleave(confidences, clusters)
        stored = _store(ls, target, spool, scores, check, progress)
        if settings.active_learning or info.active_learning:
            _sample_by_uncertainty(ls, target, stored)
    return stored


def _sample_by_uncertainty(ls: LabelStudioClient, target: Target, stored: int) -> None:
    """Point the project at this version's predictions, sampled by uncertainty. Label
    Studio refuses a version it holds no prediction of: fine when nothing was left to
    score (no unlabeled task); an error when predictions were just stored."""
    try:
        ls.update_project(target.project, model_version=target.model_version,
                          sampling=UNCERTAINTY_SAMPLING)
    except LabelStudioError:
        if stored:
            raise
        log.info("project %s: no prediction of %s to sample from", target.project,
                 target.model_version)


def _scan(ls: LabelStudioClient, target: Target, model: LabelStudioModel, settings: Settings,
          spool: IO[str], check: Callable[[], None],
          progress: Callable[[float, str], None]) -> tuple[list[float], list[int]]:
    """Predict every page. Each task's prediction goes to the spool (one JSON line: task,
    result, cluster); only its confidence and cluster stay in memory, for the order."""
    clusters = _ClusterSource(model)
    confidences: list[float] = []
    assigned: list[int] = []
    for tasks, left in ls.unlabeled_tasks(target.project, target.model_version,
                                          settings.rescore_page_size):
        check()
        predictions = [p[0] if isinstance(p, list) and p else p
                       for p in predict_all(model, tasks, settings.predict_chunk)]
        for task, prediction, cluster in zip(tasks, predictions,
                                             clusters.of(tasks, predictions), strict=True):
            result = prediction.get("result") if isinstance(prediction, dict) else None
            spool.write(json.dumps({"task": task["id"], "result": result or [],
                                    "cluster": cluster}, ensure_ascii=False) + "\n")
            confidences.append(confidence(prediction))
            assigned.append(cluster)
        done = len(confidences)
        progress(0.8 * done / (done - len(tasks) + left), f"scored {done} unlabeled tasks")
    return confidences, assigned


class _ClusterSource:
    """Clusters from the model's features when it has ``features(tasks)``, else from its
    predicted labels; fitted on the first :data:`SAMPLE` tasks."""

    def __init__(self, model: LabelStudioModel) -> None:
        self.features = getattr(model, "features", None)
        self.clusterer: Clusterer | None = None
        self.labels: dict[str, int] = {}

    def of(self, tasks: list[dict[str, Any]], predictions: list[Any]) -> list[int]:
        own = [p.get("cluster") if isinstance(p, dict) else None for p in predictions]
        if all(isinstance(c, int) for c in own):
            return [int(c) for c in own if c is not None]  # the model chose its own
        if not callable(self.features):
            return label_clusters(predictions, self.labels)
        matrix = self.features(tasks)
        if self.clusterer is None:
            self.clusterer = Clusterer()
            self.clusterer.fit(matrix[:SAMPLE])
        return self.clusterer.assign(matrix)


def _store(ls: LabelStudioClient, target: Target, spool: IO[str], scores: list[float],
           check: Callable[[], None], progress: Callable[[float, str], None]) -> int:
    """Import the spooled predictions with their scores, a batch at a time."""
    spool.seek(0)
    count, stored = len(scores), 0
    for batch in _batches(spool, scores, target.model_version):
        check()
        stored += ls.import_predictions(target.project, batch)
        progress(0.8 + 0.2 * stored / max(count, 1), f"stored {stored} of {count} predictions")
    return stored


def _batches(spool: IO[str], scores: list[float],
             model_version: str) -> Iterator[list[dict[str, Any]]]:
    """Batches of :data:`POST_BATCH` predictions, read from the spool as they are sent."""
    batch: list[dict[str, Any]] = []
    for line, score in zip(spool, scores, strict=True):
        row = json.loads(line)
        batch.append({"task": row["task"], "result": row["result"], "score": round(score, 6),
                      "model_version": model_version, "cluster": row["cluster"]})
        if len(batch) == POST_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def rescore_job(settings: Settings, stores: Stores, record: JobRecord,
                preempt: Callable[[], bool], progress: Callable[[float, str], None]
                ) -> JobRecord:
    """Run a re-scoring job to its end: finished (``rescored``), cancelled, or failed."""
    version = stores.versions.current_version(record.project)
    record = record.update(version=version)
    try:
        stored = run_rescore(settings, stores, record, preempt, progress)
    except Cancelled as exc:
        return record.ended_as(JobState.FINISHED, Outcome.CANCELLED, error=str(exc))
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
