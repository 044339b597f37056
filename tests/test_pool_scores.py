"""Scoring the unlabeled pool for re-scoring: a model's ``predict_with_features`` gives the
predictions and the clustering features in one pass, and gives what ``predict`` and
``features`` give."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from labelloop.examples.corpus import as_tasks, sentiment_corpus
from labelloop.examples.simple_text_classifier import SimpleTextClassifier
from labelloop.training.pool_scores import PoolScores, score_pool
from labelloop.training.task_pool import TASKS, PoolState, TaskPool

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
          '<Choice value="积极"/><Choice value="消极"/></Choices></View>')


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> SimpleTextClassifier:
    workdir = tmp_path_factory.mktemp("model")
    output = SimpleTextClassifier(CONFIG).fit(as_tasks(sentiment_corpus(1)[:400]), workdir)
    return SimpleTextClassifier(CONFIG, train_output=output)


def pool_of(texts: list[str], folder: Path) -> TaskPool:
    folder.mkdir(parents=True)
    (folder / TASKS).write_bytes(b"".join(
        orjson.dumps({"id": i + 1, "data": {"text": t}}) + b"\n" for i, t in enumerate(texts)))
    return TaskPool(folder)


def unseen(n: int) -> list[str]:
    return [t for t, _ in sentiment_corpus(2)[:n]] + ["", "unseen words", "很好", "很好"]


def test_predict_with_features_is_predict_and_features(model: SimpleTextClassifier) -> None:
    tasks = [{"id": i, "data": {"text": t}} for i, t in enumerate(unseen(300))]
    predictions, features = model.predict_with_features(tasks)
    expected = model.predict(tasks)
    assert [p["result"][0]["value"] for p in predictions] == [
        p["result"][0]["value"] for p in expected]
    assert np.allclose([p["score"] for p in predictions], [p["score"] for p in expected])
    assert features.shape == model.features(tasks).shape
    assert abs(features - model.features(tasks)).max() < 1e-12


class TwoCalls:
    """The founding classifier without its one-pass hook: ``predict``, then ``features``."""

    def __init__(self, model: SimpleTextClassifier) -> None:
        self.model = model
        self.calls: list[str] = []

    def predict(self, tasks: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append("predict")
        return self.model.predict(tasks)

    def features(self, tasks: list[dict[str, Any]]) -> Any:
        self.calls.append("features")
        return self.model.features(tasks)


class OnePass(TwoCalls):
    def predict_with_features(self, tasks: list[dict[str, Any]]) -> tuple[list[Any], Any]:
        self.calls.append("predict_with_features")
        return self.model.predict_with_features(tasks)


def scored(model: Any, pool: TaskPool, chunk: int = 100) -> PoolScores:
    with tempfile.TemporaryFile("w+b") as spool:
        return score_pool(model, pool, {3}, chunk, spool, lambda n: None)


def test_the_pool_is_scored_and_clustered_in_one_pass_the_same(
        model: SimpleTextClassifier, tmp_path: Path) -> None:
    pool = pool_of(unseen(250), tmp_path / "pool")
    two, one = TwoCalls(model), OnePass(model)
    a, b = scored(two, pool), scored(one, pool)
    assert set(two.calls) == {"predict", "features"}
    assert set(one.calls) == {"predict_with_features"}  # neither predict nor features
    assert a.task_ids == b.task_ids and 3 not in a.task_ids  # the labeled task is left out
    assert np.allclose(a.confidences, b.confidences)
    assert a.clusters == b.clusters and len(set(a.clusters)) > 1
    assert a.order() == b.order()


class WrongCount(TwoCalls):
    def predict_with_features(self, tasks: list[dict[str, Any]]) -> tuple[list[Any], Any]:
        predictions, features = self.model.predict_with_features(tasks)
        return predictions[:-1], features


def test_a_wrong_number_of_predictions_is_an_error_naming_the_hook(
        model: SimpleTextClassifier, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"WrongCount\.predict_with_features\(\) returned"):
        scored(WrongCount(model), pool_of(unseen(20), tmp_path / "pool"))


def test_candidates_are_the_last_ones_least_certain_and_every_task_listed_since(
        model: SimpleTextClassifier, tmp_path: Path) -> None:
    pool = pool_of(unseen(250), tmp_path / "pool")
    assert pool.candidates() is None  # nothing scored yet: the whole pool goes first
    pool._save(PoolState(max_id=254))  # what a listing of ids 1..254 leaves
    whole = scored(OnePass(model), pool)
    least = [whole.task_ids[i] for i in whole.order()[:30]]
    pool.note_candidates(least, len(whole.task_ids))
    candidates = pool.candidates()
    assert candidates is not None and candidates.narrower
    assert all(t in candidates for t in least) and 255 in candidates  # listed since
    assert not any(t in candidates for t in set(whole.task_ids) - set(least))

    with tempfile.TemporaryFile("w+b") as spool:
        part = score_pool(model, pool, {3}, 100, spool, lambda n: None, candidates.__contains__)
    assert sorted(part.task_ids) == sorted(least)
    pool.note_candidates(whole.task_ids, len(whole.task_ids))
    covering = pool.candidates()
    assert covering is not None and not covering.narrower  # first would be all: no gain
    pool.forget()
    assert pool.candidates() is None
