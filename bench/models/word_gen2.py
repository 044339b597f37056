# ruff: noqa: PTH118, PTH123
# (written the way scripts of its time were: os.path and open)
"""The cheap model written for label-studio-ml 1.0.x (generation 2), as its users did:
``LabelStudioMLBase`` from ``label_studio_ml.model``, the model loaded from
``self.train_output``, ``predict(tasks, **kwargs)`` returning one dict per task, and
``fit(tasks, workdir)`` returning the new ``train_output``. label-studio-ml 1.0.9 serves it
in ``bench/serve.py`` (the peer column); labelloop hosts it unchanged in
``bench/compat_overhead.py``."""

import os
import pickle
from typing import Any

from label_studio_ml.model import LabelStudioMLBase
from label_studio_ml.utils import get_choice, get_single_tag_keys, is_skipped
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline


class WordPipelineClassifier(LabelStudioMLBase):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.from_name, self.to_name, self.value, self.labels = get_single_tag_keys(
            self.parsed_label_config, "Choices", "Text")
        self.model = None
        if self.train_output.get("model_path"):
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

    def fit(self, tasks: Any, workdir: str | None = None, **kwargs: Any) -> dict[str, Any]:
        texts, labels = [], []
        for task in tasks:
            if not task.get("annotations") or is_skipped(task):
                continue
            texts.append(task["data"][self.value])
            labels.append(get_choice(task))
        model = make_pipeline(TfidfVectorizer(ngram_range=(1, 3),
                                              token_pattern=r"(?u)\b\w\w+\b|\w"),
                              LogisticRegression(C=10))
        model.fit(texts, labels)
        model_path = os.path.join(workdir or ".", "model.pkl")
        with open(model_path, "wb") as f:
            pickle.dump(model, f)
        return {"model_path": model_path, "labels": sorted(set(labels))}
