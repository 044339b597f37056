"""Judging a version: hold annotations out, fit on the rest, score ``predict()`` on them.

The held-out slice is a stable function of each task's id (a hash), so a task held out
once is held out by every later version too: no version's *evaluation model* has ever
trained on a task that a later version is judged on. That is what makes two versions
comparable on the same held-out tasks (see :mod:`labelloop.training.promotion`).

>>> tasks = [{"id": i, "data": {}, "annotations": [{"id": i, "result": [
...     {"from_name": "c", "type": "choices", "value": {"choices": ["AB"[i % 2]]}}]}]}
...     for i in range(200)]
>>> s = split(tasks, share=0.2, kfold_below=100, min_tasks=10, label_of=lambda t: None)
>>> s.method, len(s.held_out) + len(s.train) == 200, 25 < len(s.held_out) < 55
('holdout', True, True)
>>> split(tasks[:40], 0.2, 100, 10, lambda t: None).method
'kfold'
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from labelloop.sdk.model import LabelStudioModel, Task

KFOLDS = 5
_BUCKETS = 10_000


def task_bucket(task: Task) -> int:
    """A stable number in [0, 10000) for a task: from its id, else from its data."""
    ident = task.get("id")
    raw = str(ident).encode() if ident is not None else orjson.dumps(
        task.get("data"), option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big") % _BUCKETS


@dataclass(frozen=True)
class Split:
    method: str  # "holdout" | "kfold" | "skipped"
    train: list[Task] = field(default_factory=list)
    held_out: list[Task] = field(default_factory=list)
    folds: list[list[Task]] = field(default_factory=list)  # kfold: the tasks of each fold
    reason: str = ""


def split(tasks: Sequence[Task], share: float, kfold_below: int, min_tasks: int,
          label_of: Callable[[Task], str | None]) -> Split:
    """Hold out about ``share`` of the tasks (stratified: every label with five or more
    tasks has at least one held out); with fewer than ``kfold_below`` tasks, make
    :data:`KFOLDS` folds instead; with fewer than ``min_tasks``, do not evaluate."""
    tasks = list(tasks)
    if len(tasks) < min_tasks:
        return Split("skipped", train=tasks,
                     reason=f"too few annotated tasks to evaluate ({len(tasks)} < {min_tasks})")
    if len(tasks) < kfold_below:
        folds: list[list[Task]] = [[] for _ in range(KFOLDS)]
        for task in tasks:
            folds[task_bucket(task) % KFOLDS].append(task)
        return Split("kfold", train=tasks, folds=[f for f in folds if f])
    threshold = share * _BUCKETS
    held = {id(t) for t in tasks if task_bucket(t) < threshold}
    by_label: dict[str | None, list[Task]] = defaultdict(list)
    for task in tasks:
        by_label[label_of(task)].append(task)
    for members in by_label.values():
        if len(members) >= KFOLDS and not any(id(t) in held for t in members):
            held.add(id(min(members, key=task_bucket)))  # a rare label is judged too
    return Split("holdout", train=[t for t in tasks if id(t) not in held],
                 held_out=[t for t in tasks if id(t) in held])


def without_answers(task: Task) -> Task:
    """The task as Label Studio would send it for prediction: no annotations to peek at."""
    return {k: v for k, v in task.items() if k not in ("annotations", "predictions", "drafts")}


def predict_all(model: LabelStudioModel, tasks: Sequence[Task], chunk: int) -> list[Any]:
    """``model.predict`` over ``tasks`` in chunks; a wrong-sized answer is an error."""
    out: list[Any] = []
    step = chunk if chunk > 0 else max(len(tasks), 1)
    for i in range(0, len(tasks), step):
        part = [without_answers(t) for t in tasks[i:i + step]]
        answer = model.predict(part)
        if not isinstance(answer, list) or len(answer) != len(part):
            raise ValueError(f"{type(model).__name__}.predict() returned "
                             f"{len(answer) if isinstance(answer, list) else type(answer)} "
                             f"predictions for {len(part)} tasks")
        out += answer
    return out
