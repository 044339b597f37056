"""How fresh Label Studio's uncertainty ordering stays while a team annotates: a real Label
Studio 1.23.2, 100,000 unlabeled tasks, an annotation stream through its API.

    python bench/al_freshness.py [--tasks 100000] [--annotated 1000] [--rates 1,10]
                                 [--minutes 10] [--variants labelloop,baseline]
                                 [--baseline-ref 6e7ac13] [--flag]

For each variant and rate: a new project (the tasks are the corpus' distinct sentences,
then pairs of sentences of one label, so every text is distinct), the founding classifier
connected with ``--active-learning``, Start Training, and a wait until the project samples
a labelloop version. Then for ``--minutes``:

- an annotator takes ``GET /api/projects/<id>/next/`` and annotates it with its true label,
  about once a second; at higher rates, other annotators annotate random unlabeled tasks
  (POST annotations) to make up the rate;
- every ``/next/`` is a sample: the version whose scores chose it is the project's selected
  ``model_version`` (polled every second). Its staleness is how many versions labelloop
  served after it, and for how long a newer one had served (0 when it is the newest);
- /predict is probed (one task, back to back) and the runner's memory sampled.

``no-imports``: labelloop until the project samples its first version, then restarted
with re-scoring off (it trains and serves, and stores nothing in Label Studio): what
annotators pay for Label Studio's uncertainty sampling alone, without our imports.

``baseline``: the labelloop of ``--baseline-ref`` (before this change: the pool listed page
by page, every prediction stored, the project switched at the end), from a ``git archive``
of that commit. ``--flag`` starts Label Studio with its memory-efficient prediction import;
by default it runs as shipped (what users have).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import CONFIG, Backend, annotated_tasks, labelloop
from labelloop.cli.studio import DEFAULT_LS_VENV, LabelStudio, free_port
from labelloop.examples.corpus import sentiment_corpus
from labelloop.sdk.label_studio import LabelStudioClient
from rescore import FAST_IMPORT, Prober, runner_rss

ROOT = Path(__file__).resolve().parent.parent
IMPORT_BATCH = 10_000


def labelled_texts(n: int) -> list[tuple[str, str]]:
    """n distinct (text, label): the distinct sentences, then pairs of one label."""
    seen: dict[str, str] = {}
    for text, label in sentiment_corpus(11):
        seen.setdefault(text, label)
    pool = list(seen.items())
    random.Random(11).shuffle(pool)
    by_label: dict[str, list[str]] = {}
    for text, label in pool:
        by_label.setdefault(label, []).append(text)
    out = []
    for i in range(n):
        turn, k = divmod(i, len(pool))
        text, label = pool[k]
        if turn:
            same = by_label[label]
            text = f"{text}，{same[(k * 7 + turn) % len(same)]}"
        out.append((text, label))
    return out


@dataclass
class Run:
    variant: str
    rate: float
    samples: list[tuple[float, int, str]] = field(default_factory=list)  # (t, task, selected)
    served: dict[str, float] = field(default_factory=dict)  # labelloop version -> since
    selected: list[tuple[float, str]] = field(default_factory=list)  # polled (t, version)
    annotations: int = 0
    errors: int = 0
    db_before: int = 0
    db_after: int = 0
    db_used: int = 0  # the pages in use at the end (deleted rows free pages, not the file)
    predictions: int = 0  # the project's predictions at the end, all versions
    predict: list[float] = field(default_factory=list)
    runner_peak: int = 0
    seconds: float = 0.0
    phases: list[tuple[float, float]] = field(default_factory=list)  # (scored s, first s)


class Stream:
    """The annotators and the pollers of one run."""

    def __init__(self, ls: LabelStudioClient, backend: Backend, project: int,
                 truth: dict[str, str], run: Run) -> None:
        self.ls, self.backend, self.project, self.truth, self.run = ls, backend, project, truth, run
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def annotate(self, task: dict[str, Any]) -> None:
        label = self.truth[task["data"]["text"]]
        self.ls.annotate(task["id"], [{"from_name": "sentiment", "to_name": "text",
                                       "type": "choices", "value": {"choices": [label]}}])
        with self.lock:
            self.run.annotations += 1

    def sampler(self) -> None:
        """The annotator who follows /next/, about once a second. The version that chose
        the task is the project's selected one read just before asking, and its staleness
        is taken when asking (a busy Label Studio may answer much later: that wait is not
        staleness); a switch between the two counts against labelloop."""
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                selected = self.selected()
                asked = time.time()
                task = self.ls.call("GET", f"/api/projects/{self.project}/next/")
                self.run.samples.append((asked, int(task["id"]), selected))
                self.annotate(task)
            except Exception:  # a busy Label Studio: count it, go on
                self.run.errors += 1
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    def filler(self, rate: float, pool: list[dict[str, Any]]) -> None:
        """Annotators of random unlabeled tasks, at ``rate`` a second between them."""
        while not self.stop.is_set() and pool:
            started = time.monotonic()
            try:
                self.annotate(pool.pop())
            except Exception:
                self.run.errors += 1
            self.stop.wait(max(0.0, 1.0 / rate - (time.monotonic() - started)))

    def selected(self) -> str:
        return str(self.ls.call("GET", f"/api/projects/{self.project}/")["model_version"] or "")

    def poller(self) -> None:
        """The project's selected version, every second."""
        while not self.stop.is_set():
            try:
                self.run.selected.append((time.time(), self.selected()))
            except Exception:
                self.run.errors += 1
            self.stop.wait(1.0)

    def served(self) -> None:
        """labelloop's served version, twice a second (its own thread: a busy Label Studio
        must not delay seeing a promotion, which would flatter the staleness)."""
        while not self.stop.is_set():
            try:
                status, answer = self.backend.request("POST", "/setup", _setup(self.project))
                if status == 200:
                    self.run.served.setdefault(answer["model_version"], time.time())
            except Exception:
                self.run.errors += 1
            self.stop.wait(0.5)


