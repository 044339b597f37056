# ruff: noqa: PTH110, PTH118, PTH123
# (written the way scripts of its time were: os.path and open)
"""The cheap model written for today's label-studio-ml-backend (generation 3), the way its
examples are: ``MODEL_DIR`` read at import time, the model cached in a module global,
``setup()``, ``predict()`` returning a ``ModelResponse``, ``fit(event, data)``.
labelloop hosts it unchanged in ``bench/compat_overhead.py``.

Its fit trains on the annotated tasks labelloop passes as ``tasks`` (a labelloop extra;
without it the script would fetch them from Label Studio, as official examples do)."""

import os
import pickle
from typing import Any

from label_studio_ml.model import LabelStudioMLBase
from label_studio_ml.response import ModelResponse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

MODEL_DIR = os.getenv("MODEL_DIR", ".")
_model = None  # loaded once per process from MODEL_DIR, as the official sklearn example does


def load_model() -> Any:
    global _model
    if _model is None:
        path = os.path.join(MODEL_DIR, "model.pkl")
        if os.path.exists(path):
            with open(path, "rb") as f:
                _model = pickle.load(f)
    return _model


class WordPipelineClassifier(LabelStudioMLBase):
    def setup(self) -> None:
        self.set("model_version", "WordPipelineClassifier-v0.0.1")
        self.from_name, self.to_name, self.value = self.get_first_tag_occurence("Choices", "Text")

    def predict(self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None,
                **kwargs: Any) -> ModelResponse:
        model = load_model()
        if model is None:
            return ModelResponse(predictions=[])
        probabilities = model.predict_proba([task["data"][self.value] for task in tasks])
        labels = model.classes_[probabilities.argmax(axis=1)].tolist()
        scores = probabilities.max(axis=1).tolist()
        return ModelResponse(predictions=[
            {"result": [{"from_name": self.from_name, "to_name": self.to_name,
                         "type": "choices", "value": {"choices": [str(label)]}}],
             "score": score} for label, score in zip(labels, scores)])  # noqa: B905

    def fit(self, event: str, data: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        if event not in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "START_TRAINING"):
            return None
        texts, labels = [], []
        for task in kwargs.get("tasks") or []:
            for annotation in task.get("annotations") or []:
                if annotation.get("was_cancelled") or not annotation.get("result"):
                    continue
                texts.append(task["data"][self.value])
                labels.append(annotation["result"][0]["value"]["choices"][0])
        model = make_pipeline(TfidfVectorizer(ngram_range=(1, 3),
                                              token_pattern=r"(?u)\b\w\w+\b|\w"),
                              LogisticRegression(C=10))
        model.fit(texts, labels)
        with open(os.path.join(MODEL_DIR, "model.pkl"), "wb") as f:
            pickle.dump(model, f)
        return {"trained_on": len(texts)}
