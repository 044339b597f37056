"""One label per task from several annotators: latest, majority vote, or Dawid-Skene.

The input is plain rows ``(task, annotator, label, order)``: any hashable task and
annotator keys, any hashable label, and an order key that sorts oldest to newest (for
Label Studio annotations: the task id, ``completed_by``, the chosen label, and
``updated_at`` or ``id``). Nothing here knows the shape of a Label Studio task.

Each annotator has one voice per task: when a task has several rows from one annotator,
the newest stands (an annotation that was edited is one opinion, not two). Among rows
with equal order keys, the later in the input counts as newer.

- :func:`latest`: the newest annotation of each task wins.
- :func:`majority`: the most frequent label; a tie goes to the tied label whose newest
  vote is the newest.
- :func:`dawid_skene`: expectation-maximisation over one confusion matrix per annotator
  (how often they answer ``l`` when the truth is ``j``), from the majority vote's shares,
  so a careful annotator outweighs two careless ones and a random one counts for nothing.

Each gives, per task, the label, its *agreement* (the share of the task's votes that chose
it) and for Dawid-Skene the *posterior* of that label; and per annotator an estimated
accuracy: for latest and majority, the share of their votes that match the consensus
(their own vote included, so it leans high); for Dawid-Skene, the posterior probability
that their votes are right, averaged over their votes.

>>> rows = [("t1", "ann", "cat", 1), ("t1", "bob", "dog", 2), ("t1", "cy", "cat", 3),
...         ("t2", "ann", "dog", 4), ("t2", "bob", "cat", 5)]
>>> latest(rows).labels()
{'t1': 'cat', 't2': 'cat'}
>>> result = majority(rows)  # t2 is a tie: bob's "cat" is newer than ann's "dog"
>>> result.labels(), result.tasks["t1"].agreement
({'t1': 'cat', 't2': 'cat'}, 0.6666666666666666)
>>> result.annotator_accuracy
{'ann': 0.5, 'bob': 0.5, 'cy': 1.0}
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar


class _Orderable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


T = TypeVar("T", bound=Hashable)  # a task key
A = TypeVar("A", bound=Hashable)  # an annotator key
L = TypeVar("L", bound=Hashable)  # a label
Row = tuple[T, A, L, _Orderable]
_TINY = 1e-300


@dataclass(frozen=True)
class TaskConsensus(Generic[L]):
    """The consensus on one task."""

    label: L
    agreement: float  # share of the task's votes (one per annotator) that chose ``label``
    votes: int
    posterior: float | None = None  # Dawid-Skene's probability of ``label``; else None


@dataclass(frozen=True)
class Consensus(Generic[T, A, L]):
    """What :func:`latest`, :func:`majority` and :func:`dawid_skene` return."""

    method: str
    tasks: dict[T, TaskConsensus[L]]
    annotator_accuracy: dict[A, float]
    iterations: int = 0  # Dawid-Skene's EM rounds; 0 for the others
    converged: bool = True
    classes: list[L] = field(default_factory=list)  # Dawid-Skene's label order

    def labels(self) -> dict[T, L]:
        """The consensus label of each task, in the order tasks first appear."""
        return {task: verdict.label for task, verdict in self.tasks.items()}


@dataclass
class _Votes(Generic[T, A, L]):
    """The rows reduced to one vote per (task, annotator): the newest."""

    # task -> annotator -> (label, rank); rank grows with the order key (then input order)
    by_task: dict[T, dict[A, tuple[L, int]]]

    @classmethod
    def of(cls, rows: Iterable[Row[T, A, L]]) -> _Votes[T, A, L]:
        listed = list(rows)
        for row in listed:
            if len(row) != 4:
                raise ValueError(f"a row is (task, annotator, label, order), got {row!r}")
        # A stable sort on the order key alone: equal keys keep their input order.
        ranked = sorted(range(len(listed)), key=lambda i: listed[i][3])
        rank = {i: r for r, i in enumerate(ranked)}
        by_task: dict[T, dict[A, tuple[L, int]]] = {}
        for i, (task, annotator, label, _) in enumerate(listed):
            votes = by_task.setdefault(task, {})
            if annotator not in votes or votes[annotator][1] < rank[i]:
                votes[annotator] = (label, rank[i])
        return cls(by_task)

    def agreement(self, task: T, label: L) -> float:
        votes = self.by_task[task].values()
        return sum(lab == label for lab, _ in votes) / len(votes)

    def share_matching(self, chosen: dict[T, L]) -> dict[A, float]:
        """Per annotator, the share of their votes equal to ``chosen``'s label."""
        hits: dict[A, int] = {}
        counts: dict[A, int] = {}
        for task, votes in self.by_task.items():
            for annotator, (label, _) in votes.items():
                hits[annotator] = hits.get(annotator, 0) + (label == chosen[task])
                counts[annotator] = counts.get(annotator, 0) + 1
        return {a: hits[a] / counts[a] for a in counts}

    def summary(self, method: str, chosen: dict[T, L]) -> Consensus[T, A, L]:
        tasks = {t: TaskConsensus(label, self.agreement(t, label), len(self.by_task[t]))
                 for t, label in chosen.items()}
        return Consensus(method, tasks, self.share_matching(chosen))


