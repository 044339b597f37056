"""Score a model's predictions against annotations, for every result type the SDK builds.

labelloop holds out annotated tasks when it trains a version, runs the model's own
``predict()`` on them and hands both to :func:`evaluate`. The evaluator knows nothing
about the model: it only compares Label Studio results, control by control (regions are
matched to controls by ``from_name``).

- ``choices``: accuracy (primary), macro-F1, per-label precision/recall/F1 and a confusion
  matrix (rows = gold, columns = predicted, plus a ``"(none)"`` column when the model
  chose nothing). With ``choice="multiple"``: exact-set accuracy (primary), and
  per-label P/R/F1 treating each label as a yes/no decision.
- ``labels`` (text spans, NER): entity-level micro-F1 (primary), per label, and the
  rate of tasks whose whole set of spans is right. A predicted span counts only when
  ``start``, ``end`` (and ``startOffset``/``endOffset`` when present) and the label all
  equal a gold span's.
- ``rectanglelabels``: F1 at IoU >= ``iou_threshold`` (primary; 0.5 by default), per
  label. Boxes are matched one-to-one, greedily by descending IoU, within the same
  label. IoU is computed on the percent coordinates Label Studio stores (IoU does not
  change when each axis is scaled, so pixels would give the same number); **rotation
  is ignored**.
- ``textarea``: exact-match rate of the list of texts, each whitespace-trimmed.

The gold answer of a task is its latest annotation that was not cancelled. An empty
result there is a real answer ("nothing here") for spans, boxes and text; a choices
control needs an annotation that actually chose, as :func:`first_choice` does.

>>> from labelloop.sdk import choices_region, parse_label_config, prediction
>>> cfg = parse_label_config('<View><Text name="t" value="$t"/><Choices name="s" toName="t">'
...                          '<Choice value="pos"/><Choice value="neg"/></Choices></View>')
>>> def task(label):
...     return {"data": {"t": "..."},
...             "annotations": [{"result": [choices_region("s", "t", [label])]}]}
>>> said_pos = prediction([choices_region("s", "t", ["pos"])])
>>> tasks = [task("pos"), task("neg"), task("neg"), {"data": {"t": "?"}, "annotations": []}]
>>> ev = evaluate(cfg, tasks, [said_pos, said_pos, None, said_pos])
>>> ev.primary, ev.score, ev.n_eval, ev.n_skipped
('accuracy', 0.3333333333333333, 3, 1)
>>> out = ev.to_dict()
>>> out["score"], out["controls"]["s"]["per_label"]["pos"]
(0.3333, {'precision': 0.5, 'recall': 1.0, 'f1': 0.6667, 'support': 1, 'predicted': 2})
>>> out["controls"]["s"]["confusion"]  # rows: gold pos, neg; the model chose nothing once
{'labels': ['pos', 'neg'], 'columns': ['pos', 'neg', '(none)'], 'matrix': [[1, 0, 0], [1, 0, 1]]}
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labelloop.sdk.annotations import usable_annotations
from labelloop.sdk.label_config import ControlTag, LabelConfig
from labelloop.sdk.model import Task
from labelloop.sdk.predictions import Prediction, Region

Metrics = dict[str, Any]
Box = tuple[float, float, float, float]  # x, y, width, height in percent
# One (gold regions, predicted regions) pair per evaluated task, for one control.
Pairs = list[tuple[list[Region], list[Region]]]

EVALUATED_TYPES = ("choices", "labels", "rectanglelabels", "textarea")
PRIMARY_METRIC = {"choices": "accuracy", "labels": "f1", "rectanglelabels": "f1",
                  "textarea": "exact_match"}
NO_PREDICTION = "(none)"
# What locates a span: plain text uses start/end; Paragraphs add startOffset/endOffset.
_SPAN_FIELDS = ("start", "end", "startOffset", "endOffset")
_DIGITS = 4


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`evaluate`; :meth:`to_dict` is what job_result.json stores.

    ``primary`` names the metric in ``score``: the control's primary metric when the
    config has one evaluated control, ``"mean"`` (the mean of each control's primary)
    when it has several, and ``"none"`` when it has none.
    """

    primary: str
    score: float
    n_eval: int
    n_skipped: int
    controls: Mapping[str, Metrics] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: floats rounded to 4 digits, never NaN or infinite."""
        return {
            "primary": self.primary,
            "score": _clean(self.score),
            "n_eval": self.n_eval,
            "n_skipped": self.n_skipped,
            "controls": _clean(dict(self.controls)),
        }


def evaluate(config: LabelConfig, tasks: Sequence[Task],
             predictions: Sequence[Prediction | list[Prediction] | None], *,
             iou_threshold: float = 0.5) -> Evaluation:
    """Compare ``predictions[i]`` with the latest annotation of ``tasks[i]``.

    A task counts when at least one evaluated control has a gold answer in it; the
    others are skipped and counted in ``n_skipped``. A prediction may be one dict, a
    list of them (the first is used), or None (the model gave nothing).
    """
    if len(tasks) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(tasks)} tasks")
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    controls = [c for c in config.controls if c.type in EVALUATED_TYPES]
    pairs: dict[str, Pairs] = {c.name: [] for c in controls}
    n_eval = 0
    for task, pred in zip(tasks, predictions, strict=True):
        predicted = _prediction_result(pred)
        counted = False
        for control in controls:
            gold = _gold_regions(task, control)
            if gold is not None:
                pairs[control.name].append((gold, _regions_of(predicted, control.name)))
                counted = True
        n_eval += counted
    results = {c.name: _score_control(c, pairs[c.name], iou_threshold) for c in controls}
    primary, score = _overall(results)
    return Evaluation(primary, score, n_eval, len(tasks) - n_eval, results)


# ---- reading gold answers and predictions --------------------------------------------


def _gold_regions(task: Task, control: ControlTag) -> list[Region] | None:
    """The control's gold regions in ``task``, or None when the task has no answer for it."""
    if control.type == "choices":
        # The latest annotation that chose something: what first_choice, and so fit, uses.
        for ann in reversed(usable_annotations(task)):
            chosen = [r for r in _regions_of(ann.get("result"), control.name)
                      if _strings(r, "choices")]
            if chosen:
                return chosen
        return None
    latest = _latest_answer(task)
    return None if latest is None else _regions_of(latest, control.name)


