"""A text classifier written for label-studio-ml 1.0.x (generation 2): annotations under
"annotations", fit(tasks, workdir) returning train_output, constructor kwargs from
--with / config.json. labelloop runs it unchanged, with or without label-studio-ml."""

import os
import pickle

from label_studio_ml.model import LabelStudioMLBase
from label_studio_ml.utils import DATA_UNDEFINED_NAME, get_choice, get_single_tag_keys, is_skipped
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline


class ReviewClassifier(LabelStudioMLBase):
    def __init__(self, regularisation=10.0, **kwargs):
        super().__init__(**kwargs)
        self.regularisation = regularisation
        self.from_name, self.to_name, self.value, self.labels = get_single_tag_keys(
            self.parsed_label_config, "Choices", "Text")
        self.model = None
        if self.train_output.get("model_path"):
            with open(self.train_output["model_path"], "rb") as f:
                self.model = pickle.load(f)

    def _text(self, task):
        return task["data"].get(self.value) or task["data"].get(DATA_UNDEFINED_NAME)

    def predict(self, tasks, **kwargs):
        if self.model is None:
            return [{"result": [], "score": 0.0} for _ in tasks]
        predictions = []
        for row in self.model.predict_proba([self._text(t) for t in tasks]):
            best = int(row.argmax())
            predictions.append({
                "result": [{"from_name": self.from_name, "to_name": self.to_name,
                            "type": "choices",
                            "value": {"choices": [str(self.model.classes_[best])]}}],
                "score": float(row[best])})
        return predictions

    def fit(self, tasks, workdir=None, **kwargs):
        texts, labels = [], []
        for task in tasks:
            if not task.get("annotations") or is_skipped(task):
                continue
            texts.append(self._text(task))
            labels.append(get_choice(task))
        model = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 2)),
                              LogisticRegression(C=self.regularisation))
        model.fit(texts, labels)
        model_path = os.path.join(workdir, "model.pkl")
        with open(model_path, "wb") as f:
            pickle.dump(model, f)
        return {"model_path": model_path, "labels": sorted(set(labels)),
                "regularisation": self.regularisation}
