"""The NER tagger example (examples/ner_tagger.py) and the People's Daily corpus reader."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from labelloop.cli.studio import DEFAULT_LS_VENV
from labelloop.examples import peoples_daily
from labelloop.examples.ner_tagger import NerTagger, resolve_overlaps
from labelloop.sdk.script import load_model_class

EXAMPLES = Path(__file__).resolve().parent.parent / "src" / "labelloop" / "examples"
CONFIG = (EXAMPLES / "ner.xml").read_text(encoding="utf-8")

Span = tuple[int, int, str]


def spans_of(prediction: dict[str, Any]) -> list[Span]:
    return sorted((r["value"]["start"], r["value"]["end"], r["value"]["labels"][0])
                  for r in prediction["result"])


def micro_f1(gold: list[list[Span]], predicted: list[list[Span]]) -> float:
    tp = fp = fn = 0
    for g, p in zip(gold, predicted, strict=True):
        tp += len(set(g) & set(p))
        fp += len(set(p) - set(g))
        fn += len(set(g) - set(p))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def task(i: int, text: str, result: list[dict[str, Any]] | None, **annotation: Any
         ) -> dict[str, Any]:
    """An export-format task; ``result=None`` means no annotation at all."""
    t: dict[str, Any] = {"id": i, "data": {"text": text}}
    if result is not None:
        t["annotations"] = [{"id": i, "result": result, **annotation}]
    return t


def region(start: int, end: int, label: str, text: str, from_name: str = "label",
           to_name: str = "text") -> dict[str, Any]:
    return {"from_name": from_name, "to_name": to_name, "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}}


@pytest.fixture(scope="module")
def corpus() -> tuple[list[peoples_daily.Sentence], list[peoples_daily.Sentence]]:
    return peoples_daily.split(peoples_daily.load_sentences(), seed=42)


@pytest.fixture(scope="module")
def trained(corpus: Any, tmp_path_factory: pytest.TempPathFactory) -> NerTagger:
    """A tagger fit on 400 People's Daily sentences."""
    pool, _ = corpus
    workdir = tmp_path_factory.mktemp("ner")
    output = NerTagger(CONFIG).fit(peoples_daily.as_tasks(pool[:400]), workdir)
    return NerTagger(CONFIG, train_output=json.loads(json.dumps(output)))


# ---- the corpus --------------------------------------------------------------------------

def test_corpus_names_places_and_organisations() -> None:
    text, spans = peoples_daily.parse_line(
        "新华社/nt  记者/n  兰/nr  红光/nr  摄/Vg  江/nr  泽民/nr  李/nr  鹏/nr  "
        "克林顿/nr  欧阳/nr  修/nr  在/p  北京/ns")
    assert text == "新华社记者兰红光摄江泽民李鹏克林顿欧阳修在北京"
    assert [(text[s:e], label) for s, e, label in spans] == [
        ("新华社", "ORG"), ("兰红光", "PER"), ("江泽民", "PER"), ("李鹏", "PER"),
        ("克林顿", "PER"), ("欧阳修", "PER"), ("北京", "LOC")]


def test_bracketed_compounds() -> None:
    text, spans = peoples_daily.parse_line(
        "[中国/ns 人民/n 银行/n]nt  行长/n  [北京/ns 大学/n]l  [香港/ns 特别/a 行政区/n]ns")
    assert [(text[s:e], label) for s, e, label in spans] == [
        ("中国人民银行", "ORG"), ("北京", "LOC"), ("香港特别行政区", "LOC")]


def test_corpus_tasks_and_split(corpus: Any) -> None:
    pool, test = corpus
    assert len(test) == 2000 and len(pool) > 17000
    assert peoples_daily.split(pool[:50], seed=1) == peoples_daily.split(pool[:50], seed=1)
    counts = {label: sum(label == s[2] for _, spans in pool for s in spans)
              for label in peoples_daily.LABELS}
    assert counts["LOC"] > counts["PER"] > counts["ORG"] > 2000
    [t] = peoples_daily.as_tasks(pool[:1])
    text = t["data"]["text"]
    for r in t["annotations"][0]["result"]:
        assert text[r["value"]["start"]:r["value"]["end"]] == r["value"]["text"]


# ---- accuracy ----------------------------------------------------------------------------