def _latest_answer(task: Task) -> list[Any] | None:
    """The result of the latest non-cancelled annotation, even an empty one."""
    # usable_annotations drops empty results, but for spans, boxes and text an empty
    # result is an answer: the annotator says there is nothing to mark.
    for ann in reversed(task.get("annotations") or []):
        if isinstance(ann, dict) and not ann.get("was_cancelled"):
            result = ann.get("result")
            if isinstance(result, list):
                return result
    return None


def _prediction_result(pred: Prediction | list[Prediction] | None) -> list[Any]:
    if isinstance(pred, list):
        pred = pred[0] if pred else None
    result = pred.get("result") if isinstance(pred, dict) else None
    return result if isinstance(result, list) else []


def _regions_of(result: Any, from_name: str) -> list[Region]:
    if not isinstance(result, list):
        return []
    return [r for r in result if isinstance(r, dict) and r.get("from_name") == from_name]


def _strings(region: Region, key: str) -> list[str]:
    """``region["value"][key]`` as a list of strings (a bare string becomes a list of one)."""
    value = region.get("value")
    items = value.get(key) if isinstance(value, dict) else None
    if isinstance(items, str):
        items = [items]
    return [str(i) for i in items] if isinstance(items, list) else []


def _all_strings(regions: list[Region], key: str) -> list[str]:
    return [s for r in regions for s in _strings(r, key)]


# ---- scoring each control type ---------------------------------------------------------


def _score_control(control: ControlTag, pairs: Pairs, iou_threshold: float) -> Metrics:
    if control.type == "choices" and control.choice == "multiple":
        metrics = _score_multi_choice(control, pairs)
    elif control.type == "choices":
        metrics = _score_single_choice(control, pairs)
    elif control.type == "labels":
        metrics = _score_spans(control, pairs)
    elif control.type == "rectanglelabels":
        metrics = _score_boxes(control, pairs, iou_threshold)
    else:
        metrics = _score_text(pairs)
    primary = PRIMARY_METRIC[control.type]
    return {"type": control.type, "primary": primary, "score": metrics[primary],
            "n": len(pairs), **metrics}


