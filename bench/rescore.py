"""Re-scoring a Label Studio project's unlabeled tasks (active learning), through a real
Label Studio 1.23.2, and what it does to /predict meanwhile.

    python bench/rescore.py [--tasks 10000,100000] [--stock]

For each size: a fresh Label Studio (its own virtualenv, as the tests use), a project with
that many unlabeled tasks and 1,000 annotated ones, the founding classifier connected with
``--active-learning``, then Start Training: the job trains on Label Studio's export, and
the re-scoring job that follows pages through every unlabeled task, predicts it, stores the
predictions in bulk and points the project at the new version. Prints the re-scoring time
(from the job record), the tasks stored, the peak RSS of the runner, and the single-task
/predict p50/p99 before and while it runs.

Label Studio's bulk prediction import recounts every task's counters on each call unless
its memory-efficient import is switched on (the feature flag below, which this bench sets
because the Label Studio is its own); ``--stock`` measures Label Studio as shipped.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    CONFIG,
    Backend,
    annotated_tasks,
    corpus_texts,
    labelloop,
    ls_task,
    timed_request,
)
from labelloop.cli.studio import DEFAULT_LS_VENV, LabelStudio, free_port
from labelloop.sdk.label_studio import LabelStudioClient

FAST_IMPORT = {"fflag_fix_back_4620_memory_efficient_predictions_import_08012025_short": "true"}
IMPORT_BATCH = 10_000


def prepare(ls: LabelStudioClient, unlabeled: int) -> int:
    project = ls.create_project(f"rescore {unlabeled}", CONFIG)
    texts = corpus_texts(min(unlabeled, 10_000), seed=9)
    for start in range(0, unlabeled, IMPORT_BATCH):
        ls.import_tasks(project, [{"text": texts[i % len(texts)]} for i in range(
            start, min(start + IMPORT_BATCH, unlabeled))])
    ls.import_tasks(project, [{"data": t["data"], "annotations": [
        {"result": t["annotations"][0]["result"]}]} for t in annotated_tasks(1000)])
    return project


class Prober:
    """Single-task /predict, back to back, timing each answer: ``start()``, ``stop.set()``,
    ``join()``, then ``times``. It runs in a process of its own: in a thread of the bench,
    an answer would also wait for the bench's other threads to let go of the GIL (up to
    its 5 ms switch interval), which is the bench's latency, not the backend's."""

    def __init__(self, backend: Backend) -> None:
        ctx = multiprocessing.get_context("spawn")
        body = json.dumps({"tasks": [ls_task(1, "物流很快")], "project": "1.1",
                           "label_config": CONFIG}).encode()
        self.stop = ctx.Event()
        self._out: Any = ctx.Queue()
        self._proc = ctx.Process(target=_probe, args=(backend.port, body, self.stop, self._out),
                                 daemon=True)
        self.times: list[float] = []

    def start(self) -> None:
        self._proc.start()

    def join(self, timeout: float = 60) -> None:
        self.times = self._out.get(timeout=timeout)
        self._proc.join(timeout)


def _probe(port: int, body: bytes, stop: Any, out: Any) -> None:
    times = []
    while not stop.is_set():
        times.append(timed_request(port, "POST", "/predict", body)[2])
        time.sleep(0.005)
    out.put(times)


def rescoring(backend: Backend, project: int) -> dict[str, Any] | None:
    status, answer = backend.request("GET", f"/is_training?project={project}")
    latest = answer["rescoring"]["latest"] if status == 200 else None
    return latest if latest and latest["state"] in ("finished", "failed") else None


def runner_rss(model_dir: Path) -> int:
    total = 0
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "local_runner" in cmd:
            try:
                if str(model_dir) in proc.environ().get("LABELLOOP_SETTINGS_JSON", ""):
                    total = max(total, proc.memory_info().rss)
            except psutil.Error:
                continue
    return total


def measure(size: int, stock: bool, root: Path) -> dict[str, Any]:
    studio = LabelStudio(DEFAULT_LS_VENV / "bin" / "label-studio", root / f"ls-{size}",
                         free_port(), extra_env={} if stock else FAST_IMPORT)
    studio.start()
    backend_dir, model_dir = root / f"backend-{size}", root / f"models-{size}"
    labelloop("init", str(backend_dir))
    backend = Backend(backend_dir, model_dir, env={"LABELLOOP_ACTIVE_LEARNING": "true"})
    try:
        ls = studio.client()
        project = prepare(ls, size)
        ml = ls.connect_backend(project, f"http://127.0.0.1:{backend.port}")
        before = Prober(backend)
        before.start()
        time.sleep(3)
        before.stop.set()
        before.join()
        during = Prober(backend)
        during.start()
        ls.call("POST", f"/api/ml/{ml['id']}/train")
        peak = 0
        while (job := rescoring(backend, project)) is None:
            peak = max(peak, runner_rss(model_dir))
            time.sleep(0.2)
        during.stop.set()
        during.join()
        settings = ls.call("GET", f"/api/projects/{project}")
        return {"size": size, "job": job, "before": before.times, "during": during.times,
                "peak_rss": peak, "sampling": settings["sampling"],
                "model_version": settings["model_version"]}
    finally:
        backend.stop()
        studio.stop()


def report(rows: list[dict[str, Any]], stock: bool) -> None:
    print(f"Label Studio 1.23.2, {'stock' if stock else 'memory-efficient prediction import'}")
    print(f"{'unlabeled tasks':>16}  {'re-scored in':>12}  {'stored':>7}  {'runner RSS':>10}"
          f"  {'/predict p50/p99 before':>24}  {'while re-scoring':>17}  project")
    for r in rows:
        job = r["job"]
        took = (job["ended"] or 0) - (job["started"] or 0)
        stored = (job.get("metrics") or {}).get("tasks", 0)

        def p(ts: list[float]) -> str:
            ts = sorted(ts)
            return (f"{statistics.median(ts) * 1000:.2f}/{ts[int(0.99 * (len(ts) - 1))] * 1000:.2f}"
                    " ms" if ts else "-")

        print(f"{r['size']:>16,}  {took:>10.1f} s  {stored:>7,}  "
              f"{r['peak_rss'] / 2**20:>7.0f} MiB  {p(r['before']):>24}  {p(r['during']):>17}"
              f"  {job['outcome']}: {r['sampling']}, {r['model_version']}"
              + (f" ({job['error']})" if job.get("error") else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="10000,100000")
    parser.add_argument("--stock", action="store_true", help="Label Studio's default import")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labelloop-rescore-") as tmp:
        rows = [measure(int(n), args.stock, Path(tmp)) for n in args.tasks.split(",")]
    report(rows, args.stock)


if __name__ == "__main__":
    main()
