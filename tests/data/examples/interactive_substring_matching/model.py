"""Interactive pre-annotation written for label-studio-ml-backend 2.x: when an annotator
labels a span, every other occurrence of that text in the task gets the same label."""

import logging
import re
from typing import Any
from uuid import uuid4

from label_studio_ml.model import LabelStudioMLBase
from label_studio_ml.response import ModelResponse
from label_studio_sdk.label_interface.objects import PredictionValue

logger = logging.getLogger(__name__)


def same_characters(keyword: str, found: str) -> float:
    """The share of positions where the match has exactly the keyword's character (so a
    match in another case scores lower)."""
    return sum(a == b for a, b in zip(keyword, found, strict=True)) / len(found)


class InteractiveSubstringMatching(LabelStudioMLBase):
    def setup(self):
        self.set("model_version", f"{type(self).__name__}-v0.0.1")

    def matches(self, text: str, keyword: str, labels: list[str], from_name: str,
                to_name: str) -> PredictionValue:
        regions = []
        for match in re.finditer(re.escape(keyword.lower()), text.lower()):
            start, end = match.start(), match.end()
            regions.append({
                "id": uuid4().hex[:4], "from_name": from_name, "to_name": to_name,
                "type": "labels", "score": same_characters(keyword, text[start:end]),
                "value": {"start": start, "end": end, "text": text[start:end],
                          "labels": labels},
            })
        score = sum(r["score"] for r in regions) / max(len(regions), 1)
        return PredictionValue(result=regions, score=score,
                               model_version=self.get("model_version"))

    def predict(self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None,
                **kwargs) -> ModelResponse:
        if not context:  # nothing labeled yet: nothing to repeat
            return ModelResponse(predictions=[])
        from_name, to_name, key = self.label_interface.get_first_tag_occurence("Labels", "Text")
        region = next((r for r in context.get("result") or []
                       if r.get("from_name") == from_name), None)
        if region is None:
            logger.warning("the context has no %s region", from_name)
            return ModelResponse(predictions=[])
        keyword, labels = region["value"]["text"], region["value"]["labels"]
        predictions = []
        for task in tasks:
            text = self.preload_task_data(task, task["data"].get(key))
            if not text:
                logger.warning("task %s has no text under %r", task.get("id"), key)
                continue
            predictions.append(self.matches(text, keyword, labels, from_name, to_name))
        return ModelResponse(predictions=predictions, model_version=self.get("model_version"))