def test_learns_chinese_entities_from_a_few_hundred_sentences(trained: NerTagger,
                                                              corpus: Any) -> None:
    _, test = corpus
    test = test[:500]
    predictions = trained.predict(peoples_daily.as_tasks(test, annotated=False))
    assert micro_f1([s for _, s in test], [spans_of(p) for p in predictions]) >= 0.72
    assert trained.train_output["mode"] == "zh" and trained.train_output["count"] == 400
    # The scores mean something: entities it got right score higher than its mistakes,
    # and the texts it is least sure of (lowest task score) are the ones it gets wrong.
    right, wrong = [], []
    for p, (_, spans) in zip(predictions, test, strict=True):
        for r in p["result"]:
            v = r["value"]
            (right if (v["start"], v["end"], v["labels"][0]) in spans else wrong).append(
                r["score"])
    assert sum(right) / len(right) > sum(wrong) / len(wrong) + 0.15
    ranked = sorted(zip(predictions, test, strict=True), key=lambda pt: pt[0]["score"])
    fully_right = [spans_of(p) == sorted(spans) for p, (_, spans) in ranked]
    assert sum(fully_right[:100]) < sum(fully_right[-100:]) - 30


def english_sentences(names: dict[str, list[str]], n: int, seed: int
                      ) -> list[tuple[str, list[Span]]]:
    templates = ["{PER} flew to {LOC} on Monday .", "{PER} joined {ORG} last year .",
                 "The office of {ORG} in {LOC} is closed .", "Nothing happened on Friday .",
                 "In {LOC} , {PER} met officials from {ORG} .", "{ORG} said {PER} resigned ."]
    rng, out = random.Random(seed), []
    for _ in range(n):
        text, spans = "", []
        for i, part in enumerate(rng.choice(templates).split("{")):
            if i:
                label, part = part.split("}", 1)
                name = rng.choice(names[label])
                spans.append((len(text), len(text) + len(name), label))
                text += name
            text += part
        out.append((text, spans))
    return out


def test_english_with_names_never_seen_in_training(tmp_path: Path) -> None:
    first = ["Anna", "John", "Maria", "Tom", "Wei", "Sara", "Omar", "Li", "Paul", "Nina"]
    last = ["Smith", "Baker", "Lopez", "Hall", "Chen", "Jones", "Haddad", "Wang", "Novak"]
    places = ["Paris", "Berlin", "New York", "Cairo", "Lima", "Tokyo", "Madrid", "Dublin",
              "Oslo", "Hong Kong", "Quito", "Vienna"]
    orgs = ["Acme Corp", "World Bank", "Red Cross", "Interpol", "Nestle", "Siemens", "Oxfam",
            "Nokia", "United Nations", "Boeing", "Unicef", "Reuters"]
    # Training uses the first names of each list; the test only names it never saw.
    seen = {"PER": [f"{a} {b}" for a in first[:7] for b in last[:6]], "LOC": places[:8],
            "ORG": orgs[:8]}
    unseen = {"PER": [f"{a} {b}" for a in first[7:] for b in last[6:]], "LOC": places[8:],
              "ORG": orgs[8:]}
    train = english_sentences(seen, 300, seed=1)
    test = english_sentences(unseen, 100, seed=2)
    output = NerTagger(CONFIG).fit(peoples_daily.as_tasks(train), tmp_path)
    assert output["mode"] == "en"
    model = NerTagger(CONFIG, train_output=output)
    predictions = model.predict(peoples_daily.as_tasks(test, annotated=False))
    assert micro_f1([s for _, s in test], [spans_of(p) for p in predictions]) >= 0.75


# ---- behaviours --------------------------------------------------------------------------

def test_untrained_model_suggests_nothing(tmp_path: Path) -> None:
    tasks = [{"id": 1, "data": {"text": "江泽民访问香港"}}, {"id": 2, "data": {}}]
    assert NerTagger(CONFIG).predict(tasks) == [{"result": [], "score": 0.0}] * 2
    gone = {"model_file": str(tmp_path / "model.crfsuite"),
            "features_file": str(tmp_path / "features.json")}
    assert NerTagger(CONFIG, train_output=gone).predict(tasks[:1]) == [
        {"result": [], "score": 0.0}]


