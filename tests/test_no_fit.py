"""A model that does not override ``fit`` never trains (no jobs from annotations, no
versions, no re-scoring), and a task it has nothing for gets no prediction: ``[]``, which
Label Studio stores nothing for, never an empty ``{"result": []}``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from labelloop.compat.adapters import foreign_learns
from labelloop.compat.loader import load_model_class
from support.data import TEXT_CONFIG, annotation_event
from support.servers import Server, make_backend

SCRIPTS = Path(__file__).parent / "compat_scripts"
# label-studio-ml-backend 2.x's interactive shape: nothing without context, no fit.
INTERACTIVE = '''from label_studio_ml.model import LabelStudioMLBase
from label_studio_ml.response import ModelResponse


class Interactive(LabelStudioMLBase):
    def setup(self):
        self.set("model_version", "Interactive-v1")

    def predict(self, tasks, context=None, **kwargs):
        if not context:
            return ModelResponse(predictions=[])
        return ModelResponse(predictions=[{"result": [{
            "from_name": "sentiment", "to_name": "text", "type": "choices",
            "value": {"choices": ["积极"]}}], "score": 0.5} for _ in tasks])
'''
# A native model that has nothing for some tasks: [] for one, an empty result for another.
SPARSE = '''from labelloop.sdk import LabelStudioModel, choices_region, prediction


class Sparse(LabelStudioModel):
    def predict(self, tasks, context=None, **kwargs):
        out = []
        for task in tasks:
            text = task["data"]["text"]
            if text == "none":
                out.append([])
            elif text == "empty":
                out.append(prediction([], score=0.0))
            elif text == "mixed":
                out.append([prediction([]), prediction([choices_region(
                    "sentiment", "text", ["积极"])], score=0.9)])
            else:
                out.append(prediction([choices_region("sentiment", "text", ["消极"])],
                                      score=0.8))
        return out
'''


def script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def predict(server: Server, texts: list[str], context: Any = None) -> list[Any]:
    resp = server.client.post("/predict", json={
        "tasks": [{"id": i, "data": {"text": t}} for i, t in enumerate(texts)],
        "project": "1", "label_config": TEXT_CONFIG,
        "params": {"login": None, "password": None, "context": context}})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["results"])


@pytest.mark.parametrize("name,text", [("interactive.py", INTERACTIVE), ("sparse.py", SPARSE)])
def test_a_model_without_fit_never_trains(tmp_path: Path, name: str, text: str,
                                          start_server: Callable[..., Server]) -> None:
    server = start_server(make_backend(tmp_path / "be", script(tmp_path, name, text)))
    for i in (1, 2, 3):
        answer = server.client.post("/webhook", json=annotation_event(i, i, f"t{i}", "积极"))
        assert answer.status_code == 200 and answer.json()["training"] is False, answer.text
        assert "does not override fit" in answer.json()["reason"]
    start = server.client.post("/webhook", json={"action": "START_TRAINING",
                                                 "project": {"id": 1}})
    assert start.json()["training"] is False
    old = server.client.post("/train", json={"project": "1", "label_config": TEXT_CONFIG,
                                             "annotations": [{"id": 9, "data": {"text": "x"},
                                                              "annotations": [{"id": 9,
                                                                               "result": []}]}]})
    assert old.status_code == 201 and old.json()["job"] is None, old.text
    state = server.client.get("/is_training", params={"project": "1"}).json()
    assert state["latest"] is None and state["queued"] is None
    assert state["rescoring"]["latest"] is None and state["rescoring"]["queued"] is None
    assert not [d for d in (tmp_path / "models" / "1").iterdir() if d.name.isdigit()]


def test_nothing_to_suggest_is_no_prediction(tmp_path: Path,
                                             start_server: Callable[..., Server]) -> None:
    server = start_server(make_backend(tmp_path / "be", script(tmp_path, "i.py", INTERACTIVE)))
    assert predict(server, ["a", "b"]) == [[], []]  # opened without context
    drawn = predict(server, ["a"], context={"result": [{"type": "choices"}]})
    assert drawn[0]["result"][0]["value"]["choices"] == ["积极"]
    assert drawn[0]["model_version"] == "Interactive-v1"  # the script's own name
    setup = server.client.post("/setup", json={"project": "1", "schema": TEXT_CONFIG})
    assert setup.json()["model_version"] == "Interactive-v1"
    assert server.client.get("/versions").json()["versions"] == []  # nothing trained


def test_empty_predictions_are_dropped_per_task(tmp_path: Path,
                                                start_server: Callable[..., Server]) -> None:
    server = start_server(make_backend(tmp_path / "be", script(tmp_path, "s.py", SPARSE)))
    none, empty, mixed, full = predict(server, ["none", "empty", "mixed", "full"])
    assert none == [] and empty == []
    assert [p["score"] for p in mixed] == [0.9]
    assert full["result"][0]["value"]["choices"] == ["消极"] and full["score"] == 0.8


def test_which_scripts_learn(tmp_path: Path) -> None:
    assert load_model_class(SCRIPTS / "gen1_text_classifier.py").learns()
    assert load_model_class(SCRIPTS / "gen3_text_classifier.py").learns()
    assert not load_model_class(script(tmp_path, "i.py", INTERACTIVE)).learns()
    assert not load_model_class(script(tmp_path, "s.py", SPARSE)).learns()
    from label_studio_ml.helpers import LabelStudioMLChoices  # labelloop's stand-in

    class NoFit2(LabelStudioMLChoices):
        pass

    class WithFit2(LabelStudioMLChoices):
        def fit2(self, X: Any, y: Any, **kwargs: Any) -> Any:  # noqa: N803
            return {}

    assert not foreign_learns(NoFit2) and foreign_learns(WithFit2)
