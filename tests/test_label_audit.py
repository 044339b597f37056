"""Confident learning on hand-made and simulated probabilities, and the founding
classifier's class_probabilities() hook it audits with."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelloop.examples.corpus import as_tasks
from labelloop.examples.simple_text_classifier import C, SimpleTextClassifier, training_matrix
from labelloop.sdk.label_audit import (
    Suspect,
    class_thresholds,
    find_suspects,
    probabilities_from_predictions,
)


def test_thresholds_by_hand() -> None:
    labels = [0, 0, 1, 1, 1]
    probs = [[0.9, 0.05, 0.05], [0.5, 0.3, 0.2], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3],
             [0.3, 0.5, 0.2]]
    t = class_thresholds(labels, probs)
    # class 0: (0.9 + 0.5) / 2; class 1: (0.7 + 0.6 + 0.5) / 3; class 2: nobody given it.
    assert t[0] == pytest.approx(0.7) and t[1] == pytest.approx(0.6)
    assert t[2] == math.inf


def test_suspects_by_hand() -> None:
    labels = [0, 0, 0, 1, 1, 1]
    probs = [[0.95, 0.05], [0.85, 0.15], [0.3, 0.7], [0.1, 0.9], [0.2, 0.8], [0.25, 0.75]]
    # t0 = (0.95 + 0.85 + 0.3) / 3 = 0.7, t1 = (0.9 + 0.8 + 0.75) / 3 = 0.8167.
    # Task 2: p0 = 0.3 < 0.7, but p1 = 0.7 is under t1: not confident enough to suggest.
    assert find_suspects(labels, probs) == []
    # With p1 = 0.9 (t0 drops to 0.6), class 1 clears its threshold: a suspect.
    probs[2] = [0.1, 0.9]
    assert find_suspects(labels, probs) == [Suspect(2, 0, 1, pytest.approx(0.8))]


def test_each_class_is_judged_by_its_own_threshold() -> None:
    # The model is sure of "a" (0.95) but timid about "b" (0.6 on the tasks given "b").
    labels = [0] * 5 + [1] * 5 + [0]
    probs = [[0.95, 0.05]] * 5 + [[0.4, 0.6]] * 5 + [[0.38, 0.62]]
    # The last task, given "a", gets 0.62 for "b": above b's 0.6 (a global 0.8 would
    # not flag it), and its 0.38 for "a" is far below a's threshold (~0.90).
    suspects = find_suspects(labels, probs)
    assert [(s.index, s.given, s.suggested) for s in suspects] == [(10, 0, 1)]
    assert suspects[0].score == pytest.approx(0.24)


def simulated(n: int, k: int, flip_share: float, seed: int) -> tuple[list[int], Any, set[int],
                                                                       list[int]]:
    """(given labels, probabilities, the flipped indices, the true labels). The model is
    right about every task: 0.6-0.95 for its true class; sure (0.9-0.97) on flipped ones."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    flipped = set(rng.choice(n, int(n * flip_share), replace=False).tolist())
    probs = np.empty((n, k))
    given = truth.copy()
    for i in range(n):
        top = rng.uniform(0.9, 0.97) if i in flipped else rng.uniform(0.6, 0.95)
        probs[i] = (1 - top) / (k - 1)
        probs[i, truth[i]] = top
        if i in flipped:
            given[i] = (truth[i] + rng.integers(1, k)) % k
    return given.tolist(), probs, flipped, truth.tolist()


@pytest.mark.parametrize(("k", "seed"), [(2, 0), (3, 1), (5, 2)])
def test_planted_errors_are_found_and_clean_labels_are_not(k: int, seed: int) -> None:
    given, probs, flipped, truth = simulated(400, k, 0.1, seed)
    suspects = find_suspects(given, probs)
    assert {s.index for s in suspects} == flipped
    assert all(s.suggested == truth[s.index] and s.given == given[s.index] for s in suspects)
    scores = [s.score for s in suspects]
    assert scores == sorted(scores, reverse=True) and all(0 < x <= 1 for x in scores)
    for s in suspects:
        assert s.score == pytest.approx(probs[s.index, s.suggested] - probs[s.index, s.given])


def test_ties_rank_by_index_and_suggest_the_lowest_class() -> None:
    labels = [0, 0, 0, 1, 2, 0]
    probs = [[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.1, 0.45, 0.45], [0.1, 0.45, 0.45],
             [0.1, 0.45, 0.45], [0.1, 0.45, 0.45]]
    suspects = find_suspects(labels, probs)
    # t1 = t2 = 0.45: both clear on tasks 2 and 5; the lower class (1) is suggested.
    assert [(s.index, s.suggested) for s in suspects] == [(2, 1), (5, 1)]


def test_one_class_has_no_suspects() -> None:
    assert class_thresholds([0, 0, 0], [[1.0], [0.7], [1.0]]) == [pytest.approx(0.9)]
    assert find_suspects([0, 0, 0], [[1.0], [0.7], [1.0]]) == []


def test_a_class_nobody_was_given_is_never_suggested() -> None:
    labels = [0, 0, 1, 1]
    probs = [[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1], [0.1, 0.7, 0.2]]
    assert find_suspects(labels, probs) == []


def test_no_tasks() -> None:
    assert find_suspects([], np.zeros((0, 3))) == []