def _score_single_choice(control: ControlTag, pairs: Pairs) -> Metrics:
    # Gold always has a choice (see _gold_regions); a single-choice control keeps the first.
    gold = [_all_strings(g, "choices")[0] for g, _ in pairs]
    pred = [(_all_strings(p, "choices") or [NO_PREDICTION])[0] for _, p in pairs]
    tally = _Tally()
    for g, p in zip(gold, pred, strict=True):
        tally.add_sets({g}, {p} - {NO_PREDICTION})
    labels = _ordered(control.labels, tally.seen())
    per_label = tally.per_label(labels)
    return {
        "accuracy": _ratio(sum(g == p for g, p in zip(gold, pred, strict=True)), len(pairs)),
        "macro_f1": _mean([m["f1"] for m in per_label.values()]),
        "per_label": per_label,
        "confusion": _confusion(labels, gold, pred),
    }


def _score_multi_choice(control: ControlTag, pairs: Pairs) -> Metrics:
    tally = _Tally()
    exact = 0
    for g, p in pairs:
        gold, pred = set(_all_strings(g, "choices")), set(_all_strings(p, "choices"))
        tally.add_sets(gold, pred)
        exact += gold == pred
    per_label = tally.per_label(_ordered(control.labels, tally.seen()))
    return {
        "accuracy": _ratio(exact, len(pairs)),
        "macro_f1": _mean([m["f1"] for m in per_label.values()]),
        "per_label": per_label,
    }


def _confusion(labels: list[str], gold: list[str], pred: list[str]) -> Metrics:
    columns = labels + ([NO_PREDICTION] if NO_PREDICTION in pred else [])
    column = {label: i for i, label in enumerate(columns)}
    matrix = [[0] * len(columns) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        matrix[column[g]][column[p]] += 1
    return {"labels": labels, "columns": columns, "matrix": matrix}


def _score_spans(control: ControlTag, pairs: Pairs) -> Metrics:
    tally = _Tally()
    exact = 0
    for g, p in pairs:
        gold, pred = _span_keys(g), _span_keys(p)
        exact += gold == pred
        # Counters, not sets: a span predicted twice is one hit and one false positive.
        for key in gold | pred:
            hit = min(gold[key], pred[key])
            tally.add(key[-1], hit, pred[key] - hit, gold[key] - hit)
    return {**tally.micro(), "exact_match": _ratio(exact, len(pairs)),
            "per_label": tally.per_label(_ordered(control.labels, tally.seen()))}


def _span_keys(regions: list[Region]) -> Counter[tuple[Any, ...]]:
    """One (start, end, startOffset, endOffset, label) per label of each region."""
    keys: Counter[tuple[Any, ...]] = Counter()
    for region in regions:
        value = region.get("value")
        if not isinstance(value, dict):
            continue
        where = tuple(value.get(f) for f in _SPAN_FIELDS)
        if all(w is None or isinstance(w, (int, float, str)) for w in where):
            for label in _strings(region, "labels"):
                key = (*where, label)
                keys[key] += 1
    return keys


def _score_boxes(control: ControlTag, pairs: Pairs, iou_threshold: float) -> Metrics:
    tally = _Tally()
    for g, p in pairs:
        gold, pred = _boxes(g), _boxes(p)
        for label in gold.keys() | pred.keys():
            gb, pb = gold.get(label, []), pred.get(label, [])
            hit = _greedy_matches(gb, pb, iou_threshold)
            tally.add(label, hit, len(pb) - hit, len(gb) - hit)
    return {**tally.micro(), "iou_threshold": iou_threshold,
            "per_label": tally.per_label(_ordered(control.labels, tally.seen()))}


def _boxes(regions: list[Region]) -> dict[str, list[Box]]:
    by_label: dict[str, list[Box]] = {}
    for region in regions:
        box = _box(region.get("value"))
        if box is not None:
            for label in _strings(region, "rectanglelabels"):
                by_label.setdefault(label, []).append(box)
    return by_label


def _box(value: Any) -> Box | None:
    """x, y, width, height as floats; None if missing, not numbers, or of negative size."""
    if not isinstance(value, dict):
        return None
    coords: list[Any] = [value.get(k) for k in ("x", "y", "width", "height")]
    if not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in coords):
        return None
    x, y, w, h = (float(c) for c in coords)
    return (x, y, w, h) if w >= 0 and h >= 0 else None


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0  # two zero-area boxes never match


