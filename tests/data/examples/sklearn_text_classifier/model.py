"""A text classifier written for label-studio-ml-backend 2.x: TF-IDF word n-grams and a
logistic regression. Until it has trained, it is fitted on the label names alone, so a
text that mentions a label's name gets that label."""

import logging
import os
import pickle
from typing import Any

import numpy as np
import requests
from label_studio_ml.model import LabelStudioMLBase
from label_studio_ml.response import ModelResponse
from label_studio_ml.utils import DATA_UNDEFINED_NAME
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

logger = logging.getLogger(__name__)

# Kept between requests: loading the pickle once is enough.
_pipeline: Pipeline | None = None


class SklearnTextClassifier(LabelStudioMLBase):
    LOGISTIC_REGRESSION_C = float(os.getenv("LOGISTIC_REGRESSION_C", 10))
    LABEL_STUDIO_HOST = os.getenv("LABEL_STUDIO_HOST", "http://localhost:8080")
    LABEL_STUDIO_API_KEY = os.getenv("LABEL_STUDIO_API_KEY")
    START_TRAINING_EACH_N_UPDATES = int(os.getenv("START_TRAINING_EACH_N_UPDATES", 10))
    MODEL_DIR = os.getenv("MODEL_DIR", ".")

    def setup(self):
        self.set("model_version", f"{type(self).__name__}-v0.0.1")

    def parameters(self) -> dict[str, Any]:
        """The first Choices control on a Text object, with its labels in a stable order."""
        control, obj, value = self.label_interface.get_first_tag_occurence("Choices", "Text")
        labels = sorted(self.label_interface.get_control(control).labels)
        return {"from_name": control, "to_name": obj, "value": value, "labels": labels}

    def new_pipeline(self) -> Pipeline:
        # Word n-grams up to three; single characters count as words too.
        return make_pipeline(
            TfidfVectorizer(ngram_range=(1, 3), token_pattern=r"(?u)\b\w\w+\b|\w"),
            LogisticRegression(C=self.LOGISTIC_REGRESSION_C))

    def pipeline(self) -> Pipeline:
        global _pipeline
        if _pipeline is not None:
            return _pipeline
        path = os.path.join(self.MODEL_DIR, "model.pkl")
        if os.path.exists(path):
            logger.info("loading %s", path)
            with open(path, "rb") as f:
                _pipeline = pickle.load(f)
        else:
            labels = self.parameters()["labels"]
            _pipeline = self.new_pipeline().fit(labels, list(range(len(labels))))
        return _pipeline

    def text_of(self, task: dict[str, Any], key: str) -> str:
        data = task["data"]
        return self.preload_task_data(task, data.get(key) or data.get(DATA_UNDEFINED_NAME))

    def predict(self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None,
                **kwargs) -> ModelResponse:
        params = self.parameters()
        texts = [self.text_of(task, params["value"]) for task in tasks]
        probabilities = self.pipeline().predict_proba(texts)
        best = np.argmax(probabilities, axis=1)
        version = self.get("model_version")
        predictions = []
        for row, index in enumerate(best):
            region = {"from_name": params["from_name"], "to_name": params["to_name"],
                      "type": "choices", "value": {"choices": [params["labels"][index]]}}
            predictions.append({"result": [region], "score": float(probabilities[row, index]),
                                "model_version": version})
        return ModelResponse(predictions=predictions, model_version=version)

    def labeled_tasks(self, project_id) -> list[dict[str, Any]]:
        """The project's annotated tasks, from Label Studio's export."""
        resp = requests.get(
            f"{self.LABEL_STUDIO_HOST.rstrip('/')}/api/projects/{project_id}/export",
            params={"exportType": "JSON"}, timeout=300,
            headers={"Authorization": f"Token {self.LABEL_STUDIO_API_KEY}"})
        resp.raise_for_status()
        return resp.json()

    def fit(self, event, data, **kwargs):
        if event not in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "START_TRAINING"):
            logger.info("no training on %s", event)
            return
        project_id = (data.get("annotation") or {}).get("project") or data["project"]["id"]
        tasks = self.labeled_tasks(project_id)
        every = self.START_TRAINING_EACH_N_UPDATES
        if event != "START_TRAINING" and len(tasks) % every != 0:
            logger.info("%d tasks: training every %d", len(tasks), every)
            return
        params = self.parameters()
        index = {label: i for i, label in enumerate(params["labels"])}
        texts, targets = [], []
        for task in tasks:
            for annotation in task["annotations"]:
                usable = annotation.get("result") and not (
                    annotation.get("skipped") or annotation.get("was_cancelled"))
                if usable:
                    texts.append(self.text_of(task, params["value"]))
                    targets.append(index[annotation["result"][0]["value"]["choices"][0]])
        trained = self.new_pipeline().fit(texts, targets)
        with open(os.path.join(self.MODEL_DIR, "model.pkl"), "wb") as f:
            pickle.dump(trained, f)
        global _pipeline
        _pipeline = trained
