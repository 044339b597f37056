"""Consensus labels from several annotators: the tie and order rules by hand, and
Dawid-Skene against simulated annotators whose accuracy is known."""

from __future__ import annotations

import random
from typing import Any

import pytest

from labelloop.sdk.consensus import Consensus, dawid_skene, latest, majority

Rows = list[tuple[Any, Any, Any, Any]]


def test_latest_takes_the_newest_annotation() -> None:
    rows = [(1, "ann", "cat", "2026-01-02T10:00:00Z"), (1, "bob", "dog", "2026-01-03T09:00:00Z"),
            (1, "cy", "cat", "2026-01-01T08:00:00Z"), (2, "ann", "dog", "2026-01-01T00:00:00Z")]
    result = latest(rows)
    assert result.labels() == {1: "dog", 2: "dog"}
    assert result.tasks[1].agreement == pytest.approx(1 / 3) and result.tasks[1].votes == 3
    assert result.tasks[1].posterior is None
    # ann and cy disagree with task 1's consensus; ann agrees on task 2.
    assert result.annotator_accuracy == {"ann": 0.5, "bob": 1.0, "cy": 0.0}


def test_latest_breaks_equal_order_keys_by_input_order() -> None:
    assert latest([(1, "a", "x", 5), (1, "b", "y", 5)]).labels() == {1: "y"}
    assert latest([(1, "b", "y", 5), (1, "a", "x", 5)]).labels() == {1: "x"}


def test_majority_ignores_order_when_there_is_a_majority() -> None:
    rows = [(1, "a", "x", 1), (1, "b", "x", 2), (1, "c", "y", 3)]
    result = majority(rows)
    assert result.labels() == {1: "x"} and result.tasks[1].agreement == pytest.approx(2 / 3)


@pytest.mark.parametrize(("orders", "winner"), [((1, 2, 3, 4), "y"), ((1, 4, 3, 2), "x"),
                                                 ((4, 1, 2, 3), "x")])
def test_majority_tie_goes_to_the_label_voted_last(orders: tuple[int, ...], winner: str) -> None:
    labels = ["x", "x", "y", "y"]
    rows = [(1, f"a{i}", label, o) for i, (label, o) in enumerate(zip(labels, orders,
                                                                       strict=True))]
    assert majority(rows).labels() == {1: winner}


def test_an_annotator_has_one_voice_per_task() -> None:
    # ann labelled task 1 "x" twice then changed her mind; bob says "x".
    rows = [(1, "ann", "x", 1), (1, "ann", "x", 2), (1, "ann", "y", 5), (1, "bob", "x", 3)]
    result = majority(rows)
    assert result.tasks[1].votes == 2
    assert result.labels() == {1: "y"}  # one vote each; ann's "y" is the newest
    # Rows out of order: the order key decides which of ann's rows stands.
    assert majority(list(reversed(rows))).labels() == {1: "y"}


def test_a_task_with_one_annotation() -> None:
    rows = [(1, "ann", "x", 1), (2, "ann", "y", 2), (2, "bob", "y", 3), (3, "bob", "x", 4)]
    for method in (latest, majority, dawid_skene):
        result = method(rows)
        assert result.labels() == {1: "x", 2: "y", 3: "x"}
        assert result.tasks[1].votes == 1 and result.tasks[1].agreement == 1.0


def test_one_class() -> None:
    rows = [(t, a, "only", t) for t in range(5) for a in ("ann", "bob")]
    for method in (latest, majority, dawid_skene):
        result = method(rows)
        assert set(result.labels().values()) == {"only"}
        assert result.annotator_accuracy == {"ann": 1.0, "bob": 1.0}
    assert dawid_skene(rows).tasks[0].posterior == 1.0


def test_no_rows() -> None:
    for method in (latest, majority, dawid_skene):
        result = method([])
        assert result.labels() == {} and result.annotator_accuracy == {}


def test_unknown_labels() -> None:
    rows = [(1, "ann", "x", 1), (1, "bob", "maybe", 2)]
    with pytest.raises(ValueError, match="'maybe'"):
        dawid_skene(rows, classes=["x", "y"])
    # A class nobody chose is allowed: it stays possible, just improbable.
    result = dawid_skene([(1, "ann", "x", 1)], classes=["y", "x"])
    assert result.classes == ["y", "x"] and result.labels() == {1: "x"}