def _greedy_matches(gold: list[Box], pred: list[Box], threshold: float) -> int:
    """How many one-to-one pairs reach ``threshold``, taking the best IoU first."""
    candidates = sorted(
        ((_iou(g, p), i, j) for i, g in enumerate(gold) for j, p in enumerate(pred)),
        key=lambda c: (-c[0], c[1], c[2]),  # index tie-break keeps the result stable
    )
    used_gold: set[int] = set()
    used_pred: set[int] = set()
    for iou, i, j in candidates:
        if iou < threshold:
            break
        if i not in used_gold and j not in used_pred:
            used_gold.add(i)
            used_pred.add(j)
    return len(used_gold)


def _score_text(pairs: Pairs) -> Metrics:
    hits = sum(_texts(g) == _texts(p) for g, p in pairs)
    return {"exact_match": _ratio(hits, len(pairs))}


def _texts(regions: list[Region]) -> list[str]:
    # An empty box says nothing, so it is dropped rather than compared.
    return [t.strip() for t in _all_strings(regions, "text") if t.strip()]


# ---- counting and summarising -----------------------------------------------------------


@dataclass
class _Tally:
    """True positives, false positives and false negatives per label."""

    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)

    def add(self, label: str, tp: int, fp: int, fn: int) -> None:
        self.tp[label] += tp
        self.fp[label] += fp
        self.fn[label] += fn

    def add_sets(self, gold: set[str], pred: set[str]) -> None:
        """One yes/no decision per label: chosen by both, by the model only, by gold only."""
        for label in gold | pred:
            self.add(label, int(label in gold and label in pred),
                     int(label not in gold), int(label not in pred))

    def seen(self) -> set[str]:
        return {k for c in (self.tp, self.fp, self.fn) for k, v in c.items() if v}

    def per_label(self, labels: list[str]) -> dict[str, Metrics]:
        out = {}
        for label in labels:
            tp, fp, fn = self.tp[label], self.fp[label], self.fn[label]
            # support and predicted let a reader tell "undefined" from a real 0.0.
            out[label] = {**_prf(tp, fp, fn), "support": tp + fn, "predicted": tp + fp}
        return out

    def micro(self) -> Metrics:
        tp, fp, fn = self.tp.total(), self.fp.total(), self.fn.total()
        return {**_prf(tp, fp, fn), "tp": tp, "fp": fp, "fn": fn}


def _prf(tp: int, fp: int, fn: int) -> Metrics:
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1}


def _ratio(num: float, den: float) -> float:
    # An undefined ratio (nothing predicted, nothing to find) reports 0.0, never NaN.
    return num / den if den else 0.0


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _ordered(config_labels: Sequence[str], seen: set[str]) -> list[str]:
    """The labels in ``seen``: the config's order first, then labels it does not declare."""
    known = [label for label in config_labels if label in seen]
    return known + sorted(seen - set(config_labels))


def _overall(results: Mapping[str, Metrics]) -> tuple[str, float]:
    if not results:
        return "none", 0.0
    primary = next(iter(results.values()))["primary"] if len(results) == 1 else "mean"
    # A control no task answered has no score; averaging its 0.0 in would be a penalty.
    scored = [m["score"] for m in results.values() if m["n"]]
    return primary, _mean(scored)


def _clean(obj: Any) -> Any:
    """JSON-able copy: floats rounded, NaN/inf as 0.0, tuples as lists, keys as strings."""
    if isinstance(obj, float):
        return round(obj, _DIGITS) if math.isfinite(obj) else 0.0
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj
