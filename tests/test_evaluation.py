"""The evaluator on hand-made cases; every expected number is worked out in a comment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labelloop.sdk import (
    Prediction,
    Region,
    choices_region,
    parse_label_config,
    prediction,
    rectangle_region,
    span_region,
    textarea_region,
)
from labelloop.sdk.evaluation import Evaluation, evaluate

CHOICES = parse_label_config(
    '<View><Text name="t" value="$t"/><Choices name="s" toName="t">'
    '<Choice value="pos"/><Choice value="neg"/><Choice value="neu"/></Choices></View>')
MULTI = parse_label_config(
    '<View><Text name="t" value="$t"/><Choices name="tags" toName="t" choice="multiple">'
    '<Choice value="a"/><Choice value="b"/><Choice value="c"/></Choices></View>')
NER = parse_label_config(
    '<View><Text name="t" value="$t"/><Labels name="ner" toName="t">'
    '<Label value="PER"/><Label value="ORG"/><Label value="LOC"/></Labels></View>')
BOXES = parse_label_config(
    '<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
    '<Label value="Car"/><Label value="Person"/></RectangleLabels></View>')
TEXTAREA = parse_label_config(
    '<View><Text name="t" value="$t"/><TextArea name="summary" toName="t"/></View>')
TWO = parse_label_config(
    '<View><Text name="t" value="$t"/>'
    '<Choices name="s" toName="t"><Choice value="pos"/><Choice value="neg"/></Choices>'
    '<Labels name="ner" toName="t"><Label value="PER"/><Label value="ORG"/></Labels>'
    '<Rating name="stars" toName="t"/></View>')


def ann(*regions: Region, cancelled: bool = False) -> dict[str, Any]:
    return {"id": 1, "result": list(regions), "was_cancelled": cancelled}


def task(*annotations: dict[str, Any]) -> dict[str, Any]:
    return {"id": 1, "data": {"t": "Alice met Bob at Acme."}, "annotations": list(annotations)}


def pred(*regions: Region) -> Prediction:
    return prediction(list(regions), score=0.5)


def ch(label: str, name: str = "s") -> Region:
    return choices_region(name, "t", [label])


def multi(*labels: str) -> Region:
    return choices_region("tags", "t", list(labels))


def span(start: int, end: int, label: str) -> Region:
    return span_region("ner", "t", start, end, label)


def box(x: float, y: float, w: float, h: float, label: str = "Car") -> Region:
    return rectangle_region("box", "img", x, y, w, h, label)


def text(*texts: str) -> Region:
    return textarea_region("summary", "t", list(texts))


# ---- single choice ---------------------------------------------------------------------


def test_choices_perfect() -> None:
    tasks = [task(ann(ch("pos"))), task(ann(ch("neg"))), task(ann(ch("neu")))]
    ev = evaluate(CHOICES, tasks, [pred(ch("pos")), pred(ch("neg")), pred(ch("neu"))])
    s = ev.controls["s"]
    assert (ev.primary, ev.score, ev.n_eval, ev.n_skipped) == ("accuracy", 1.0, 3, 0)
    assert (s["accuracy"], s["macro_f1"], s["n"]) == (1.0, 1.0, 3)
    assert s["confusion"] == {"labels": ["pos", "neg", "neu"], "columns": ["pos", "neg", "neu"],
                              "matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}


def test_choices_all_wrong() -> None:
    # pos and neg are swapped: each label has tp=0, fp=1, fn=1, so P=R=F1=0.
    tasks = [task(ann(ch("pos"))), task(ann(ch("neg")))]
    ev = evaluate(CHOICES, tasks, [pred(ch("neg")), pred(ch("pos"))])
    s = ev.controls["s"]
    assert (ev.score, s["accuracy"], s["macro_f1"]) == (0.0, 0.0, 0.0)
    assert s["per_label"]["pos"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                     "support": 1, "predicted": 1}
    assert s["confusion"]["matrix"] == [[0, 1], [1, 0]]


def test_choices_partial() -> None:
    # gold pos pos neg neu, predicted pos neg neg (nothing): 2 of 4 right -> accuracy 0.5.
    tasks = [task(ann(ch(g))) for g in ("pos", "pos", "neg", "neu")]
    preds = [pred(ch("pos")), pred(ch("neg")), pred(ch("neg")), None]
    out = evaluate(CHOICES, tasks, preds).to_dict()["controls"]["s"]
    assert out["accuracy"] == 0.5
    # pos: tp1 fp0 fn1 -> P 1, R .5, F1 2/3.  neg: tp1 fp1 fn0 -> P .5, R 1, F1 2/3.
    # neu: tp0 fp0 fn1 -> all 0.  macro-F1 = (2/3 + 2/3 + 0) / 3 = 4/9.
    assert out["per_label"] == {
        "pos": {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2, "predicted": 1},
        "neg": {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1, "predicted": 2},
        "neu": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0},
    }
    assert out["macro_f1"] == 0.4444
    assert out["confusion"] == {
        "labels": ["pos", "neg", "neu"], "columns": ["pos", "neg", "neu", "(none)"],
        "matrix": [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]}


def test_choices_empty_predictions_miss_everything() -> None:
    # None, an empty result, an empty list and a result for another control: all "(none)".
    tasks = [task(ann(ch("pos"))) for _ in range(4)]
    preds: list[Prediction | list[Prediction] | None] = [
        None, {"result": []}, [], pred(ch("pos", name="elsewhere"))]
    s = evaluate(CHOICES, tasks, preds).controls["s"]
    assert (s["accuracy"], s["macro_f1"]) == (0.0, 0.0)
    assert s["per_label"] == {"pos": {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                      "support": 4, "predicted": 0}}
    assert s["confusion"] == {"labels": ["pos"], "columns": ["pos", "(none)"],
                              "matrix": [[0, 4]]}


def test_choices_skips_tasks_without_a_usable_answer() -> None:
    tasks = [
        task(ann(ch("pos"))),                        # counted
        task(),                                      # no annotation
        task(ann(ch("pos"), cancelled=True)),         # only a cancelled one
        task(ann()),                                 # empty result: no choice made
        {"id": 9, "data": {"t": "x"}},               # no "annotations" key at all
    ]
    ev = evaluate(CHOICES, tasks, [pred(ch("pos"))] * 5)
    assert (ev.n_eval, ev.n_skipped, ev.score, ev.controls["s"]["n"]) == (1, 4, 1.0, 1)


def test_choices_gold_is_the_latest_usable_annotation() -> None:
    tasks = [
        task(ann(ch("pos")), ann(ch("neg"))),                   # latest: neg
        task(ann(ch("neg")), ann(ch("pos"), cancelled=True)),   # the cancelled one is ignored
        task(ann(ch("neg")), ann()),                            # an empty result chose nothing
    ]
    s = evaluate(CHOICES, tasks, [pred(ch("neg"))] * 3).controls["s"]
    assert (s["n"], s["accuracy"]) == (3, 1.0)


def test_several_predictions_per_task_use_the_first() -> None:
    tasks = [task(ann(ch("neg"))), task(ann(ch("pos")))]
    preds = [[pred(ch("neg")), pred(ch("pos"))], [pred(ch("neg")), pred(ch("pos"))]]
    s = evaluate(CHOICES, tasks, preds).controls["s"]
    assert s["accuracy"] == 0.5  # right on the first task only
    assert s["confusion"]["matrix"] == [[0, 1], [0, 1]]  # rows pos, neg; columns pos, neg


def test_choices_label_outside_the_config_comes_last() -> None:
    tasks = [task(ann(ch("neg"))), task(ann(ch("pos")))]
    s = evaluate(CHOICES, tasks, [pred(ch("maybe")), pred(ch("pos"))]).controls["s"]
    assert s["confusion"] == {"labels": ["pos", "neg", "maybe"],
                              "columns": ["pos", "neg", "maybe"],
                              "matrix": [[1, 0, 0], [0, 0, 1], [0, 0, 0]]}
    # pos: F1 1; neg: F1 0; maybe: tp0 fp1 fn0 -> F1 0. macro = 1/3.
    assert (s["accuracy"], round(s["macro_f1"], 4)) == (0.5, 0.3333)


# ---- multiple choice -------------------------------------------------------------------


def test_multiple_choice() -> None:
    # gold {a,b} {a} {c}; predicted {a,b} {a,b} nothing. Exact sets: 1 of 3.
    tasks = [task(ann(multi("a", "b"))), task(ann(multi("a"))), task(ann(multi("c")))]
    ev = evaluate(MULTI, tasks, [pred(multi("a", "b")), pred(multi("b", "a")), None])
    out = ev.to_dict()
    assert (out["primary"], out["score"]) == ("accuracy", 0.3333)
    # a: tp2 fp0 fn0 -> 1/1/1.  b: tp1 fp1 fn0 -> P .5 R 1 F1 2/3.  c: tp0 fp0 fn1 -> 0.
    assert out["controls"]["tags"]["per_label"] == {
        "a": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2, "predicted": 2},
        "b": {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1, "predicted": 2},
        "c": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0},
    }
    assert out["controls"]["tags"]["macro_f1"] == 0.5556  # (1 + 2/3 + 0) / 3 = 5/9
    assert "confusion" not in out["controls"]["tags"]


# ---- spans (NER) -----------------------------------------------------------------------


def test_spans_perfect() -> None:
    tasks = [task(ann(span(0, 5, "PER"), span(17, 21, "ORG")))]
    ev = evaluate(NER, tasks, [pred(span(17, 21, "ORG"), span(0, 5, "PER"))])
    n = ev.controls["ner"]
    assert (ev.primary, ev.score) == ("f1", 1.0)
    assert (n["precision"], n["recall"], n["f1"], n["tp"], n["fp"], n["fn"]) == (
        1.0, 1.0, 1.0, 2, 0, 0)
    assert n["exact_match"] == 1.0


def test_spans_all_wrong() -> None:
    # Wrong label on the only gold span: one fp (PER) and one fn (ORG).
    ev = evaluate(NER, [task(ann(span(0, 5, "ORG")))], [pred(span(0, 5, "PER"))])
    n = ev.controls["ner"]
    assert (n["f1"], n["tp"], n["fp"], n["fn"], n["exact_match"]) == (0.0, 0, 1, 1, 0.0)


def test_spans_partial_with_wrong_boundary_and_empty_gold() -> None:
    tasks = [
        task(ann(span(0, 5, "PER"), span(10, 15, "ORG"))),
        task(ann(span(3, 8, "LOC"))),
        task(ann()),   # "no entities here"
        task(ann()),
    ]
    preds = [
        pred(span(0, 5, "PER"), span(10, 14, "ORG")),   # hit; boundary off by one: fp + fn
        pred(span(3, 8, "PER"), span(20, 25, "LOC")),   # wrong label: fp + fn; spurious: fp
        pred(span(0, 4, "ORG")),                        # anything here is a false positive
        None,                                           # nothing, rightly
    ]
    out = evaluate(NER, tasks, preds).to_dict()
    n = out["controls"]["ner"]
    # tp 1, fp 4, fn 2: P 1/5, R 1/3, F1 = 2*(1/5)(1/3)/(1/5+1/3) = 1/4.
    assert (n["tp"], n["fp"], n["fn"]) == (1, 4, 2)
    assert (n["precision"], n["recall"], n["f1"]) == (0.2, 0.3333, 0.25)
    assert out["score"] == 0.25
    assert n["exact_match"] == 0.25  # only the last task
    assert (out["n_eval"], out["n_skipped"], n["n"]) == (4, 0, 4)
    assert n["per_label"] == {
        "PER": {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1, "predicted": 2},
        "ORG": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 2},
        "LOC": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 1},
    }


def test_span_on_empty_gold_is_a_false_positive() -> None:
    ev = evaluate(NER, [task(ann())], [pred(span(0, 5, "PER"))])
    n = ev.controls["ner"]
    assert (ev.n_eval, n["tp"], n["fp"], n["fn"], n["precision"], n["f1"]) == (
        1, 0, 1, 0, 0.0, 0.0)


def test_spans_nothing_gold_nothing_predicted_reports_counts_not_nan() -> None:
    out = evaluate(NER, [task(ann())], [pred()]).to_dict()
    n = out["controls"]["ner"]
    # P, R and F1 are undefined (0/0): reported as 0.0, with zero counts beside them.
    assert (n["precision"], n["recall"], n["f1"], n["tp"], n["fp"], n["fn"]) == (
        0.0, 0.0, 0.0, 0, 0, 0)
    assert (n["exact_match"], n["per_label"]) == (1.0, {})
    json.dumps(out, allow_nan=False)


def test_span_region_with_two_labels_counts_once_per_label() -> None:
    two = span_region("ner", "t", 0, 5, "PER")
    two["value"]["labels"] = ["PER", "ORG"]
    n = evaluate(NER, [task(ann(two))], [pred(span(0, 5, "PER"))]).controls["ner"]
    # gold (0,5,PER) and (0,5,ORG); PER found, ORG missed: P 1, R 1/2, F1 2/3.
    assert (n["tp"], n["fp"], n["fn"], round(n["f1"], 4)) == (1, 0, 1, 0.6667)


def test_span_predicted_twice_is_one_hit_and_one_false_positive() -> None:
    n = evaluate(NER, [task(ann(span(0, 5, "PER")))],
                 [pred(span(0, 5, "PER"), span(0, 5, "PER"))]).controls["ner"]
    assert (n["tp"], n["fp"], n["fn"], n["exact_match"]) == (1, 1, 0, 0.0)


def test_spans_cancelled_and_missing_annotations() -> None:
    tasks = [
        task(ann(span(0, 5, "PER")), ann(cancelled=True)),  # gold: the first one
        task(ann(cancelled=True)),                           # skipped
        task(),                                              # skipped
    ]
    ev = evaluate(NER, tasks, [pred(span(0, 5, "PER")), pred(span(1, 2, "ORG")), None])
    assert (ev.n_eval, ev.n_skipped, ev.score) == (1, 2, 1.0)


# ---- boxes -----------------------------------------------------------------------------


@pytest.mark.parametrize(("height", "matched"), [(4.9, False), (5.1, True)])
def test_box_iou_threshold(height: float, matched: bool) -> None:
    # gold 10x10 at the origin; the prediction is its top part, 10 x height:
    # IoU = 10*height / 100 = 0.49 or 0.51.
    ev = evaluate(BOXES, [task(ann(box(0, 0, 10, 10)))], [pred(box(0, 0, 10, height))])
    b = ev.controls["box"]
    assert (b["tp"], b["fp"], b["fn"], b["f1"]) == (
        (1, 0, 0, 1.0) if matched else (0, 1, 1, 0.0))
    assert b["iou_threshold"] == 0.5


def test_box_threshold_is_a_parameter() -> None:
    ev = evaluate(BOXES, [task(ann(box(0, 0, 10, 10)))], [pred(box(0, 0, 10, 4.9))],
                  iou_threshold=0.4)
    assert (ev.score, ev.controls["box"]["iou_threshold"]) == (1.0, 0.4)


def test_boxes_greedy_one_to_one_same_label() -> None:
    gold = [box(0, 0, 10, 10), box(4, 0, 10, 10)]           # G1 x 0..10, G2 x 4..14
    preds = [box(1, 0, 10, 10),                              # P1 x 1..11
             box(0, 0, 10, 10),                              # P2 = G1
             box(0, 0, 10, 10, "Person")]                    # P3: G1's place, wrong label
    # IoU: P2-G1 1.0; P1-G1 90/110 = .82; P1-G2 70/130 = .54; P2-G2 60/140 = .43.
    # Greedy: P2-G1 first, so P1 takes G2 (.54 >= .5): 2 Car hits. P3 is a Person fp.
    out = evaluate(BOXES, [task(ann(*gold))], [pred(*preds)]).to_dict()
    b = out["controls"]["box"]
    assert (b["tp"], b["fp"], b["fn"]) == (2, 1, 0)
    # P 2/3, R 1, F1 = 2*(2/3)/(5/3) = 0.8.
    assert (b["precision"], b["recall"], b["f1"], out["score"]) == (0.6667, 1.0, 0.8, 0.8)
    assert b["per_label"]["Person"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                        "support": 0, "predicted": 1}


def test_one_gold_box_matches_one_prediction_only() -> None:
    b = evaluate(BOXES, [task(ann(box(0, 0, 10, 10)))],
                 [pred(box(0, 0, 10, 10), box(0, 0, 10, 9))]).controls["box"]
    assert (b["tp"], b["fp"], b["fn"]) == (1, 1, 0)


def test_wide_box_overlap_uses_width_along_x() -> None:
    # gold x 0..40, pred x 5..45, both 10 high: IoU = 35*10 / (400+400-350) = 350/450 = .78.
    # (Width and height swapped, it would be 5*40 / 600 = .33: no match.)
    b = evaluate(BOXES, [task(ann(box(0, 0, 40, 10)))], [pred(box(5, 0, 40, 10))]).controls["box"]
    assert (b["tp"], b["fp"], b["fn"]) == (1, 0, 0)


def test_box_rotation_is_ignored_and_empty_gold_counts() -> None:
    rotated = box(20, 20, 30, 30)
    rotated["value"]["rotation"] = 45.0
    tasks = [task(ann(rotated)), task(ann())]
    b = evaluate(BOXES, tasks, [pred(box(20, 20, 30, 30)), None]).controls["box"]
    assert (b["n"], b["tp"], b["fp"], b["fn"], b["f1"]) == (2, 1, 0, 0, 1.0)


# ---- textarea --------------------------------------------------------------------------


def test_textarea_exact_match() -> None:
    tasks = [task(ann(text("Hello world"))), task(ann(text("a", "b"))), task(ann()),
             task(ann(text("x")))]
    preds = [pred(text("  Hello world \n")),   # same once trimmed
             pred(text("a")),                  # one text short
             None,                             # nothing, rightly
             None]                             # nothing, wrongly
    ev = evaluate(TEXTAREA, tasks, preds)
    assert (ev.primary, ev.score, ev.controls["summary"]["exact_match"]) == (
        "exact_match", 0.5, 0.5)


# ---- several controls, unknown regions, edge cases -------------------------------------


def test_two_controls_score_is_the_mean_of_primaries() -> None:
    junk = {"from_name": "junk", "to_name": "t", "type": "choices",
            "value": {"choices": ["pos"]}}
    tasks = [
        task(ann(ch("pos"), span(0, 5, "PER"))),
        task(ann(ch("neg"), junk)),             # no spans: gold "nothing" for ner
        task(ann(span(0, 3, "PER"))),           # no choice: counted for ner only
    ]
    preds = [
        pred(ch("pos"), span(0, 5, "PER")),
        pred(ch("pos"), span(1, 2, "ORG"), junk),
        pred(ch("pos"), span(0, 3, "PER")),
    ]
    ev = evaluate(TWO, tasks, preds)
    assert set(ev.controls) == {"s", "ner"}  # Rating and "junk" are not evaluated
    s, n = ev.controls["s"], ev.controls["ner"]
    assert (s["n"], s["accuracy"]) == (2, 0.5)                 # 1 of 2
    assert (n["n"], n["tp"], n["fp"], n["fn"]) == (3, 2, 1, 0)  # P 2/3, R 1 -> F1 0.8
    assert round(n["f1"], 4) == 0.8
    assert (ev.primary, round(ev.score, 4), ev.n_eval, ev.n_skipped) == ("mean", 0.65, 3, 0)


def test_unknown_from_name_regions_are_ignored() -> None:
    other = choices_region("other", "t", ["pos"])
    tasks = [task(ann(ch("pos"), other)), task(ann(other))]
    ev = evaluate(CHOICES, tasks, [pred(other), pred(ch("neg"), other)])
    # Task 2's only region is unknown: no gold for "s", skipped. Task 1: predicted nothing.
    assert (ev.n_eval, ev.n_skipped, ev.score) == (1, 1, 0.0)
    assert ev.controls["s"]["confusion"]["columns"] == ["pos", "(none)"]


def test_control_nobody_answered_is_left_out_of_the_mean() -> None:
    cfg = parse_label_config(
        '<View><Text name="t" value="$t"/><Choices name="s" toName="t"><Choice value="pos"/>'
        '</Choices><TextArea name="summary" toName="t"/></View>')
    ev = evaluate(cfg, [task(ann()), task(ann())], [None, pred()])
    assert (ev.controls["s"]["n"], ev.controls["summary"]["exact_match"]) == (0, 1.0)
    assert (ev.primary, ev.score, ev.n_eval) == ("mean", 1.0, 2)


def test_nothing_to_evaluate() -> None:
    ev = evaluate(CHOICES, [task(), task()], [None, None])
    assert (ev.score, ev.n_eval, ev.n_skipped, ev.controls["s"]["n"]) == (0.0, 0, 2, 0)
    rating = parse_label_config(
        '<View><Text name="t" value="$t"/><Rating name="r" toName="t"/></View>')
    assert evaluate(rating, [task(ann())], [None]) == Evaluation("none", 0.0, 0, 1, {})


def test_to_dict_is_plain_rounded_json() -> None:
    tasks = [task(ann(ch("pos"))), task(ann(ch("pos"))), task(ann(ch("neg")))]
    ev = evaluate(CHOICES, tasks, [pred(ch("pos")), pred(ch("neg")), pred(ch("neg"))])
    out = ev.to_dict()
    # 2 of 3 right. pos: P 1, R .5, F1 2/3; neg: P .5, R 1, F1 2/3; macro 2/3.
    assert out == {
        "primary": "accuracy", "score": 0.6667, "n_eval": 3, "n_skipped": 0,
        "controls": {"s": {
            "type": "choices", "primary": "accuracy", "score": 0.6667, "n": 3,
            "accuracy": 0.6667, "macro_f1": 0.6667,
            "per_label": {
                "pos": {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2,
                        "predicted": 1},
                "neg": {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1,
                        "predicted": 2}},
            "confusion": {"labels": ["pos", "neg"], "columns": ["pos", "neg"],
                          "matrix": [[1, 1], [0, 1]]}}},
    }
    assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="1 predictions for 2 tasks"):
        evaluate(CHOICES, [task(), task()], [None])
    with pytest.raises(ValueError, match="iou_threshold"):
        evaluate(BOXES, [], [], iou_threshold=0.0)
