"""What labelloop's compat layer costs on /predict: one model, four APIs, all served by
labelloop.

    python bench/compat_overhead.py [--rounds 5] [--seconds 3]

The word pipeline written four times (bench/models): as a native ``LabelStudioModel``
(word_native.py), and as scripts for Label Studio 0.9's ``label_studio.ml`` (gen 1),
label-studio-ml 1.0.x (gen 2) and today's label-studio-ml-backend (gen 3). Each backend is
made as users make it (``labelloop init --script``, ``labelloop train`` on the same 1,000
annotated sentences: the same deterministic pipeline, checked by comparing predictions)
and served by ``labelloop start`` (1 worker), all four at once.

Measured in rounds, the order rotating: 1 task at concurrency 1 (p50 and the server's
CPU per request, psutil) and 10,000 tasks in one request (wall time and the server's
CPU). Latency: median of the rounds; batch: the best round. In-process, in this
process (CPU time, best of 2 a round, each after ``gc.collect()``): each script's own
``predict()`` on the same tasks (what it costs under any host), and the same through
labelloop's adapter class. The compat overhead is the served
CPU minus the script's own, compared with the native script's. The native script builds
its regions with ``labelloop.sdk`` (which gives each region an id); the others write
plain dicts, so their scripts differ a little in their own cost, which the last columns
take out.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    CONFIG,
    MODELS,
    PROJECT,
    Backend,
    align,
    corpus_texts,
    load,
    load_average,
    ls_task,
    median,
    predict_body,
    same_predictions,
    trained_backend,
    write_export,
)
from labelloop.compat.loader import load_model_class
from labelloop.sdk.label_config import parse_label_config

GENERATIONS = ("native", "gen1", "gen2", "gen3")
TRAIN, BIG = 1000, 10_000


@dataclass
class Variant:
    name: str
    script: Path
    backend_dir: Path
    model_dir: Path
    train_output: dict[str, Any]
    server: Backend | None = None
    served: Callable[[list[dict[str, Any]]], Any] | None = None  # through the adapter
    own: Callable[[list[dict[str, Any]]], Any] | None = None  # the script's predict()
    got: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def in_process(v: Variant) -> None:
    """The script's class as labelloop loads it, built for the trained version."""
    cls = load_model_class(v.script)
    model = cls(parse_label_config(CONFIG), train_output=v.train_output)
    inner = getattr(model, "inner", model)  # the foreign object for gen 1-3
    v.served = model.predict
    v.own = inner.predict


def cpu(func: Callable[[], Any], runs: int = 2) -> float:
    """CPU seconds of ``func()``, best of ``runs``, each after a full garbage collection
    (so that no run pays for another's garbage)."""
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        started = time.process_time()
        func()
        best = min(best, time.process_time() - started)
    return best


def measure(v: Variant, body1: bytes, body_big: bytes, tasks: list[dict[str, Any]],
            seconds: float) -> None:
    server = v.server
    assert server is not None and v.own is not None and v.served is not None
    before = server.cpu()
    r = load(server.port, body1, 1, seconds)
    v.got["cpu1"].append((server.cpu() - before) / r["total"])
    v.got["p50"].append(r["p50_ms"])
    v.got["p99"].append(r["p99_ms"])
    before = server.cpu()
    status, _, secs = server.timed("POST", "/predict", body_big)
    assert status == 200, (v.name, status)
    v.got["cpu_big"].append(server.cpu() - before)
    v.got["wall_big"].append(secs)
    own, served = v.own, v.served
    v.got["own_big"].append(cpu(lambda: own(tasks)))
    v.got["adapter_big"].append(cpu(lambda: served(tasks)))
    one = tasks[:1]
    v.got["own1"].append(cpu(lambda: [own(one) for _ in range(200)], 1) / 200)