def test_regions_are_label_studio_canonical(trained: NerTagger, corpus: Any) -> None:
    _, test = corpus
    texts = [text for text, spans in test[:40] if spans]
    predictions = trained.predict([{"id": i, "data": {"text": t}} for i, t in enumerate(texts)])
    json.dumps(predictions)
    regions = [r for p in predictions for r in p["result"]]
    assert len(regions) > 40
    for text, p in zip(texts, predictions, strict=True):
        assert set(p) == {"result", "score"} and 0.0 < p["score"] <= 1.0
        for r in p["result"]:
            assert set(r) == {"id", "from_name", "to_name", "type", "value", "score"}
            assert (r["from_name"], r["to_name"], r["type"]) == ("label", "text", "labels")
            assert set(r["value"]) == {"start", "end", "text", "labels"}
            v = r["value"]
            assert type(v["start"]) is int and type(v["end"]) is int and v["start"] < v["end"]
            assert v["text"] == text[v["start"]:v["end"]] and v["labels"][0] in {
                "PER", "LOC", "ORG"} and len(v["labels"]) == 1
            # the task's score is its least certain tag; an entity's is its tags' mean
            assert type(r["score"]) is float and p["score"] <= r["score"] <= 1.0
    python = DEFAULT_LS_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip("Label Studio's venv is not installed: its validator was not run")
    code = ("import json,sys\nfrom label_studio_sdk.label_interface import LabelInterface\n"
            "cfg, preds = json.load(sys.stdin)\n"
            "print(json.dumps([LabelInterface(cfg).validate_prediction(p, return_errors=True)"
            " for p in preds]))\n")
    out = subprocess.run([str(python), "-c", code], input=json.dumps([CONFIG, predictions]),
                         capture_output=True, text=True, check=True)
    errors = [e for e in json.loads(out.stdout.splitlines()[-1]) if e not in ([], True, None)]
    assert errors == []


def test_labels_and_names_come_from_the_config(tmp_path: Path) -> None:
    config = ('<View><Text name="note" value="$note"/><Labels name="tags" toName="note">'
              '<Label value="Drug name"/><Label value="Dose"/></Labels></View>')
    drugs, doses = ["aspirin", "ibuprofen", "heparin", "insulin"], ["5 mg", "10 mg", "2 ml"]
    rng = random.Random(3)
    tasks = []
    for i in range(120):
        drug, dose = rng.choice(drugs), rng.choice(doses)
        text = f"Give {dose} of {drug} twice a day."
        s = text.index(dose)
        result = [region(s, s + len(dose), "Dose", text, "tags", "note"),
                  region(text.index(drug), text.index(drug) + len(drug), "Drug name", text,
                         "tags", "note"),
                  region(0, 4, "Verb", text, "tags", "note")]  # not in the config: ignored
        tasks.append({"id": i, "data": {"note": text}, "annotations": [{"result": result}]})
    output = NerTagger(config).fit(tasks, tmp_path)
    assert output["labels"] == ["Dose", "Drug name"]
    [p] = NerTagger(config, train_output=output).predict(
        [{"data": {"note": "Give 5 mg of insulin twice a day."}}])
    assert [(r["from_name"], r["to_name"]) for r in p["result"]] == [("tags", "note")] * 2
    assert [(r["value"]["text"], r["value"]["labels"]) for r in p["result"]] == [
        ("5 mg", ["Dose"]), ("insulin", ["Drug name"])]
    # A label taken out of the config is no longer predicted (Label Studio would refuse it).
    smaller = config.replace('<Label value="Dose"/>', "")
    [p] = NerTagger(smaller, train_output=output).predict([{"data": {"note": "Give 5 mg of "
                                                                             "insulin."}}])
    assert [r["value"]["labels"] for r in p["result"]] == [["Drug name"]]


def test_overlap_rule_longer_wins_then_earlier() -> None:
    assert resolve_overlaps([(0, 2, "LOC"), (0, 6, "ORG")]) == [(0, 6, "ORG")]  # nested
    assert resolve_overlaps([(3, 7, "B"), (0, 4, "A")]) == [(0, 4, "A")]  # crossing, tie
    assert resolve_overlaps([(0, 4, "PER"), (0, 4, "LOC")]) == [(0, 4, "LOC")]  # same span
    assert resolve_overlaps([(5, 9, "X"), (0, 5, "Y")]) == [(0, 5, "Y"), (5, 9, "X")]


def test_nested_annotations_train_the_outer_entity(tmp_path: Path) -> None:
    rng = random.Random(5)
    tasks = []
    for i in range(60):
        place = rng.choice(["England", "Japan", "Canada"])
        bank = f"Bank of {place}"
        text = f"Yesterday the {bank} raised rates in {place} ."
        s, p = text.index(bank), text.rindex(place)
        inner = s + bank.index(place)
        result = [region(inner, inner + len(place), "LOC", text),  # nested inside the ORG
                  region(s, s + len(bank), "ORG", text), region(p, p + len(place), "LOC", text)]
        tasks.append(task(i, text, result))
    model = NerTagger(CONFIG, train_output=NerTagger(CONFIG).fit(tasks, tmp_path))
    text = "Yesterday the Bank of Japan raised rates in Japan ."
    [p] = model.predict([task(0, text, None)])
    assert spans_of(p) == [(14, 27, "ORG"), (44, 49, "LOC")]


