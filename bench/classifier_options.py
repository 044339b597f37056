"""Designs tried for the founding classifier: accuracy and predict cost, side by side.

    python bench/classifier_options.py [--seeds 42,1,2,3] [--options sklearn,exact,...]
                                       [--repeat 5]

The split is bench/accuracy.py's (2,000 held out; 1,000 and 10,000 training sentences).
Options (all character 1-3-grams with a logistic regression, unless said otherwise):

- ``sklearn``: the previous founding pipeline, TfidfVectorizer(analyzer="char_wb",
  ngram_range=(1, 3), sublinear_tf=True) + LogisticRegression(C=10): a Python analyzer
  runs per text.
- ``exact``: the current founding classifier: the same features computed with numpy
  over the batch, a hash table of the vocabulary, predicting without scikit-learn.
- ``hashed18``, ``hashed20``: no vocabulary: each n-gram key is hashed into 2**18 or
  2**20 columns (scikit-learn's HashingVectorizer idea), idf per column; otherwise the
  same numpy path. Cheaper lookup, but colliding n-grams share a weight.
- ``fasttext``: supervised fastText (C++) on the characters separated by spaces, word
  n-grams up to 3, 25 epochs, dim 50. Needs ``pip install fasttext-numpy2``; skipped
  when the module is missing.

``µs/text`` is the core predict (texts in, best label and its probability out, no Label
Studio JSON) on 10,000 other sentences of the corpus in one call: the least of
``--repeat`` runs, wall clock and CPU time (``time.process_time``; on a busy shared
machine the CPU time is the steadier).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import TIMED, best_time, old_pipeline, split

SIZES = (1000, 10000)
MIX = 0x9E3779B97F4A7C15


class Option(Protocol):
    def fit(self, texts: list[str], labels: list[str]) -> None: ...

    def predict(self, texts: list[str]) -> tuple[list[str], Any]: ...


class Sklearn:
    def fit(self, texts: list[str], labels: list[str]) -> None:
        self.pipe = old_pipeline().fit(texts, labels)

    def predict(self, texts: list[str]) -> tuple[list[str], Any]:
        probs = self.pipe.predict_proba(texts)
        return list(self.pipe.classes_[probs.argmax(axis=1)]), probs.max(axis=1)


class Exact:
    """The founding classifier's own code: training_matrix for fit, _Scorer to predict."""

    def fit(self, texts: list[str], labels: list[str]) -> None:
        from sklearn.linear_model import LogisticRegression

        from labelloop.examples import simple_text_classifier as stc

        matrix, vocabulary, idf = stc.training_matrix(texts)
        lr = LogisticRegression(C=stc.C, max_iter=1000).fit(matrix, labels)
        self.scorer = stc._Scorer({"classes": list(lr.classes_), "vocabulary": vocabulary,
                                   "idf": idf, "coef": lr.coef_, "intercept": lr.intercept_})

    def predict(self, texts: list[str]) -> tuple[list[str], Any]:
        best, score = self.scorer.best(texts)
        return [self.scorer.classes[b] for b in best.tolist()], score