def latest(rows: Iterable[Row[T, A, L]]) -> Consensus[T, A, L]:
    """The newest annotation of each task wins."""
    votes = _Votes.of(rows)
    chosen = {task: max(v.values(), key=lambda vote: vote[1])[0]
              for task, v in votes.by_task.items()}
    return votes.summary("latest", chosen)


def majority(rows: Iterable[Row[T, A, L]]) -> Consensus[T, A, L]:
    """The most frequent label of each task; a tie goes to the label voted for last."""
    votes = _Votes.of(rows)
    chosen = {task: _majority_label(v) for task, v in votes.by_task.items()}
    return votes.summary("majority", chosen)


def _majority_label(votes: dict[A, tuple[L, int]]) -> L:
    count: dict[L, int] = {}
    newest: dict[L, int] = {}
    for label, rank in votes.values():
        count[label] = count.get(label, 0) + 1
        newest[label] = max(newest.get(label, rank), rank)
    return max(count, key=lambda label: (count[label], newest[label]))


def dawid_skene(rows: Iterable[Row[T, A, L]], *, classes: Sequence[L] | None = None,
                smoothing: float = 0.1, max_iterations: int = 300,
                tolerance: float = 1e-4) -> Consensus[T, A, L]:
    """Dawid and Skene's EM: the true label of each task is hidden, each annotator
    answers through their own confusion matrix, and the two are estimated in turn.

    It starts from each task's vote shares, then alternates: class priors and confusion
    matrices from the current task posteriors (``smoothing`` is added to every count,
    so that a cell never seen is not a certain impossibility), then the posteriors from
    those. It stops when no posterior moves more than ``tolerance``, or after
    ``max_iterations`` rounds (``converged`` then says False). A posterior tie goes to
    the majority label.

    ``classes`` fixes the labels and their order (default: in order of first appearance);
    a vote for a label outside it raises ValueError.

    Kim and Lee agree on tasks 0-7, where Max is right half the time; on task 8 Kim and
    Max split, and Max answered last:

    >>> rows = [(t, who, "a" if t < 4 else "b", 1) for t in range(8) for who in ("kim", "lee")]
    >>> rows += [(t, "max", "ab"[t % 2], 2) for t in range(8)]
    >>> rows += [(8, "kim", "b", 1), (8, "max", "a", 2)]
    >>> majority(rows).labels()[8], dawid_skene(rows).labels()[8]
    ('a', 'b')
    >>> result = dawid_skene(rows)
    >>> {who: round(accuracy, 2) for who, accuracy in result.annotator_accuracy.items()}
    {'kim': 1.0, 'lee': 1.0, 'max': 0.45}
    >>> task = result.tasks[8]
    >>> task.label, task.agreement, round(task.posterior or 0, 2), result.converged
    ('b', 0.5, 0.98, True)
    """
    if smoothing < 0 or max_iterations < 1 or tolerance < 0:
        raise ValueError("smoothing and tolerance must be >= 0 and max_iterations >= 1")
    votes = _Votes.of(rows)
    model = _DawidSkene(votes, _classes(votes, classes), smoothing)
    iterations, converged = model.run(max_iterations, tolerance)
    return model.result(iterations, converged)


def _classes(votes: _Votes[T, A, L], classes: Sequence[L] | None) -> list[L]:
    seen = list(dict.fromkeys(label for v in votes.by_task.values() for label, _ in v.values()))
    if classes is None:
        return seen
    unknown = [label for label in seen if label not in set(classes)]
    if unknown:
        raise ValueError(f"votes for labels outside classes: {unknown!r}")
    return list(classes)


