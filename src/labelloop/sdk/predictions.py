"""Builders for predictions in the exact JSON Label Studio 1.23 stores.

Each ``*_region`` returns one region dict; :func:`prediction` wraps regions into one
prediction (one element of the ``results`` list).

>>> r = choices_region("sentiment", "text", ["积极"], score=0.9)
>>> p = prediction([r], score=0.9, model_version="v1")
>>> p["result"][0]["value"], p["score"], p["model_version"]
({'choices': ['积极']}, 0.9, 'v1')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

Region = dict[str, Any]
Prediction = dict[str, Any]


def _region(from_name: str, to_name: str, type_: str, value: dict[str, Any],
            score: float | None, region_id: str | None) -> Region:
    region: Region = {
        # 40 random bits, as before from uuid4, at a quarter of the cost (one per region).
        "id": region_id or os.urandom(5).hex(),
        "from_name": from_name,
        "to_name": to_name,
        "type": type_,
        "value": value,
    }
    if score is not None:
        region["score"] = float(score)
    return region


def choices_region(from_name: str, to_name: str, labels: Sequence[str],
                   score: float | None = None, region_id: str | None = None) -> Region:
    """A classification: ``labels`` chosen in a ``<Choices>`` control."""
    return _region(from_name, to_name, "choices", {"choices": list(labels)}, score, region_id)


def span_region(from_name: str, to_name: str, start: int, end: int, label: str,
                text: str | None = None, score: float | None = None,
                region_id: str | None = None) -> Region:
    """A text span for ``<Labels>`` (NER): character offsets, ``end`` exclusive."""
    if not 0 <= start <= end:
        raise ValueError(f"span offsets must satisfy 0 <= start <= end, got {start}, {end}")
    value: dict[str, Any] = {"start": start, "end": end, "labels": [label]}
    if text is not None:
        value["text"] = text
    return _region(from_name, to_name, "labels", value, score, region_id)


def rectangle_region(from_name: str, to_name: str, x: float, y: float, width: float,
                     height: float, label: str, *, rotation: float = 0.0,
                     original_size: tuple[int, int] | None = None, score: float | None = None,
                     region_id: str | None = None) -> Region:
    """A box for ``<RectangleLabels>``; coordinates are percent (0-100) of the image."""
    for name, v in (("x", x), ("y", y), ("width", width), ("height", height)):
        if not 0.0 <= v <= 100.0:
            raise ValueError(f"{name}={v} is outside 0..100 (percent of the image)")
    value = {"x": x, "y": y, "width": width, "height": height, "rotation": rotation,
             "rectanglelabels": [label]}
    region = _region(from_name, to_name, "rectanglelabels", value, score, region_id)
    if original_size is not None:
        region["original_width"], region["original_height"] = original_size
        region["image_rotation"] = 0
    return region


def textarea_region(from_name: str, to_name: str, texts: Sequence[str],
                    score: float | None = None, region_id: str | None = None) -> Region:
    """Free text for ``<TextArea>``."""
    return _region(from_name, to_name, "textarea", {"text": list(texts)}, score, region_id)


def prediction(result: list[Region], score: float | None = None,
               model_version: str | None = None) -> Prediction:
    """One prediction for one task. labelloop fills ``model_version`` if you leave it out."""
    pred: Prediction = {"result": result}
    if score is not None:
        pred["score"] = float(score)
    if model_version is not None:
        pred["model_version"] = model_version
    return pred
