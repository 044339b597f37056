# ruff: noqa: PTH118, PTH123
# (written the way scripts of its time were: os.path and open)
"""The cheap model written for Label Studio 0.9's ML backend API (generation 1):
``LabelStudioMLBase`` from ``label_studio.ml``, annotations under "completions",
``fit(completions, workdir)`` returning ``train_output``, the served model built with it.
labelloop hosts it unchanged in ``bench/compat_overhead.py``."""

import os
import pickle
from typing import Any

from label_studio.ml import LabelStudioMLBase
from label_studio.ml.utils import get_choice, get_single_tag_keys, is_skipped
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline


class WordPipelineClassifier(LabelStudioMLBase):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.from_name, self.to_name, self.value, self.labels = get_single_tag_keys(
            self.parsed_label_config, "Choices", "Text")
        self.model = None
        if self.train_output:
            with open(self.train_output["model_path"], "rb") as f:
                self.model = pickle.load(f)

    def predict(self, tasks: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
        if self.model is None:
            return [{"result": [], "score": 0.0} for _ in tasks]
        probabilities = self.model.predict_proba([task["data"][self.value] for task in tasks])
        labels = self.model.classes_[probabilities.argmax(axis=1)].tolist()
        scores = probabilities.max(axis=1).tolist()
        return [{"result": [{"from_name": self.from_name, "to_name": self.to_name,
                             "type": "choices", "value": {"choices": [str(label)]}}],
                 "score": score} for label, score in zip(labels, scores)]  # noqa: B905

    def fit(self, completions: Any, workdir: str | None = None,
            **kwargs: Any) -> dict[str, Any]:
        texts, labels = [], []
        for completion in completions:
            if is_skipped(completion):
                continue
            texts.append(completion["data"][self.value])
            labels.append(get_choice(completion))
        model = make_pipeline(TfidfVectorizer(ngram_range=(1, 3),
                                              token_pattern=r"(?u)\b\w\w+\b|\w"),
                              LogisticRegression(C=10))
        model.fit(texts, labels)
        model_path = os.path.join(workdir or ".", "model.pkl")
        with open(model_path, "wb") as f:
            pickle.dump(model, f)
        return {"model_path": model_path, "labels": sorted(set(labels))}
