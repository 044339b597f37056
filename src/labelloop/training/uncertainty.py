"""How sure the model is of each unlabeled task, and the order annotators should get them.

Label Studio's "Uncertainty sampling" serves the unlabeled task with the lowest prediction
``score``, from the cluster this annotator has solved least. Its bulk prediction import
(what a 100,000-task project needs) drops ``cluster``, so labelloop folds the clusters into
the score it writes: within each cluster tasks are ranked least confident first, and the
score interleaves the clusters — every cluster's least certain task comes before any
cluster's second. Lower still means "ask a person about this one first".

>>> scores = interleave([0.9, 0.55, 0.6, 0.99], [0, 0, 1, 1])
>>> [round(s, 3) for s in scores]
[0.95, 0.275, 0.3, 0.995]
>>> sorted(range(4), key=lambda i: scores[i])  # cluster 0's and 1's least sure, then the rest
[1, 2, 0, 3]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

DEFAULT_CLUSTERS = 16
SAMPLE = 5000  # tasks the clusters are fitted on (then every task is assigned)


def confidence(prediction: Any) -> float:
    """The model's confidence in a prediction, in [0, 1]: its ``score``, else its regions'
    lowest score, else 0.5 (nothing said: neither sure nor unsure)."""
    if not isinstance(prediction, dict):
        return 0.5
    score = prediction.get("score")
    if isinstance(score, (int, float)):
        return min(max(float(score), 0.0), 1.0)
    regions = [r.get("score") for r in prediction.get("result") or [] if isinstance(r, dict)]
    numbers = [float(s) for s in regions if isinstance(s, (int, float))]
    return min(max(min(numbers), 0.0), 1.0) if numbers else 0.5


def interleave(confidences: Sequence[float], clusters: Sequence[int]) -> list[float]:
    """Scores in [0, 1) whose ascending order is a round robin over clusters, each cluster
    least confident first: ``(rank within cluster + confidence) / (largest rank + 1)``."""
    members: dict[int, list[int]] = defaultdict(list)
    for i, cluster in enumerate(clusters):
        members[cluster].append(i)
    rank = [0] * len(confidences)
    for indices in members.values():
        for r, i in enumerate(sorted(indices, key=lambda i: confidences[i])):
            rank[i] = r
    tiers = max(rank, default=0) + 1
    return [(rank[i] + min(c, 0.9999)) / tiers for i, c in enumerate(confidences)]


class Clusterer:
    """k-means over the model's features (``features(tasks)``: a numpy array, or a scipy
    CSR matrix), hashed down to a few dozen dimensions (each feature column adds, with a
    sign, to one of ``dims`` buckets: no projection matrix over a 500,000-n-gram
    vocabulary); fitted once on the first tasks it sees, then assigns every task."""

    def __init__(self, k: int = DEFAULT_CLUSTERS, dims: int = 64, seed: int = 0) -> None:
        self.k, self.dims, self.seed = k, dims, seed
        self.centres: Any = None

    def fit(self, features: Any) -> None:
        import numpy as np

        points = self._project(features)
        k = max(1, min(self.k, points.shape[0]))
        self.centres = _kmeans(points, k, np.random.default_rng(self.seed))

    def assign(self, features: Any) -> list[int]:
        import numpy as np

        points = self._project(features)
        distances = ((points[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        return [int(c) for c in np.argmin(distances, axis=1)]

    def _project(self, features: Any) -> Any:
        import numpy as np

        if hasattr(features, "indptr"):  # CSR: rows, columns and values of the non-zeros
            rows = np.repeat(np.arange(features.shape[0]), np.diff(features.indptr))
            columns, values = np.asarray(features.indices), np.asarray(features.data)
        else:
            dense = np.asarray(features, dtype=np.float64)
            rows, columns = np.nonzero(dense)
            values = dense[rows, columns]
        mixed = (columns.astype(np.uint64) + np.uint64(self.seed)) * np.uint64(_MIX)
        bucket = (mixed >> np.uint64(40)) % np.uint64(self.dims)
        sign = np.where((mixed >> np.uint64(33)) & np.uint64(1), 1.0, -1.0)
        points = np.zeros((features.shape[0], self.dims))
        np.add.at(points, (rows, bucket.astype(np.int64)), values * sign)
        norms = np.linalg.norm(points, axis=1, keepdims=True)
        return points / np.maximum(norms, 1e-12)


_MIX = 0x9E3779B97F4A7C15  # an odd 64-bit multiplier (golden ratio): spreads column ids


def _kmeans(points: Any, k: int, rng: Any, rounds: int = 25) -> Any:
    """Lloyd's algorithm from a k-means++ start."""
    import numpy as np

    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        d = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(2), axis=1)
        total = d.sum()
        pick = rng.choice(len(points), p=d / total) if total > 0 else rng.integers(len(points))
        centres.append(points[pick])
    centre_array = np.array(centres)
    for _ in range(rounds):
        nearest = np.argmin(((points[:, None, :] - centre_array[None]) ** 2).sum(2), axis=1)
        for c in range(k):
            members = points[nearest == c]
            if len(members):
                centre_array[c] = members.mean(axis=0)
    return centre_array


LABEL_KEYS = ("choices", "labels", "rectanglelabels", "polygonlabels", "keypointlabels")


def label_clusters(predictions: Sequence[Any], known: dict[str, int] | None = None) -> list[int]:
    """Without features: the predicted labels as the cluster (each class gets its turn).
    ``known`` keeps the numbering from one page to the next."""
    ids = known if known is not None else {}
    return [ids.setdefault(_labels_of(p), len(ids)) for p in predictions]


def _labels_of(prediction: Any) -> str:
    regions = prediction.get("result") if isinstance(prediction, dict) else None
    found: set[str] = set()
    for region in regions or []:
        value = region.get("value") if isinstance(region, dict) else None
        for key in LABEL_KEYS:
            if isinstance(value, dict) and isinstance(value.get(key), list):
                found.update(str(v) for v in value[key])
    return ",".join(sorted(found))
