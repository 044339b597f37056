"""A text classifier written for today's label-studio-ml-backend (generation 3), the way
its examples are: MODEL_DIR read at import time, the model cached in a module global,
setup() and get()/set() state, predict() returning a ModelResponse, fit(event, data)
called for webhook events and START_TRAINING. labelloop runs it unchanged.

Its fit trains on the annotated tasks labelloop passes as ``tasks`` (a labelloop extra;
without it the script would fetch them from Label Studio, as official examples do)."""

import os
import pickle

import httpx
from label_studio_ml.model import LabelStudioMLBase
from label_studio_ml.response import ModelResponse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

MODEL_DIR = os.getenv("MODEL_DIR", ".")
_model = None  # loaded once per process from MODEL_DIR, as the official sklearn example does


def load_model():
    global _model
    if _model is None:
        path = os.path.join(MODEL_DIR, "model.pkl")
        if os.path.exists(path):
            with open(path, "rb") as f:
                _model = pickle.load(f)
    return _model


class ReviewClassifier(LabelStudioMLBase):
    def setup(self):
        self.set("model_version", "ReviewClassifier-v0.0.1")
        self.from_name, self.to_name, self.value = self.get_first_tag_occurence("Choices", "Text")

    def predict(self, tasks, context=None, **kwargs):
        model = load_model()
        if model is None:
            return ModelResponse(predictions=[])
        predictions = []
        for row in model.predict_proba([t["data"][self.value] for t in tasks]):
            best = int(row.argmax())
            predictions.append({"result": [{
                "from_name": self.from_name, "to_name": self.to_name, "type": "choices",
                "value": {"choices": [str(model.classes_[best])]}}], "score": float(row[best])})
        return ModelResponse(predictions=predictions)

    def _annotated_tasks(self, data, tasks):
        if tasks is not None:
            return tasks
        url, key = os.environ["LABEL_STUDIO_URL"], os.environ["LABEL_STUDIO_API_KEY"]
        project = data["project"]["id"]
        return httpx.get(f"{url}/api/projects/{project}/export", params={"exportType": "JSON"},
                         headers={"Authorization": f"Token {key}"}, timeout=60).json()

    def fit(self, event, data, **kwargs):
        if event not in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "START_TRAINING"):
            return None
        texts, labels = [], []
        for task in self._annotated_tasks(data, kwargs.get("tasks")):
            for annotation in task.get("annotations") or []:
                if annotation.get("was_cancelled") or not annotation.get("result"):
                    continue
                texts.append(task["data"][self.value])
                labels.append(annotation["result"][0]["value"]["choices"][0])
        model = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 2)),
                              LogisticRegression(C=10))
        model.fit(texts, labels)
        with open(os.path.join(MODEL_DIR, "model.pkl"), "wb") as f:
            pickle.dump(model, f)
        self.set("last_trained_on", str(len(texts)))
        return {"trained_on": len(texts)}
