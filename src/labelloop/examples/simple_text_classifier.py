"""The founding example: a text classifier for Chinese and English.

TF-IDF over character n-grams (1-3, within word boundaries) feeding a logistic
regression. Character n-grams need no word segmentation, so text without spaces
(Chinese, Japanese) works as well as English. Labels come from the label config's
``<Choices>``; before any training every task gets an empty prediction (no guess).

Copy it into a backend with ``labelloop init my_backend --script simple_text_classifier.py``.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from labelloop.sdk import LabelStudioModel, choices_region, first_choice, prediction


class SimpleTextClassifier(LabelStudioModel):
    def setup(self) -> None:
        self.control = self.label_config.control("choices")
        self.to_name = self.control.to_name[0]
        self.data_key = self.label_config.data_key(self.control)
        self.pipeline: Pipeline | None = None
        model_file = self.train_output.get("model_file")
        if model_file and Path(model_file).exists():
            with Path(model_file).open("rb") as f:
                self.pipeline = pickle.load(f)  # noqa: S301 - our own artifact

    def predict(self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None,
                **kwargs: Any) -> list[dict[str, Any]]:
        texts = [str(task["data"].get(self.data_key, "")) for task in tasks]
        if self.pipeline is None:  # untrained: a valid prediction that suggests nothing
            return [prediction([], score=0.0) for _ in texts]
        probs = self.pipeline.predict_proba(texts)
        classes = self.pipeline.classes_
        best = probs.argmax(axis=1)
        return [self._prediction(str(classes[i]), float(p[i]))
                for i, p in zip(best, probs, strict=True)]

    def _prediction(self, label: str, score: float) -> dict[str, Any]:
        region = choices_region(self.control.name, self.to_name, [label], score=score)
        return prediction([region], score=score)

    def fit(self, tasks: list[dict[str, Any]], workdir: Path, **kwargs: Any) -> dict[str, Any]:
        texts, labels = [], []
        for task in tasks:
            label = first_choice(task, self.control.name)
            if label is not None:
                texts.append(str(task["data"].get(self.data_key, "")))
                labels.append(label)
        if len(set(labels)) < 2:
            raise ValueError(f"need annotations with at least 2 different labels, got "
                             f"{sorted(set(labels))} from {len(labels)} annotated tasks")
        pipeline = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
            LogisticRegression(C=10, max_iter=1000),
        )
        pipeline.fit(texts, labels)
        model_file = Path(workdir) / "model.pkl"
        with model_file.open("wb") as f:
            pickle.dump(pipeline, f)
        return {"labels": sorted(set(labels)), "model_file": str(model_file),
                "count": len(labels)}