def test_empty_and_cancelled_annotations(tmp_path: Path) -> None:
    text = "李鹏在北京会见了客人。"
    good = [region(0, 2, "PER", text), region(3, 5, "LOC", text)]
    tasks = [task(1, text, good), task(2, "今天天气很好。", []),  # looked, found none
             task(3, "这是另一句话。", [region(0, 2, "X", "这是", from_name="other")]),
             task(4, "江泽民访问香港。", good, was_cancelled=True),  # skipped: not used
             task(5, "没有标注的句子。", None)]
    output = NerTagger(CONFIG).fit(tasks, tmp_path / "a")
    assert output["count"] == 3 and output["entities"] == 2 and output["labels"] == [
        "LOC", "PER"]
    # Only empty annotations: a valid model that finds nothing, sure of it.
    empty = [task(i, t, []) for i, t in enumerate(["今天天气很好。", "我们去吃饭吧。"])]
    output = NerTagger(CONFIG).fit(empty, tmp_path / "b")
    assert output["count"] == 2 and output["labels"] == []
    [p] = NerTagger(CONFIG, train_output=output).predict([task(1, "李鹏在北京。", None)])
    assert p["result"] == [] and p["score"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="usable annotation"):
        NerTagger(CONFIG).fit([task(1, text, good, was_cancelled=True)], tmp_path / "c")


def test_a_12000_character_text_end_to_end(trained: NerTagger, corpus: Any,
                                           tmp_path: Path) -> None:
    _, test = corpus
    text, gold, sentences = "", [], []
    for sentence, spans in test[500:]:
        gold += [(s + len(text), e + len(text), label) for s, e, label in spans]
        sentences.append((sentence, spans))
        text += sentence + "\n"
        if len(text) >= 12000:
            break
    [p] = trained.predict([task(1, text, None)])
    found = spans_of(p)
    assert all(text[r["value"]["start"]:r["value"]["end"]] == r["value"]["text"]
               for r in p["result"])
    assert max(s for s, _, _ in found) > 11000  # offsets reach the end of the text
    one_by_one = trained.predict([task(i, s, None) for i, (s, _) in enumerate(sentences)])
    assert micro_f1([gold], [found]) == pytest.approx(
        micro_f1([s for _, s in sentences], [spans_of(q) for q in one_by_one]), abs=0.02)
    # And as a training example: one long annotated task.
    output = NerTagger(CONFIG).fit([task(1, text, [region(s, e, label, text)
                                                   for s, e, label in gold])], tmp_path)
    assert output["count"] == 1 and output["entities"] == len(gold)
    [p] = NerTagger(CONFIG, train_output=output).predict([task(1, text, None)])
    assert micro_f1([gold], [spans_of(p)]) > 0.9  # it has seen this very text


def test_the_script_loads_under_a_generated_module_name(tmp_path: Path) -> None:
    """The server imports the script under another name; nothing it saves may need
    the script's classes to load (no pickle of them)."""
    cls = load_model_class(EXAMPLES / "ner_tagger.py")
    assert cls.__name__ == "NerTagger" and cls.__module__.startswith("labelloop_model_")
    text = "李鹏在北京会见了客人。"
    tasks = [task(i, text, [region(0, 2, "PER", text), region(3, 5, "LOC", text)])
             for i in range(5)]
    output = cls(CONFIG).fit(tasks, tmp_path)
    assert Path(output["model_file"]).parent == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.json", "model.crfsuite"]
    [p] = NerTagger(CONFIG, train_output=output).predict([task(1, text, None)])
    assert spans_of(p) == [(0, 2, "PER"), (3, 5, "LOC")]


def test_a_fit_depends_on_its_data_only(tmp_path: Path) -> None:
    """crfsuite shuffles with C's rand(): an earlier fit in the process must not change
    the next model (the tagger seeds it)."""
    names = {"PER": ["Anna Smith", "Tom Hall"], "LOC": ["Paris", "Lima"], "ORG": ["Oxfam"]}
    one = peoples_daily.as_tasks(english_sentences(names, 60, seed=1))
    other = peoples_daily.as_tasks(english_sentences(names, 40, seed=2))
    first = NerTagger(CONFIG).fit(one, tmp_path / "a")
    NerTagger(CONFIG).fit(other, tmp_path / "b")
    again = NerTagger(CONFIG).fit(one, tmp_path / "c")
    assert Path(first["model_file"]).read_bytes() == Path(again["model_file"]).read_bytes()
