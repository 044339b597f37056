"""The builders give exactly the canonical JSON of LS-PROTOCOL.md section 4."""

from __future__ import annotations

import pytest

from labelloop.sdk import (
    choices_region,
    prediction,
    rectangle_region,
    span_region,
    textarea_region,
)


def test_text_classification_matches_canonical() -> None:
    region = choices_region("sentiment", "text", ["Positive"], score=0.93, region_id="r1")
    assert prediction([region], score=0.93, model_version="my-model-v1") == {
        "model_version": "my-model-v1", "score": 0.93,
        "result": [{"id": "r1", "from_name": "sentiment", "to_name": "text", "type": "choices",
                    "value": {"choices": ["Positive"]}, "score": 0.93}]}


def test_ner_matches_canonical() -> None:
    region = span_region("label", "text", 0, 5, "PER", text="Alice", score=0.8, region_id="e1")
    assert region == {"id": "e1", "from_name": "label", "to_name": "text", "type": "labels",
                      "value": {"start": 0, "end": 5, "text": "Alice", "labels": ["PER"]},
                      "score": 0.8}


def test_bbox_matches_canonical() -> None:
    region = rectangle_region("label", "image", 10.0, 20.0, 30.0, 40.0, "Car",
                              original_size=(640, 480), score=0.7, region_id="b1")
    assert region == {
        "id": "b1", "from_name": "label", "to_name": "image", "type": "rectanglelabels",
        "original_width": 640, "original_height": 480, "image_rotation": 0,
        "value": {"x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0, "rotation": 0.0,
                  "rectanglelabels": ["Car"]}, "score": 0.7}


def test_textarea_and_generated_ids() -> None:
    a = textarea_region("note", "text", ["hello"])
    b = textarea_region("note", "text", ["hello"])
    assert a["value"] == {"text": ["hello"]} and a["type"] == "textarea"
    assert a["id"] != b["id"] and "score" not in a


@pytest.mark.parametrize("args", [(-1, 3), (5, 2)])
def test_bad_span_offsets(args: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="offsets"):
        span_region("l", "t", *args, "PER")


def test_box_outside_the_image_is_refused() -> None:
    with pytest.raises(ValueError, match="percent"):
        rectangle_region("l", "i", 10, 20, 130, 40, "Car")


def test_score_is_a_float() -> None:
    import numpy as np

    p = prediction([], score=np.float32(0.5))
    assert type(p["score"]) is float
