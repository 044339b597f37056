"""A text classifier written for Label Studio 0.9's ML backend API (generation 1), as a
user of that time would have: annotations under "completions", fit(completions, workdir)
returning train_output, the served model built with it. labelloop runs it unchanged."""

import os
import pickle

from label_studio.ml import LabelStudioMLBase
from label_studio.ml.utils import get_choice, get_single_tag_keys, is_skipped
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline


class ReviewClassifier(LabelStudioMLBase):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.from_name, self.to_name, self.value, self.labels = get_single_tag_keys(
            self.parsed_label_config, "Choices", "Text")
        self.model = None
        if self.train_output:
            with open(self.train_output["model_path"], "rb") as f:
                self.model = pickle.load(f)

    def predict(self, tasks, **kwargs):
        if self.model is None:
            return [{"result": [], "score": 0.0} for _ in tasks]
        texts = [task["data"][self.value] for task in tasks]
        probabilities = self.model.predict_proba(texts)
        out = []
        for row in probabilities:
            best = int(row.argmax())
            label = self.model.classes_[best]
            out.append({"result": [{"from_name": self.from_name, "to_name": self.to_name,
                                    "type": "choices", "value": {"choices": [label]}}],
                        "score": float(row[best])})
        return out

    def fit(self, completions, workdir=None, **kwargs):
        texts, labels = [], []
        for completion in completions:
            if is_skipped(completion):
                continue
            texts.append(completion["data"][self.value])
            labels.append(get_choice(completion))
        model = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 2)),
                              LogisticRegression(C=10))
        model.fit(texts, labels)
        model_path = os.path.join(workdir, "model.pkl")
        with open(model_path, "wb") as f:
            pickle.dump(model, f)
        return {"model_path": model_path, "labels": sorted(set(labels))}
