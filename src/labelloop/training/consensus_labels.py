"""Several annotations of one task: which label training learns, and what the job records.

For a choices control, each usable annotation is a vote ``(task, annotator, label,
annotation id)``; :mod:`labelloop.sdk.consensus` turns the votes into one label a task
(``Settings.consensus``: latest, majority or dawid_skene). A task with several annotations
then reaches ``fit`` with one of them: the newest annotation that chose the consensus
label. It is a real annotation, unchanged, so every model that reads "the latest
annotation" (:func:`labelloop.sdk.annotations.first_choice`) learns the consensus without
knowing about it. Nothing is written back: the training set keeps every annotation.

>>> def ann(i, who, label):
...     return {"id": i, "completed_by": who, "result": [{"from_name": "s", "type": "choices",
...             "value": {"choices": [label]}}]}
>>> tasks = [{"id": 1, "annotations": [ann(1, 7, "a"), ann(2, 8, "a"), ann(3, 9, "b")]}]
>>> trained, summary = with_consensus(tasks, "s", "majority")
>>> [a["id"] for a in trained[0]["annotations"]], summary["agreement"]
([2], {'1': 0.667})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labelloop.sdk.annotations import usable_annotations
from labelloop.sdk.consensus import Consensus, dawid_skene, latest, majority
from labelloop.sdk.model import Task

METHODS: dict[str, Callable[..., Consensus[Any, Any, Any]]] = {
    "latest": latest, "majority": majority, "dawid_skene": dawid_skene}


def choice_of(annotation: dict[str, Any], control: str) -> str | None:
    """The first label ``annotation`` chose in ``control``, or None."""
    for region in annotation.get("result") or []:
        if region.get("from_name") == control:
            picked = (region.get("value") or {}).get("choices") or []
            if picked:
                return str(picked[0])
    return None


def annotator_of(annotation: dict[str, Any]) -> str:
    """Who made it: Label Studio's ``completed_by`` (a user id, or the user in some
    exports); an annotation without one is its own annotator."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("id", who.get("email"))
    return str(who) if who is not None else f"annotation-{annotation.get('id')}"


def _order(annotation: dict[str, Any]) -> int:
    ident = str(annotation.get("id"))
    return int(ident) if ident.isdigit() else -1


def votes(tasks: list[Task], control: str) -> list[tuple[int, str, str, int]]:
    """(task position, annotator, label, annotation id) of every usable annotation."""
    rows = []
    for i, task in enumerate(tasks):
        for annotation in usable_annotations(task):
            label = choice_of(annotation, control)
            if label is not None:
                rows.append((i, annotator_of(annotation), label, _order(annotation)))
    return rows


def with_consensus(tasks: list[Task], control: str,
                   method: str) -> tuple[list[Task], dict[str, Any]]:
    """``tasks`` for training (see the module), and the job's record: method, per-task
    agreement (tasks with several annotators only), each annotator's estimated accuracy."""
    rows = votes(tasks, control)
    result = METHODS[method](rows)
    trained = []
    for i, task in enumerate(tasks):
        verdict = result.tasks.get(i)
        usable = usable_annotations(task)
        if verdict is None or len(usable) < 2:
            trained.append(task)
            continue
        agreeing = [a for a in usable if choice_of(a, control) == verdict.label]
        kept = max(agreeing, key=_order) if agreeing else max(usable, key=_order)
        trained.append({**task, "annotations": [kept]})
    several = {i: v for i, v in result.tasks.items() if v.votes > 1}
    summary = {
        "method": method,
        "tasks": len(result.tasks),
        "tasks_with_several": len(several),
        "mean_agreement": (round(sum(v.agreement for v in several.values()) / len(several), 4)
                           if several else None),
        "agreement": {str(tasks[i].get("id", i)): round(v.agreement, 3)
                      for i, v in several.items()},
        "labels": {str(tasks[i].get("id", i)): v.label for i, v in several.items()},
        "annotators": {who: round(acc, 4) for who, acc in result.annotator_accuracy.items()},
        "annotations": _counts(rows),
    }
    return trained, summary


def _counts(rows: list[tuple[int, str, str, int]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, who, _, _ in rows:
        counts[who] = counts.get(who, 0) + 1
    return counts