class Hashed:
    """The numpy path with the vocabulary table replaced by hashing into 2**bits columns."""

    def __init__(self, bits: int) -> None:
        self.bits = bits

    def _grams(self, texts: list[str]) -> Any:
        from labelloop.examples import simple_text_classifier as stc

        for start, count, keys, doc_of in stc._chunk_grams(texts):
            real = np.flatnonzero(keys)  # key 0: a window across two words
            yield start, count, doc_of[real], stc._hash(keys[real], MIX, self.bits)

    def fit(self, texts: list[str], labels: list[str]) -> None:
        from scipy.sparse import csr_matrix
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import normalize

        from labelloop.examples import simple_text_classifier as stc

        rows, cols = [], []
        for start, _, doc, column in self._grams(texts):
            rows.append(doc + start)
            cols.append(column)
        r, c = np.concatenate(rows), np.concatenate(cols)
        matrix = csr_matrix((np.ones(r.size), (r, c)), shape=(len(texts), 1 << self.bits))
        matrix.sum_duplicates()
        df = np.bincount(matrix.indices, minlength=1 << self.bits)
        idf = np.where(df > 0, np.log((1 + len(texts)) / (1 + df)) + 1, 0.0)
        matrix.data = (1 + np.log(matrix.data)) * idf[matrix.indices]
        lr = LogisticRegression(C=10, max_iter=1000).fit(normalize(matrix), labels)
        scorer = stc._Scorer.__new__(stc._Scorer)  # its predict math, our own lookup
        scorer.classes = [str(c) for c in lr.classes_]
        scorer.values = np.column_stack([idf * idf, (lr.coef_ * idf).T]).astype(np.float32)
        scorer.intercept = lr.intercept_
        scorer.known_grams = self._known_grams  # type: ignore[method-assign]
        self.scorer = scorer

    def _known_grams(self, texts: list[str]) -> Any:
        from labelloop.examples import simple_text_classifier as stc

        for start, count, doc, column in self._grams(texts):
            yield start, count, doc, column, stc._term_freq((doc << self.bits) | column)

    def predict(self, texts: list[str]) -> tuple[list[str], Any]:
        best, score = self.scorer.best(texts)
        return [self.scorer.classes[b] for b in best.tolist()], score


class FastText:
    def fit(self, texts: list[str], labels: list[str]) -> None:
        import fasttext

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "train.txt"
            path.write_text("".join(f"__label__{y} {self._spaced(t)}\n"
                                    for t, y in zip(texts, labels, strict=True)),
                            encoding="utf-8")
            self.model = fasttext.train_supervised(
                input=str(path), epoch=25, lr=0.5, wordNgrams=3, dim=50, minCount=1,
                bucket=2_000_000, verbose=0, seed=1)

    @staticmethod
    def _spaced(text: str) -> str:
        return " ".join(text.lower().replace("\n", " "))

    def predict(self, texts: list[str]) -> tuple[list[str], Any]:
        labels, probs = self.model.predict([self._spaced(t) for t in texts], k=1)
        return [lab[0][len("__label__"):] for lab in labels], [p[0] for p in probs]


OPTIONS: dict[str, Callable[[], Option]] = {
    "sklearn": Sklearn, "exact": Exact, "hashed18": lambda: Hashed(18),
    "hashed20": lambda: Hashed(20), "fasttext": FastText,
}


def available(name: str) -> bool:
    module = {"fasttext": "fasttext"}.get(name, "sklearn")
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def measure(name: str, seed: int, n: int, repeat: int) -> str:
    test, pool, timed_pairs = split(seed)
    timed = [t for t, _ in timed_pairs]
    option = OPTIONS[name]()
    started = time.perf_counter()
    option.fit([t for t, _ in pool[:n]], [y for _, y in pool[:n]])
    fit_s = time.perf_counter() - started
    got, _ = option.predict([t for t, _ in test])
    acc = sum(g == y for g, (_, y) in zip(got, test, strict=True)) / len(test)
    wall, cpu = best_time(lambda: option.predict(timed), repeat)
    return (f"{name:>9} {seed:>4} {n:>6} | {acc:>8.4f} {fit_s:>6.2f} | "
            f"{wall / TIMED * 1e6:>6.1f} {cpu / TIMED * 1e6:>6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,1,2,3")
    parser.add_argument("--options", default=",".join(OPTIONS))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'option':>9} {'seed':>4} {'train':>6} | {'accuracy':>8} {'fit s':>6} | "
          f"{'µs/text wall':>6} {'cpu':>6}")
    for name in args.options.split(","):
        if not available(name):
            print(f"{name:>9}: skipped (module not installed)", file=sys.stderr)
            continue
        for seed in (int(s) for s in args.seeds.split(",")):
            for n in SIZES:
                print(measure(name, seed, n, args.repeat), flush=True)


if __name__ == "__main__":
    main()
