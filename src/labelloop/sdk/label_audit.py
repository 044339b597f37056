"""Find annotations that are probably wrong, from a model's out-of-sample probabilities.

This is confident learning: a class's *threshold* is how sure the model is of that class
on average, and a task whose given label falls short of its own class's threshold while
another class clears its own is a *suspect*. Each class is judged against its own
average, so a model that is timid about a rare class still flags its confident cases.

The probabilities must be out-of-sample (cross-validated, or from a model that never saw
those tasks): a model that has learnt a wrong label agrees with it.

The exact rules, for task ``i`` with given label ``y`` and probabilities ``p[i]``:

- threshold ``t[j]`` = mean of ``p[i][j]`` over the tasks whose given label is ``j``; a
  class no task was given has no threshold and is never suggested;
- ``i`` is a suspect when ``p[i][y] < t[y]`` and at least one other class ``j`` has
  ``p[i][j] >= t[j]``;
- its suggested label is, of the classes that clear their threshold, the one with the
  highest probability (the lowest index on a tie);
- its score is ``p[i][suggested] - p[i][y]``, in (0, 1] for probability rows; suspects
  come highest score first (then by index).

>>> import numpy as np
>>> labels = [0, 0, 0, 1, 1, 1]
>>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9],   # task 2: "0", but looks like 1
...                   [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]])
>>> [round(t, 3) for t in class_thresholds(labels, probs, 2)]  # (0.9+0.8+0.1)/3, (0.8+0.7+0.6)/3
[0.6, 0.7]
>>> find_suspects(labels, probs)
[Suspect(index=2, given=0, suggested=1, score=0.8)]

Task 5 is not a suspect: its 0.6 for "1" is below that class's 0.7, but its 0.4 for "0"
does not reach 0.6 either, so no other class is confident enough to suggest.

A model that gives a label and a score but no probabilities can still be audited, more
roughly, through :func:`probabilities_from_predictions`.

Only numpy is needed (the ``examples`` extra), imported when a function runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt

    Probabilities = npt.ArrayLike
    Floats = npt.NDArray[Any]

# Score ties are ranked by index; the rounding keeps float noise from reordering them.
_SCORE_DIGITS = 12


@dataclass(frozen=True)
class Suspect:
    """A task whose given label the model doubts (see the module for the rules)."""

    index: int  # position in the labels passed in
    given: int
    suggested: int
    score: float  # p(suggested) - p(given)


def class_thresholds(labels: Sequence[int], probs: Probabilities,
                     n_classes: int | None = None) -> list[float]:
    """Per class, the mean probability the model gives it over the tasks labelled with it.

    ``math.inf`` for a class no task is labelled with (nothing to average; never
    suggested). ``n_classes`` defaults to the number of columns of ``probs``.
    """
    import numpy as np

    given, p = _checked(labels, probs, n_classes)
    own = p[np.arange(len(given)), given]
    sums = np.bincount(given, own, minlength=p.shape[1])
    counts = np.bincount(given, minlength=p.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)
    return [float(m) for m in means]


def find_suspects(labels: Sequence[int], probs: Probabilities) -> list[Suspect]:
    """The tasks whose given label looks wrong, most doubtful first.

    ``labels[i]`` is the index of task ``i``'s given label in the columns of ``probs``
    (n tasks x k classes). Raises ValueError on a shape mismatch, a label outside
    ``0..k-1`` or a probability that is not finite.

    >>> find_suspects([0, 1], [[0.9, 0.1], [0.2, 0.8]])  # the model agrees everywhere
    []
    """
    import numpy as np

    given, p = _checked(labels, probs, None)
    thresholds = np.asarray(class_thresholds(given.tolist(), p))
    rows = np.arange(len(given))
    clears = p >= thresholds  # a class with no threshold (inf) never clears
    clears[rows, given] = False  # the given label cannot be its own suggestion
    doubtful = (p[rows, given] < thresholds[given]) & clears.any(axis=1)
    suspects = []
    for i in np.flatnonzero(doubtful).tolist():
        # argmax takes the first of equal maxima: the lowest class index.
        suggested = int(np.argmax(np.where(clears[i], p[i], -np.inf)))
        score = round(float(p[i, suggested] - p[i, given[i]]), _SCORE_DIGITS)
        suspects.append(Suspect(i, int(given[i]), suggested, score))
    return sorted(suspects, key=lambda s: (-s.score, s.index))


def probabilities_from_predictions(predicted: Sequence[int], scores: Sequence[float],
                                   n_classes: int) -> Floats:
    """Probability rows for a model that only gives its label and a score.

    The predicted label gets its score (clipped to [0, 1]); the other classes share the
    rest evenly. A score below ``1 / n_classes`` thus leaves the predicted label below
    the others: the rows say what the model said, no more.

    >>> probabilities_from_predictions([2, 0], [0.8, 1.0], 3).round(3).tolist()
    [[0.1, 0.1, 0.8], [1.0, 0.0, 0.0]]
    """
    import numpy as np

    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    best = np.asarray(predicted, dtype=np.int64).reshape(-1)
    score = np.clip(np.asarray(scores, dtype=np.float64).reshape(-1), 0.0, 1.0)
    if best.shape != score.shape:
        raise ValueError(f"{score.size} scores for {best.size} predicted labels")
    _check_range(best, n_classes)
    if n_classes == 1:
        return np.ones((best.size, 1))
    rows = np.repeat(((1.0 - score) / (n_classes - 1))[:, None], n_classes, axis=1)
    rows[np.arange(best.size), best] = score
    return rows


def _checked(labels: Sequence[int], probs: Probabilities,
             n_classes: int | None) -> tuple[Any, Floats]:
    """(labels as an int array, probs as a float matrix), or ValueError."""
    import numpy as np

    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must be an (n tasks x k classes) matrix, got shape {p.shape}")
    if n_classes is not None and n_classes != p.shape[1]:
        raise ValueError(f"probs has {p.shape[1]} columns for {n_classes} classes")
    given = np.asarray(labels, dtype=np.int64).reshape(-1)
    if given.size != p.shape[0]:
        raise ValueError(f"{given.size} labels for {p.shape[0]} rows of probabilities")
    if not np.isfinite(p).all():
        raise ValueError("probs has NaN or infinite values")
    _check_range(given, p.shape[1])
    return given, p


def _check_range(labels: Any, n_classes: int) -> None:
    outside = labels[(labels < 0) | (labels >= n_classes)]
    if outside.size:
        bad = sorted(set(outside.tolist()))
        raise ValueError(f"labels must be in 0..{n_classes - 1}; got {bad}")
