"""Training cadence and retention under a stream of annotations (issue: versions that
don't pile up).

    python bench/stream.py [--annotations 1500] [--rate 10] [--mode local|redis]

A team annotating one project: ANNOTATION_CREATED webhooks at a steady rate into a
backend started as users start it (`labelloop start`, default settings, the founding
classifier). Meanwhile a poller asks /predict which version serves, every 100 ms, and
reads which annotations each new version trained on. Prints: versions made, versions
kept, disk used, and the annotation-to-served delay (median, p90): from an annotation's
webhook to the first /predict answered by a version trained on it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import CONFIG, labelloop
from labelloop.cli.studio import free_port, wait_healthy
from labelloop.examples.corpus import sentiment_corpus

PROJECT = 1


def event(i: int, text: str, label: str) -> dict[str, Any]:
    return {"action": "ANNOTATION_CREATED",
            "annotation": {"id": i, "task": i, "project": PROJECT, "was_cancelled": False,
                           "result": [{"from_name": "sentiment", "to_name": "text",
                                       "type": "choices", "value": {"choices": [label]}}]},
            "task": {"id": i, "data": {"text": text}, "project": PROJECT},
            "project": {"id": PROJECT, "label_config": CONFIG}}


class Watcher(threading.Thread):
    """Polls /predict; when a new version serves, notes when each annotation it trained on
    was first served."""

    def __init__(self, url: str, model_dir: Path) -> None:
        super().__init__(daemon=True)
        self.url, self.model_dir = url, model_dir
        self.served_at: dict[int, float] = {}
        self.versions_seen: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        body = {"tasks": [{"data": {"text": "好"}}], "project": f"{PROJECT}.1",
                "label_config": CONFIG}
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.wait(0.1):
                version = client.post("/predict", json=body).json()["model_version"]
                if not self.versions_seen or version != self.versions_seen[-1]:
                    self._new_version(version, time.monotonic())

    def _new_version(self, name: str, now: float) -> None:
        self.versions_seen.append(name)
        folder = self.model_dir / str(PROJECT) / name.rsplit("-", 1)[1]
        try:
            tasks = json.loads((folder / "train_data.json").read_text())
        except (OSError, ValueError):
            return  # untrained, or already pruned (we poll far faster than versions come)
        for task in tasks:
            for ann in task.get("annotations") or []:
                self.served_at.setdefault(int(ann["id"]), now)


def disk_usage(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(annotations: int, rate: float, mode: str, root: Path) -> dict[str, Any]:
    backend, model_dir = root / "backend", root / "models"
    labelloop("init", str(backend))
    port = free_port()
    cmd = [sys.executable, "-m", "labelloop.cli.main", "start", str(backend), "--port",
           str(port), "--host", "127.0.0.1", "--model-dir", str(model_dir)]
    procs = []
    if mode == "redis":
        redis_port = free_port()
        procs.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "",
                                       "--appendonly", "no"], stdout=subprocess.DEVNULL))
        url = f"redis://127.0.0.1:{redis_port}/0"
        cmd += ["--redis-url", url]
        procs.append(subprocess.Popen([sys.executable, "-m", "labelloop.cli.main", "worker",
                                       str(backend), "--redis-url", url, "--model-dir",
                                       str(model_dir)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    procs.insert(0, server)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", None, 60, "the backend", root / "server.log")
        return _stream(f"http://127.0.0.1:{port}", model_dir, annotations, rate)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)


def _stream(url: str, model_dir: Path, annotations: int, rate: float) -> dict[str, Any]:
    pairs = sentiment_corpus(seed=5)[:annotations]
    watcher = Watcher(url, model_dir)
    watcher.start()
    sent_at: dict[int, float] = {}
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=30) as client:
        for i, (text, label) in enumerate(pairs, start=1):
            time.sleep(max(0.0, started + (i - 1) / rate - time.monotonic()))
            sent_at[i] = time.monotonic()
            client.post("/webhook", json=event(i, text, label)).raise_for_status()
        stream_s = time.monotonic() - started
        deadline = time.monotonic() + 300
        while len(watcher.served_at.keys() & sent_at.keys()) < len(sent_at):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        watcher.stop.set()
        metrics = client.get("/metrics").text
    delays = [watcher.served_at[i] - sent_at[i] for i in sent_at if i in watcher.served_at]
    return {"stream_s": stream_s, "delays": delays, "unserved": len(sent_at) - len(delays),
            "made": _jobs_made(metrics), "model_dir": model_dir}


def _jobs_made(metrics: str) -> int:
    from prometheus_client.parser import text_string_to_metric_families

    return int(sum(s.value for f in text_string_to_metric_families(metrics) for s in f.samples
                   if s.name == "labelloop_training_jobs_total"
                   and s.labels.get("kind") == "train"))


def final_fit_time(model_dir: Path) -> tuple[float, float]:
    """(the last job's time, the model's fit alone) on the final training set."""
    from labelloop.examples.simple_text_classifier import SimpleTextClassifier

    project = model_dir / str(PROJECT)
    current = (project / ".current").read_text().strip()
    job_time = float(json.loads((project / current / "job_result.json").read_text())["time"])
    tasks = json.loads((project / current / "train_data.json").read_text())
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        SimpleTextClassifier(CONFIG).fit(tasks, Path(work))
        return job_time, time.perf_counter() - started


def report(result: dict[str, Any], annotations: int, rate: float, mode: str) -> None:
    model_dir: Path = result["model_dir"]
    kept = [d for d in (model_dir / str(PROJECT)).iterdir() if d.name.isdigit()]
    used = disk_usage(model_dir) / 1024 / 1024
    delays = sorted(result["delays"])
    median = statistics.median(delays)
    p90 = delays[int(0.9 * (len(delays) - 1))]
    job_time, fit_alone = final_fit_time(model_dir)
    rows = [
        ("annotations", f"{annotations} at {rate:g}/s over {result['stream_s']:.0f} s ({mode})"),
        ("versions made (training jobs)", f"{result['made']}   goal <= 30: "
                                          f"{'yes' if result['made'] <= 30 else 'NO'}"),
        ("versions kept", f"{len(kept)}"),
        ("disk used", f"{used:.1f} MB   goal <= 100 MB: {'yes' if used <= 100 else 'NO'}"),
        ("annotation -> served delay", f"median {median:.2f} s, p90 {p90:.2f} s"
                                        f" ({result['unserved']} never served)"),
        ("final training set", f"job {job_time:.2f} s (evaluation + fit), fit alone "
                               f"{fit_alone:.2f} s"),
        ("median delay / job time", f"{median / job_time:.1f}x   goal <= 3x: "
                                    f"{'yes' if median <= 3 * job_time else 'NO'}"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=10.0, help="annotations per second")
    parser.add_argument("--mode", choices=["local", "redis"], default="local")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="labelloop-stream-"))
    try:
        result = run(args.annotations, args.rate, args.mode, root)
        report(result, args.annotations, args.rate, args.mode)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