def table(variants: list[Variant]) -> list[str]:
    base = variants[0]

    def best(v: Variant, key: str) -> float:
        return min(v.got[key])

    def mid(v: Variant, key: str) -> float:
        return median(v.got[key])

    def cell(v: Variant, value: Callable[[Variant], float], scale: float, digits: int) -> str:
        text = f"{value(v) * scale:.{digits}f}"
        if v is base:
            return text
        return f"{text} ({(value(v) - value(base)) * scale:+.{digits}f})"

    def over(v: Variant) -> float:
        return (best(v, "cpu_big") - best(v, "own_big")) / BIG

    head = ["", "1 task c=1 p50 ms", "server CPU ms/req", f"{BIG:,} tasks s",
            "server CPU s", "script's own CPU s", "adapter adds CPU s",
            "served - own CPU us/task"]
    rows = [head]
    for v in variants:
        rows.append([
            f"{v.name} ({v.script.name})",
            cell(v, lambda x: mid(x, "p50"), 1, 2),
            cell(v, lambda x: mid(x, "cpu1"), 1000, 3),
            cell(v, lambda x: best(x, "wall_big"), 1, 3),
            cell(v, lambda x: best(x, "cpu_big"), 1, 2),
            cell(v, lambda x: best(x, "own_big"), 1, 3),
            f"{best(v, 'adapter_big') - best(v, 'own_big'):+.3f}",
            cell(v, over, 1e6, 1),
        ])
    return align(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="c=1 load per round")
    args = parser.parse_args()
    started = time.perf_counter()
    lines = [f"machine: {load_average()} (at the start)"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export = write_export(root, TRAIN)
        variants = []
        for gen in GENERATIONS:
            print(f"training {gen} ...", file=sys.stderr, flush=True)
            script = MODELS / f"word_{gen}.py"
            backend_dir, model_dir, output = trained_backend(root, gen, script, export)
            variants.append(Variant(gen, script, backend_dir, model_dir, output))
        texts = corpus_texts(BIG)
        tasks = [ls_task(i, t) for i, t in enumerate(texts)]
        body1, body200, body_big = (predict_body(texts[:1]), predict_body(texts[:200]),
                                    predict_body(texts))
        try:
            for v in variants:
                in_process(v)
                v.server = Backend(v.backend_dir, v.model_dir)
                v.server.post("/setup", {"project": PROJECT, "schema": CONFIG})
            reference = variants[0].own
            assert reference is not None
            expected = [(p["result"][0]["value"]["choices"][0], float(p["score"]))
                        for p in reference(tasks[:200])]
            for v in variants:
                assert v.server is not None
                ok = same_predictions(v.server, body200, expected)
                api = v.server.request("GET", "/health")[1].get("api")
                lines.append(f"{v.name}: served as {api}; same labels and scores as native on "
                             f"200 tasks: {'yes' if ok else 'NO'}")
            for r in range(args.rounds):
                order = variants[r % len(variants):] + variants[:r % len(variants)]
                for v in order:
                    print(f"  round {r + 1}/{args.rounds}: {v.name}", file=sys.stderr, flush=True)
                    measure(v, body1, body_big, tasks, args.seconds)
        finally:
            for v in variants:
                if v.server is not None:
                    v.server.stop()
    lines += ["", f"== /predict through labelloop's compat layer ({args.rounds} rounds; in "
              "brackets: the difference from native) =="]
    lines += table(variants)
    base = variants[0]
    for v in variants[1:]:
        over = ((min(v.got["cpu_big"]) - min(v.got["own_big"]))
                - (min(base.got["cpu_big"]) - min(base.got["own_big"]))) / BIG
        single = median(v.got["cpu1"]) - median(v.got["own1"]) - (
            median(base.got["cpu1"]) - median(base.got["own1"]))
        lines.append(f"compat overhead of {v.name} over native, the scripts' own cost taken out: "
                     f"{over * 1e6:+.1f} us/task on {BIG:,} tasks, {single * 1000:+.3f} ms on a "
                     "1-task request (server CPU)")
    gen2, gen3 = variants[2], variants[3]
    standin = (min(gen3.got["own_big"]) - min(gen2.got["own_big"])) / BIG
    lines.append(f"of gen3's own predict(), building ModelResponse (labelloop's stand-in, "
                 f"labelloop/compat/response.py) costs about {standin * 1e6:+.1f} us/task: the "
                 "gen2 and gen3 scripts differ in nothing else")
    lines += ["", f"machine: {load_average()} (at the end); "
              f"{time.perf_counter() - started:.0f} s in all"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
