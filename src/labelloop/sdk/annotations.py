"""Reading annotations out of Label Studio tasks (the export format).

>>> task = {"data": {"text": "好"}, "annotations": [
...     {"id": 1, "result": [{"from_name": "s", "type": "choices",
...                           "value": {"choices": ["积极"]}}]}]}
>>> first_choice(task, "s")
'积极'
"""

from __future__ import annotations

from typing import Any


def usable_annotations(task: dict[str, Any], *,
                       with_result: bool = True) -> list[dict[str, Any]]:
    """Annotations that count for training: not skipped, with a result (with
    ``with_result=False`` an empty result counts too, e.g. "no entity here" for NER)."""
    anns = task.get("annotations") or []
    return [a for a in anns if isinstance(a, dict) and not a.get("was_cancelled")
            and (a.get("result") or not with_result)]


def first_choice(task: dict[str, Any], from_name: str) -> str | None:
    """The first choice made in ``from_name`` by the latest usable annotation, or None."""
    anns = usable_annotations(task)
    for ann in reversed(anns):  # the latest annotation wins
        for region in ann.get("result") or []:
            if region.get("from_name") == from_name:
                picked = (region.get("value") or {}).get("choices") or []
                if picked:
                    return str(picked[0])
    return None
