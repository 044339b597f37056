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
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from labelloop.compat.loader import load_backend_class
from labelloop.errors import LabelStudioError, TrainingError
from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.sdk.model import LabelStudioModel
from labelloop.settings import Settings
from labelloop.store.bundle import Stores
from labelloop.store.jobs import JobRecord
from labelloop.store.model_context import model_context, version_name
from labelloop.store.projects import ProjectInfo
from labelloop.training.evaluation import predict_all
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


def label_studio_of(settings: Settings, info: ProjectInfo | None) -> tuple[str, str] | None:
    """Label Studio's URL and key for a project: the settings', else what /setup sent."""
    url = settings.label_studio_url or (info.hostname if info else None)
    key = settings.label_studio_api_key or (info.access_token if info else None)
    return (url, key) if url and key else None


def run_rescore(settings: Settings, stores: Stores, record: JobRecord,
                preempt: Callable[[], bool], progress: Callable[[float, str], None]) -> int:
    """Re-score the project for ``record.version`` (the version that served when the job
    started); returns how many tasks were stored."""
    project, version = record.project, record.version
    info = stores.registry.get(project)
    address = label_studio_of(settings, info)
    if info is None or address is None or not project.isdigit():
        raise TrainingError(f"project {project}: no Label Studio to re-score in (connect the "
                            "project in Label Studio, or set LABEL_STUDIO_URL and "
                            "LABEL_STUDIO_API_KEY)")
    if version is None:
        return 0
    model_cls = load_backend_class(settings.backend_dir, settings.model_class)
    target = Target(project, *address, version, version_name(model_cls.__name__, version))
    model = _served_model(settings, stores, info, model_cls, target)

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


def _served_model(settings: Settings, stores: Stores, info: ProjectInfo,
                  model_cls: type[LabelStudioModel], target: Target) -> LabelStudioModel:
    train_output = stores.versions.get(target.project, target.version).train_output
    ctx = model_context(settings, stores.state, target.project, info, model_cls.__name__,
                        target.version, train_output)
    params = {**settings.model_kwargs, **(info.extra_params or {})}
    return model_cls(info.label_config, train_output=train_output, project=ctx, **params)


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
        return record.update(state="finished", outcome="cancelled", ended=time.time(),
                             error=str(exc), progress=None)
    except (LabelStudioError, TrainingError) as exc:
        return record.update(state="failed", outcome="failed", ended=time.time(),
                             error=exc.message, progress=None)
    except Exception as exc:  # the model's own code (building it, predict) failed
        log.exception("re-scoring project %s failed", record.project)
        return record.update(state="failed", outcome="failed", ended=time.time(),
                             error=f"{type(exc).__name__}: {exc}", progress=None)
    return record.update(state="finished", outcome="rescored", ended=time.time(),
                         metrics={"tasks": stored}, progress=None)


def rescored(records: list[JobRecord], version: str | None) -> bool:
    """Whether a re-scoring job finished for ``version``."""
    return any(r.kind == "rescore" and r.outcome == "rescored" and r.version == version
               for r in records)