class _DawidSkene(Generic[T, A, L]):
    """The EM state: class ``prior[j]``, ``confusion[a][j][l]`` (annotator a answers l
    when the truth is j), and the posteriors ``post[v][j]`` (class j) of each *voting
    pattern* v: tasks with the same votes from the same annotators always share their
    posterior, so EM runs over the distinct patterns (32 for 4 annotators, 3 a task
    and 2 labels), each weighted by its number of tasks."""

    def __init__(self, votes: _Votes[T, A, L], classes: list[L], smoothing: float) -> None:
        self.votes, self.classes, self.smoothing = votes, classes, smoothing
        index = {label: j for j, label in enumerate(classes)}
        self.annotators = list(dict.fromkeys(a for v in votes.by_task.values() for a in v))
        who = {a: n for n, a in enumerate(self.annotators)}
        self.pattern_of: dict[T, int] = {}
        found: dict[tuple[tuple[int, int], ...], int] = {}
        for task, task_votes in votes.by_task.items():
            # (annotator number, class number) of each vote, in a canonical order.
            key = tuple(sorted((who[a], index[label]) for a, (label, _) in task_votes.items()))
            self.pattern_of[task] = found.setdefault(key, len(found))
        self.patterns = list(found)
        self.weight = [0] * len(found)
        for pattern in self.pattern_of.values():
            self.weight[pattern] += 1
        self.post = [self._shares(v) for v in self.patterns]
        self.prior: list[float] = []
        self.confusion: list[list[list[float]]] = []

    def _shares(self, pattern: tuple[tuple[int, int], ...]) -> list[float]:
        shares = [0.0] * len(self.classes)
        for _, label in pattern:
            shares[label] += 1 / len(pattern)
        return shares

    def run(self, max_iterations: int, tolerance: float) -> tuple[int, bool]:
        """EM rounds until the posteriors settle; (rounds run, settled)."""
        for iteration in range(1, max_iterations + 1):
            self._maximise()
            moved = self._expect()
            if moved <= tolerance:
                return iteration, True
        return max_iterations, False

    def _maximise(self) -> None:
        k, s = len(self.classes), self.smoothing
        totals = [0.0] * k
        counts = [[[0.0] * k for _ in range(k)] for _ in self.annotators]
        for post, pattern, weight in zip(self.post, self.patterns, self.weight, strict=True):
            for j in range(k):
                totals[j] += weight * post[j]
                for a, label in pattern:
                    counts[a][j][label] += weight * post[j]
        self.prior = [(totals[j] + s) / (sum(self.weight) + k * s) for j in range(k)]
        self.confusion = [[_normalised(row, s) for row in matrix] for matrix in counts]

    def _expect(self) -> float:
        """New posteriors; returns the largest change of any of them."""
        moved = 0.0
        log_prior = [_log(p) for p in self.prior]
        for v, pattern in enumerate(self.patterns):
            logs = list(log_prior)
            for a, label in pattern:
                for j in range(len(logs)):
                    logs[j] += _log(self.confusion[a][j][label])
            post = _softmax(logs)
            moved = max(moved, *(abs(x - y) for x, y in zip(post, self.post[v], strict=True)))
            self.post[v] = post
        return moved

    def result(self, iterations: int, converged: bool) -> Consensus[T, A, L]:
        tasks = {}
        for task, votes in self.votes.by_task.items():
            post = self.post[self.pattern_of[task]]
            best = max(post)
            tied = [self.classes[j] for j, p in enumerate(post) if p == best]
            fallback = _majority_label(votes)
            label = fallback if fallback in tied else tied[0]
            tasks[task] = TaskConsensus(label, self.votes.agreement(task, label), len(votes),
                                        best)
        return Consensus("dawid_skene", tasks, self._accuracy(), iterations, converged,
                         list(self.classes))

    def _accuracy(self) -> dict[A, float]:
        """Per annotator, the mean posterior of the labels they gave."""
        right = [0.0] * len(self.annotators)
        count = [0] * len(self.annotators)
        for post, pattern, weight in zip(self.post, self.patterns, self.weight, strict=True):
            for a, label in pattern:
                right[a] += weight * post[label]
                count[a] += weight
        return {name: right[a] / count[a] for a, name in enumerate(self.annotators)}


def _normalised(counts: list[float], smoothing: float) -> list[float]:
    total = sum(counts) + smoothing * len(counts)
    if total <= 0:  # an annotator never seen on this class, and no smoothing: no evidence
        return [1 / len(counts)] * len(counts)
    return [(c + smoothing) / total for c in counts]


def _log(p: float) -> float:
    # Without smoothing a probability can be 0: a large finite penalty rather than -inf
    # keeps the softmax defined when every class is "impossible".
    return math.log(max(p, _TINY))


def _softmax(logs: list[float]) -> list[float]:
    top = max(logs)
    exps = [math.exp(x - top) for x in logs]
    total = sum(exps)
    return [e / total for e in exps]