@pytest.mark.parametrize(("labels", "probs", "message"), [
    ([0, 2], [[0.5, 0.5], [0.5, 0.5]], "labels must be in 0..1; got \\[2\\]"),
    ([0, -1], [[0.5, 0.5], [0.5, 0.5]], "got \\[-1\\]"),
    ([0], [[0.5, 0.5], [0.5, 0.5]], "1 labels for 2 rows"),
    ([0, 1], [0.5, 0.5], "matrix"),
    ([0, 1], [[0.5, float("nan")], [0.5, 0.5]], "NaN"),
])
def test_bad_input(labels: list[int], probs: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        find_suspects(labels, probs)


def test_thresholds_check_the_number_of_classes() -> None:
    with pytest.raises(ValueError, match="2 columns for 3 classes"):
        class_thresholds([0, 1], [[0.5, 0.5], [0.5, 0.5]], 3)


def test_probabilities_from_predictions() -> None:
    rows = probabilities_from_predictions([1, 0, 3], [0.7, 1.5, -0.2], 4)
    expected = [[0.1, 0.7, 0.1, 0.1], [1.0, 0, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0.0]]
    np.testing.assert_allclose(rows, expected)
    np.testing.assert_allclose(probabilities_from_predictions([0, 0], [0.3, 0.9], 1), [[1], [1]])
    with pytest.raises(ValueError, match="2 scores for 1"):
        probabilities_from_predictions([0], [0.5, 0.5], 2)
    with pytest.raises(ValueError, match="got \\[2\\]"):
        probabilities_from_predictions([2], [0.5], 2)
    with pytest.raises(ValueError, match="at least 1"):
        probabilities_from_predictions([], [], 0)


def test_scores_alone_still_find_confident_mistakes() -> None:
    # A model that says only "class, score": the rows it gets are coarser, but a task
    # it is sure is the other class still stands out.
    predicted = [0, 0, 0, 1, 1, 1, 1]
    scores = [0.9, 0.8, 0.85, 0.9, 0.7, 0.8, 0.95]
    given = [0, 0, 0, 1, 1, 1, 0]  # the last task: given 0, the model is sure of 1
    suspects = find_suspects(given, probabilities_from_predictions(predicted, scores, 2))
    assert [(s.index, s.suggested) for s in suspects] == [(6, 1)]


# ---- the founding classifier's probabilities ---------------------------------------------

WORDS = {"pos": ["good", "great", "fine", "happy", "lovely"],
         "neg": ["bad", "awful", "poor", "sad", "ugly"],
         "neu": ["table", "chair", "paper", "grey", "door"]}
ALL_WORDS = [word for words in WORDS.values() for word in words]


def config(labels: list[str]) -> str:
    choices = "".join(f'<Choice value="{label}"/>' for label in labels)
    return (f'<View><Text name="text" value="$text"/><Choices name="sentiment" '
            f'toName="text">{choices}</Choices></View>')


def sentences(labels: list[str], n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        label = rng.choice(labels)
        words = rng.choices(WORDS[label], k=3) + rng.choices(ALL_WORDS, k=2)
        rng.shuffle(words)
        pairs.append((" ".join(words), label))
    return pairs


@pytest.mark.parametrize("labels", [["pos", "neg"], ["pos", "neg", "neu"]])
def test_class_probabilities_are_the_logistic_regressions(labels: list[str],
                                                          tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    train, test = sentences(labels, 300, 0), sentences(labels, 50, 1)
    output = SimpleTextClassifier(config(labels)).fit(as_tasks(train), tmp_path)
    model = SimpleTextClassifier(config(labels), train_output=output)
    tasks = as_tasks(test, annotated=False)
    classes, probs = model.class_probabilities(tasks)
    assert sorted(classes) == sorted(labels) and probs.shape == (50, len(labels))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # The same numbers scikit-learn gives on the same features (float32 weights: ~1e-6).
    matrix, _, _ = training_matrix([t for t, _ in train])
    reference = LogisticRegression(C=C, max_iter=1000).fit(matrix, [y for _, y in train])
    assert [str(c) for c in reference.classes_] == classes
    np.testing.assert_allclose(probs, reference.predict_proba(model.features(tasks)), atol=1e-5)
    # And the label and score predict() gives.
    preds = model.predict(tasks)
    assert [p["result"][0]["value"]["choices"][0] for p in preds] == \
        [classes[i] for i in probs.argmax(axis=1)]
    np.testing.assert_allclose([p["score"] for p in preds], probs.max(axis=1), atol=1e-6)


def test_class_probabilities_untrained() -> None:
    classes, probs = SimpleTextClassifier(config(["pos", "neg"])).class_probabilities(
        as_tasks([("good", "pos"), ("bad", "neg")], annotated=False))
    assert classes == [] and probs.shape == (2, 0)


def test_class_probabilities_never_overflow(tmp_path: Path) -> None:
    train = sentences(["pos", "neg"], 200, 2)
    output = SimpleTextClassifier(config(["pos", "neg"])).fit(as_tasks(train), tmp_path)
    model = SimpleTextClassifier(config(["pos", "neg"]), train_output=output)
    assert model.scorer is not None
    model.scorer.intercept = model.scorer.intercept - 1e4  # exp(-margin) would overflow
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        _, probs = model.class_probabilities(as_tasks(train[:5], annotated=False))
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