def _setup(project: int) -> bytes:
    return json.dumps({"project": f"{project}.1", "schema": CONFIG}).encode()


def prepare(ls: LabelStudioClient, n: int, annotated: int,
            title: str) -> tuple[int, dict[str, str]]:
    project = ls.create_project(title, CONFIG)
    items = labelled_texts(n)
    for start in range(0, n, IMPORT_BATCH):
        ls.import_tasks(project, [{"text": t} for t, _ in items[start:start + IMPORT_BATCH]])
    ls.import_tasks(project, [{"data": t["data"], "annotations": [
        {"result": t["annotations"][0]["result"]}]} for t in annotated_tasks(annotated)])
    return project, dict(items)


def baseline_src(ref: str, root: Path) -> Path:
    """The labelloop of ``ref``, unpacked (its src folder goes first on PYTHONPATH)."""
    target = root / f"baseline-{ref}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def one_run(studio: LabelStudio, args: argparse.Namespace, variant: str, rate: float,
            root: Path) -> Run:
    run = Run(variant, rate)
    ls = studio.client()
    name = f"{variant}-{rate:g}"
    project, truth = prepare(ls, args.tasks, args.annotated, f"freshness {name}")
    backend_dir, model_dir = root / f"backend-{name}", root / f"models-{name}"
    labelloop("init", str(backend_dir))
    env = {"LABELLOOP_ACTIVE_LEARNING": "true"}
    if variant == "baseline":
        env["PYTHONPATH"] = str(baseline_src(args.baseline_ref, root))
    backend = Backend(backend_dir, model_dir, env=env, log_level="INFO")  # phases: runner.log
    db = studio.data_dir / "label_studio.sqlite3"
    try:
        ml = ls.connect_backend(project, f"http://127.0.0.1:{backend.port}")
        ls.call("POST", f"/api/ml/{ml['id']}/train")
        warm = time.monotonic()
        while not str(ls.call("GET", f"/api/projects/{project}/")["model_version"] or ""
                      ).startswith("SimpleTextClassifier-"):
            if time.monotonic() - warm > args.warm_minutes * 60:
                # The old loop's 60 s import timeout never lets a 100,000-task re-scoring
                # finish: it never switches. Measure the stream as it is.
                print(f"  {name}: no labelloop version sampled after {args.warm_minutes:g} "
                      "min; the stream starts anyway", flush=True)
                break
            time.sleep(2)
        else:
            print(f"  {name}: the project samples a labelloop version after "
                  f"{time.monotonic() - warm:.0f} s", flush=True)
        if variant == "no-imports":  # the same, but nothing stored in Label Studio from now
            backend.stop()
            stop_runners(model_dir)
            backend = Backend(backend_dir, model_dir, env={**env, "LABELLOOP_RESCORE": "false"},
                              log_level="INFO", port=backend.port)
        run.db_before = db.stat().st_size
        stream_for(ls, backend, project, truth, run, args, model_dir)
        run.db_after = db.stat().st_size
        run.db_used = db_in_use(db)
        run.predictions = sum(ls.model_versions(project).values())
        run.phases = runner_phases(model_dir)
    finally:
        backend.stop()
        stop_runners(model_dir)
        ls.close()
    return run


