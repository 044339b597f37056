"""The cheap model as a labelloop native script: word-token TF-IDF + LogisticRegression.

The same pipeline as Label Studio's official scikit-learn text example (TF-IDF over word
n-grams 1-3 with ``token_pattern=r"(?u)\\b\\w\\w+\\b|\\w"``, ``LogisticRegression(C=10)``).
On Chinese text without spaces a "word" is a run of CJK characters up to punctuation.
``bench/serve.py`` and ``bench/compat_overhead.py`` serve it; word_gen1/2/3.py are the same
model written for older ML-backend APIs.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from labelloop.sdk import LabelStudioModel, choices_region, first_choice, prediction

TOKEN_PATTERN = r"(?u)\b\w\w+\b|\w"


def word_pipeline() -> Pipeline:
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 3), token_pattern=TOKEN_PATTERN),
                         LogisticRegression(C=10))


class WordPipelineModel(LabelStudioModel):
    task_fields = ("id", "data")  # a labelloop model says what it reads: faster big batches

    def setup(self) -> None:
        self.control = self.label_config.control("choices")
        self.to_name = self.control.to_name[0]
        self.data_key = self.label_config.data_key(self.control)
        self.model: Pipeline | None = None
        path = self.train_output.get("model_path")
        if path:
            with Path(path).open("rb") as f:
                self.model = pickle.load(f)

    def predict(self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None,
                **kwargs: Any) -> list[dict[str, Any]]:
        if self.model is None:
            return [prediction([], score=0.0) for _ in tasks]
        probabilities = self.model.predict_proba([t["data"][self.data_key] for t in tasks])
        classes = [str(c) for c in self.model.classes_]
        best, scores = probabilities.argmax(axis=1).tolist(), probabilities.max(axis=1).tolist()
        name, to_name = self.control.name, self.to_name
        return [prediction([choices_region(name, to_name, [classes[b]])], score=s)
                for b, s in zip(best, scores, strict=True)]

    def fit(self, tasks: list[dict[str, Any]], workdir: Path, **kwargs: Any) -> dict[str, Any]:
        texts, labels = [], []
        for task in tasks:
            label = first_choice(task, self.control.name)
            if label is not None:
                texts.append(task["data"][self.data_key])
                labels.append(label)
        model = word_pipeline().fit(texts, labels)
        path = Path(workdir) / "model.pkl"
        with path.open("wb") as f:
            pickle.dump(model, f)
        return {"model_path": str(path), "labels": sorted(set(labels))}
