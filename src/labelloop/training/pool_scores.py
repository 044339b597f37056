"""The served version's predictions for the whole unlabeled pool, and how sure it is of each.

The predictions go to a spool file (one JSON line each, found again by offset); only the
task id, confidence, cluster and offset of each task stay in memory, so 100,000 tasks cost
a few MiB besides the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from labelloop.sdk.model import LabelStudioModel
from labelloop.training.holdout import predict_all, without_answers
from labelloop.training.task_pool import TaskPool
from labelloop.training.uncertainty import SAMPLE, Clusterer, confidence, label_clusters, rank


@dataclass
class PoolScores:
    """Parallel lists, one entry per unlabeled task that got a prediction with regions."""

    task_ids: list[int] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    clusters: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # where its line starts in the spool
    empty: int = 0  # tasks whose prediction had no region: nothing to store

    def order(self) -> list[int]:
        """Positions, least confident distinct task first, copies last."""
        return rank(self.confidences, self.clusters)

    def prediction(self, spool: IO[bytes], i: int) -> dict[str, Any]:
        spool.seek(self.offsets[i])
        return dict(orjson.loads(spool.readline()))


def score_pool(model: LabelStudioModel, pool: TaskPool, labeled: set[int], chunk: int,
               spool: IO[bytes], progress: Callable[[int], None],
               keep: Callable[[int], bool] | None = None) -> PoolScores:
    """Predict every unlabeled task of ``pool`` (whose id ``keep`` accepts), ``chunk`` at
    a time."""
    scores = PoolScores()
    clusters = _ClusterSource(model)
    for tasks in pool.tasks(labeled, max(chunk, 1), keep):
        answers, features = clusters.predict(tasks, chunk)
        predictions = [p[0] if isinstance(p, list) and p else p for p in answers]
        for task, pred, cluster in zip(tasks, predictions,
                                       clusters.of(tasks, predictions, features), strict=True):
            result = pred.get("result") if isinstance(pred, dict) else None
            if not result:  # no region: Label Studio stores nothing for it, nor do we
                scores.empty += 1
                continue
            scores.offsets.append(spool.tell())
            spool.write(orjson.dumps({"result": result}) + b"\n")
            scores.task_ids.append(int(task["id"]))
            scores.confidences.append(confidence(pred))
            scores.clusters.append(cluster)
        progress(len(scores.task_ids) + scores.empty)
    return scores


class _ClusterSource:
    """Clusters from the model's features when it has ``features(tasks)``, else from its
    predicted labels; fitted on the first :data:`SAMPLE` tasks. A model with
    ``predict_with_features(tasks)`` gives both in one call."""

    def __init__(self, model: LabelStudioModel) -> None:
        self.model = model
        self.features = getattr(model, "features", None)
        self.both = getattr(model, "predict_with_features", None)
        self.clusterer: Clusterer | None = None
        self.labels: dict[str, int] = {}

    def predict(self, tasks: list[dict[str, Any]], chunk: int) -> tuple[list[Any], Any]:
        """The predictions of ``tasks``, and their features when they came with them."""
        if not callable(self.both):
            return predict_all(self.model, tasks, chunk), None
        answers, features = self.both([without_answers(t) for t in tasks])
        if not isinstance(answers, list) or len(answers) != len(tasks) or (
                getattr(features, "shape", (len(tasks),))[0] != len(tasks)):
            raise ValueError(f"{type(self.model).__name__}.predict_with_features() returned "
                             f"a wrong number of predictions or features for {len(tasks)} "
                             "tasks")
        return answers, features

    def of(self, tasks: list[dict[str, Any]], predictions: list[Any],
           features: Any = None) -> list[int]:
        own = [p.get("cluster") if isinstance(p, dict) else None for p in predictions]
        if all(isinstance(c, int) for c in own):
            return [int(c) for c in own if c is not None]  # the model chose its own
        if features is None and callable(self.features):
            features = self.features(tasks)
        if features is None:
            return label_clusters(predictions, self.labels)
        matrix = features
        if self.clusterer is None:
            self.clusterer = Clusterer()
            self.clusterer.fit(matrix[:SAMPLE])
        return self.clusterer.assign(matrix)