def test_bad_rows_and_options() -> None:
    with pytest.raises(ValueError, match="a row is"):
        majority([(1, "ann", "x")])  # type: ignore[list-item]
    for options in ({"smoothing": -1.0}, {"max_iterations": 0}, {"tolerance": -1.0}):
        with pytest.raises(ValueError, match="smoothing"):
            dawid_skene([(1, "a", "x", 1)], **options)  # type: ignore[arg-type]


# ---- simulated annotators -------------------------------------------------------------

POOL = {"expert": 0.95, "good": 0.85, "fair": 0.7, "spammer": 0.5}


def simulate(n_tasks: int, labels: list[str], seed: int, per_task: int = 3,
             pool: dict[str, float] = POOL) -> tuple[Rows, dict[int, str], dict[str, float]]:
    """(rows, true labels, each annotator's real share of right answers). An annotator of
    accuracy a answers right with probability a, else another label at random; the
    spammer (0.5, with two labels) answers at random."""
    rng = random.Random(seed)
    truth = {t: rng.choice(labels) for t in range(n_tasks)}
    rows: Rows = []
    right: dict[str, list[bool]] = {name: [] for name in pool}
    for t in range(n_tasks):
        for name in rng.sample(sorted(pool), per_task):
            ok = rng.random() < pool[name]
            label = truth[t] if ok else rng.choice([x for x in labels if x != truth[t]])
            rows.append((t, name, label, rng.random()))
            right[name].append(label == truth[t])
    return rows, truth, {name: sum(r) / len(r) for name, r in right.items()}


def accuracy(result: Consensus[Any, Any, Any], truth: dict[int, str]) -> float:
    labels = result.labels()
    return sum(labels[t] == y for t, y in truth.items()) / len(truth)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dawid_skene_sees_through_a_spammer(seed: int) -> None:
    rows, truth, real = simulate(1000, ["pos", "neg"], seed)
    result = dawid_skene(rows)
    assert result.converged and result.iterations > 1
    for name, acc in real.items():
        assert result.annotator_accuracy[name] == pytest.approx(acc, abs=0.05), name
    assert result.annotator_accuracy["spammer"] < 0.6
    ds, vote, last = (accuracy(m(rows), truth) for m in (dawid_skene, majority, latest))
    assert ds > vote > last


def test_dawid_skene_with_three_classes_and_a_biased_annotator() -> None:
    rows, truth, _ = simulate(900, ["a", "b", "c"], 3)
    # A fifth annotator who says "a" whatever the truth: right only on a third.
    rows += [(t, "stuck", "a", 2.0) for t in range(0, 900, 2)]
    result = dawid_skene(rows)
    assert result.annotator_accuracy["stuck"] == pytest.approx(
        sum(truth[t] == "a" for t in range(0, 900, 2)) / 450, abs=0.05)
    assert accuracy(result, truth) > accuracy(majority(rows), truth)
    posteriors = [v.posterior for v in result.tasks.values()]
    assert all(p is not None and 1 / 3 <= p <= 1 for p in posteriors)


def test_dawid_skene_stops_at_the_iteration_cap() -> None:
    rows, _, _ = simulate(200, ["pos", "neg"], 4)
    capped = dawid_skene(rows, max_iterations=1)
    assert capped.iterations == 1 and not capped.converged
    full = dawid_skene(rows, tolerance=0.0, max_iterations=7)
    assert full.iterations == 7


def test_no_smoothing_stays_finite() -> None:
    # Without smoothing, confusion cells never seen are 0: every class of task 6 is then
    # "impossible" for some annotator, which must not turn into NaN.
    rows = [(t, who, "x" if t < 3 else "y", t) for t in range(6) for who in ("ann", "bob")]
    rows += [(6, "ann", "x", 7), (6, "bob", "y", 8), (7, "cy", "z", 9)]
    result = dawid_skene(rows, smoothing=0.0)
    assert all(v.posterior is not None and 0 <= v.posterior <= 1
               for v in result.tasks.values())
    assert [result.labels()[t] for t in range(6)] == ["x"] * 3 + ["y"] * 3
