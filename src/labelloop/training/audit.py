"""The label audit of a training job: which annotations are probably wrong.

Each annotated task gets class probabilities from a model that never saw it (the
evaluation's held-out slice or folds, plus more folds for the tasks the evaluation
trained on: :class:`OutOfSample`), then :func:`labelloop.sdk.label_audit.find_suspects`
flags the tasks whose label looks wrong. The job writes the result into
``job_result.json`` as ``audit``; nothing changes an annotation.

A suspect names the Label Studio task, the annotation whose label was judged (after
consensus, :mod:`labelloop.training.consensus_labels`: the newest annotation that gave
the task's consensus label), its annotator, the given and the suggested label and the
score (p(suggested) - p(given), in (0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labelloop.sdk.annotations import usable_annotations
from labelloop.sdk.label_audit import find_suspects
from labelloop.sdk.model import LabelStudioModel, Task
from labelloop.training.consensus_labels import annotator_of, choice_of
from labelloop.training.holdout import KFOLDS, task_bucket, without_answers

AUDIT_VERSION = "labelloop-audit"  # the model version of the suspects stored in Label Studio


def audit_folds(tasks: list[Task], held_out: list[Task], count: int) -> list[list[Task]]:
    """The folds still to predict once the evaluation predicted ``held_out``: the other
    tasks in ``count`` folds (at least 2), or all of them in ``KFOLDS`` when nothing was
    held out (stable: by the same hash as the hold-out)."""
    seen = {id(t) for t in held_out}
    folds: list[list[Task]] = [[] for _ in range(max(count, 2) if held_out else KFOLDS)]
    for task in tasks:
        if id(task) not in seen:
            folds[task_bucket(task) % len(folds)].append(task)
    return [f for f in folds if f]


def probabilities_of(model: LabelStudioModel) -> Any:
    """The model's ``class_probabilities`` method, or None."""
    method = getattr(model, "class_probabilities", None)
    return method if callable(method) else None


@dataclass
class OutOfSample:
    """Class probabilities of tasks, each from a model that did not train on it."""

    classes: list[str]  # the matrix's columns: the control's labels
    tasks: list[Task] = field(default_factory=list)
    rows: list[list[float]] = field(default_factory=list)

    def add(self, model: LabelStudioModel, tasks: list[Task]) -> None:
        """``model`` (which never saw ``tasks``) gives their probabilities."""
        if not tasks:
            return
        theirs, probs = probabilities_of(model)([without_answers(t) for t in tasks])
        column = {str(c): j for j, c in enumerate(theirs)}
        for task, row in zip(tasks, probs, strict=True):
            self.tasks.append(task)
            self.rows.append([float(row[column[c]]) if c in column else 0.0
                              for c in self.classes])


def run_audit(found: OutOfSample, control: str) -> dict[str, Any]:
    """``audit`` of job_result.json from the collected probabilities."""
    index = {c: j for j, c in enumerate(found.classes)}
    labels, rows, judged = [], [], []
    for task, row in zip(found.tasks, found.rows, strict=True):
        annotation = _judged(task, control)
        label = choice_of(annotation, control) if annotation else None
        if annotation is None or label not in index:
            continue
        labels.append(index[str(label)])
        rows.append(row)
        judged.append((task, annotation))
    suspects = find_suspects(labels, rows) if rows else []
    return {
        "status": "done",
        "control": control,
        "audited": len(rows),
        "suspects": [_suspect(judged[s.index], found.classes, s.given, s.suggested, s.score)
                     for s in suspects],
    }


def skipped(reason: str) -> dict[str, Any]:
    return {"status": "skipped", "reason": reason, "suspects": []}


def _judged(task: Task, control: str) -> dict[str, Any] | None:
    """The annotation whose label training used: the newest that chose in ``control``."""
    chosen = [a for a in usable_annotations(task) if choice_of(a, control) is not None]
    return chosen[-1] if chosen else None


def _suspect(pair: tuple[Task, dict[str, Any]], classes: list[str], given: int,
             suggested: int, score: float) -> dict[str, Any]:
    task, annotation = pair
    who = annotation.get("completed_by")
    return {"task": task.get("id"), "annotation": annotation.get("id"),
            "annotator": annotator_of(annotation) if who is not None else None,
            "given": classes[given], "suggested": classes[suggested],
            "score": round(score, 4)}