PHASES = re.compile(r"scored \d+ (?:candidate )?tasks in ([\d.]+) s, stored the \d+ least "
                    r"certain in ([\d.]+) s")


def runner_phases(model_dir: Path) -> list[tuple[float, float]]:
    """Per re-scoring job, from the runner's log: (seconds to score the pool, seconds to
    store its least certain)."""
    return [(float(m[1]), float(m[2])) for log in model_dir.glob("*/.jobs/runner.log")
            for m in PHASES.finditer(log.read_text(errors="replace"))]


def switch_times(run: Run) -> list[float]:
    """Per labelloop version the project sampled: seconds from its promotion (seen
    served) to the project's switch to it (seen selected)."""
    first_seen: dict[str, float] = {}
    for t, version in run.selected:
        first_seen.setdefault(version, t)
    return [first_seen[v] - since for v, since in run.served.items() if v in first_seen
            and first_seen[v] >= since]


def db_in_use(db: Path) -> int:
    """Bytes of Label Studio's SQLite database in use (the file keeps freed pages)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def stop_runners(model_dir: Path) -> None:
    """The training runners of this run (they outlive the server by a few seconds)."""
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if ("local_runner" in " ".join(proc.info["cmdline"] or [])
                    and str(model_dir) in proc.environ().get("LABELLOOP_SETTINGS_JSON", "")):
                proc.kill()
        except psutil.Error:
            continue


def stream_for(ls: LabelStudioClient, backend: Backend, project: int, truth: dict[str, str],
               run: Run, args: argparse.Namespace, model_dir: Path) -> None:
    stream = Stream(ls, backend, project, truth, run)
    threads = [threading.Thread(target=stream.poller, daemon=True),
               threading.Thread(target=stream.served, daemon=True),
               threading.Thread(target=stream.sampler, daemon=True)]
    if run.rate > 1:
        pool = random_unlabeled(ls, project, int(run.rate * args.minutes * 60))
        per = (run.rate - 1) / args.fillers
        threads += [threading.Thread(target=stream.filler, args=(per, pool[i::args.fillers]),
                                     daemon=True) for i in range(args.fillers)]
    prober = Prober(backend)
    prober.start()
    started = time.monotonic()
    for t in threads:
        t.start()
    while time.monotonic() - started < args.minutes * 60:
        run.runner_peak = max(run.runner_peak, runner_rss(model_dir))
        time.sleep(1)
    stream.stop.set()
    prober.stop.set()
    for t in threads:
        t.join(60)
    prober.join()
    run.seconds = time.monotonic() - started
    run.predict = prober.times


def random_unlabeled(ls: LabelStudioClient, project: int, n: int) -> list[dict[str, Any]]:
    """n unlabeled tasks drawn at random (one listing page per thousand asked)."""
    tasks: list[dict[str, Any]] = []
    for page, _left in ls.unlabeled_tasks(project, page_size=1000):
        tasks += page
        if len(tasks) >= 3 * n:
            break
    random.Random(5).shuffle(tasks)
    return tasks[:n]


def staleness(run: Run) -> list[tuple[int, float]]:
    """(versions, seconds) behind the newest served version, per /next/ sample."""
    served = sorted(run.served.items(), key=lambda kv: kv[1])
    out = []
    for t, _task, selected in run.samples:
        newer = [since for version, since in served if since <= t]
        names = [version for version, since in served if since <= t]
        if selected in names:
            after = newer[names.index(selected) + 1:]
            out.append((len(after), t - after[0] if after else 0.0))
        elif newer:  # not a labelloop version yet (or an unknown one): behind them all
            out.append((len(newer), t - newer[0]))
    return out


def report(runs: list[Run], args: argparse.Namespace, flag: bool) -> None:
    print(f"\nLabel Studio 1.23.2 ({'memory-efficient import' if flag else 'as shipped'}), "
          f"{args.tasks:,} unlabeled tasks, {args.annotated:,} annotated, "
          f"{args.minutes:g} min a run")
    head = ("variant", "rate", "annotated/s", "versions", "switches", "stale versions p50/p90/max",
            "stale s p50/p90/max/mean", "/predict p50/p99 ms", "runner MiB", "LS db MiB (in use)",
            "predictions")
    print(" | ".join(head))
    for r in runs:
        st = staleness(r)
        vs, ss = [v for v, _ in st], [s for _, s in st]
        switches = len({v for _, v in r.selected})

        def q(xs: list[float], p: float) -> float:
            return sorted(xs)[int(p * (len(xs) - 1))] if xs else float("nan")

        pr = [x * 1000 for x in r.predict]
        print(" | ".join([
            r.variant, f"{r.rate:g}/s", f"{r.annotations / max(r.seconds, 1):.2f}",
            str(len(r.served)), str(switches),
            f"{q(vs, .5):.0f}/{q(vs, .9):.0f}/{max(vs, default=0)}",
            f"{q(ss, .5):.0f}/{q(ss, .9):.0f}/{max(ss, default=0):.0f}/"
            f"{statistics.mean(ss) if ss else float('nan'):.1f}",
            f"{q(pr, .5):.2f}/{q(pr, .99):.2f}", f"{r.runner_peak / 2**20:.0f}",
            f"{r.db_before / 2**20:.0f} -> {r.db_after / 2**20:.0f} ({r.db_used / 2**20:.0f})",
            f"{r.predictions:,}"]))
        print(f"    samples {len(st)}, errors {r.errors}", flush=True)
        switch = sorted(switch_times(r))
        scored, first = sorted(x for x, _ in r.phases), sorted(y for _, y in r.phases)
        if switch:
            print(f"    promotion -> switch s over {len(switch)} versions: min "
                  f"{switch[0]:.0f}, median {statistics.median(switch):.0f}, max "
                  f"{switch[-1]:.0f}", flush=True)
        if r.phases:
            print(f"    re-scoring jobs {len(r.phases)}: scoring the pool s median "
                  f"{statistics.median(scored):.1f}, max {scored[-1]:.1f}; storing the least "
                  f"certain s median {statistics.median(first):.1f}, max {first[-1]:.1f}",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--annotated", type=int, default=1000)
    parser.add_argument("--rates", default="1,10")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--variants", default="labelloop,baseline")
    parser.add_argument("--baseline-ref", default="6e7ac13")
    parser.add_argument("--warm-minutes", type=float, default=5,
                        help="start the stream anyway when no labelloop version is sampled")
    parser.add_argument("--fillers", type=int, default=4, help="threads annotating at random")
    parser.add_argument("--flag", action="store_true", help="Label Studio's fast import")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (logs, "
                        "job records, Label Studio's database)")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="al-freshness-", ignore_cleanup_errors=True) as tmp:
        root = args.keep or Path(tmp)
        studio = LabelStudio(DEFAULT_LS_VENV / "bin" / "label-studio", root / "ls", free_port(),
                             extra_env=FAST_IMPORT if args.flag else {})
        studio.start()
        try:
            for rate in [float(r) for r in args.rates.split(",")]:
                for variant in args.variants.split(","):
                    runs.append(one_run(studio, args, variant, rate, root))
                    report(runs[-1:], args, args.flag)
        finally:
            studio.stop()
    report(runs, args, args.flag)


if __name__ == "__main__":
    main()
