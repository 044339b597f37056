"""What the label audit adds to a training job, and what it finds there.

    python bench/audit_cost.py [--sizes 3000,1000] [--seeds 42,1,2] [--noise 0.1] [--folds 2]

Each row is a real training job (``labelloop train``'s code path: a version folder, the
fit in a forked child, evaluation, refit, job_result.json), run twice on the same
annotations, the first ``n`` of bench/accuracy.py's training pool with ``--noise`` of
the labels flipped: once with ``LABELLOOP_AUDIT=false``, once with the audit on (the
order alternates between seeds). Each job starts from an empty model dir, so neither
scores a served version. Goal: the audit adds at most +50 % at 3,000 annotations:
"added" compares the two jobs' wall times, "in-job" the audit's own seconds with the rest
of the job it ran in (steadier when other work shares the machine).
Precision and recall are the suspects' against the flips (the corpus's own label errors
count as false suspects).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import CONFIG
from active_learning import corpus_split
from label_audit import flip, prf
from labelloop.cli.offline import train_offline
from labelloop.examples.corpus import as_tasks
from labelloop.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / "src/labelloop/examples/simple_text_classifier.py"


def one_job(tasks: list[dict[str, Any]], audit: bool, root: Path,
            folds: int) -> dict[str, Any]:
    """A training job in a fresh model dir; its job_result.json and wall time."""
    backend, models = root / "backend", root / f"models-{audit}-{time.monotonic_ns()}"
    if not backend.exists():
        subprocess.run([sys.executable, "-m", "labelloop.cli.main", "init", str(backend),
                        "--script", str(EXAMPLE)], check=True, capture_output=True)
    (root / "tasks.json").write_text(json.dumps(tasks, ensure_ascii=False))
    (root / "config.xml").write_text(CONFIG)
    settings = Settings.from_env({}, backend_dir=backend, model_dir=models, audit=audit,
                                 audit_folds=folds, rescore=False)
    started = time.perf_counter()
    record = train_offline(settings, "1", root / "tasks.json", root / "config.xml")
    took = time.perf_counter() - started
    assert record.state == "finished", record.error
    result = json.loads((models / "1" / str(record.version) / "job_result.json").read_text())
    return {"seconds": took, "result": result}


def row(seed: int, size: int, noise: float, root: Path, folds: int) -> dict[str, Any]:
    _, pool = corpus_split(seed, False)
    noisy, flipped = flip(pool[:size], noise, seed)
    tasks = as_tasks(noisy)
    for i, task in enumerate(tasks):  # Label Studio ids: the audit names tasks by id
        task["id"] = i + 1
        task["annotations"][0]["id"] = i + 1
    order = [False, True] if seed % 2 == 0 else [True, False]
    runs = {audit: one_job(tasks, audit, root, folds) for audit in order}
    audit = runs[True]["result"]["audit"]
    found = {int(s["task"]) - 1 for s in audit["suspects"]}
    p, r, f = prf(found, flipped)
    return {"seed": seed, "n": size, "off": runs[False]["seconds"],
            "on": runs[True]["seconds"], "audit_s": audit.get("seconds", 0.0),
            "folds": audit.get("folds"), "suspects": len(found), "p": p, "r": r, "f1": f}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42,1,2")
    parser.add_argument("--sizes", default="3000,1000")
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--folds", type=int, default=2,
                        help="LABELLOOP_AUDIT_FOLDS: folds beside the evaluation's hold-out")
    args = parser.parse_args()
    print(f"training job with and without the label audit (LABELLOOP_AUDIT_FOLDS="
          f"{args.folds}); {args.noise:.0%} of labels flipped\n")
    print(f"{'seed':>4} {'n':>5} | {'job, audit off':>14} {'audit on':>9} {'added':>7} "
          f"{'audit s':>8} {'in-job':>7} {'folds':>5} | {'suspects':>8} {'P':>5} {'R':>5} "
          f"{'F1':>5} | goal (in-job <= +50 %)")
    with tempfile.TemporaryDirectory(prefix="labelloop-audit-cost-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            for seed in (int(s) for s in args.seeds.split(",")):
                r = row(seed, size, args.noise, Path(tmp), args.folds)
                added = r["on"] / r["off"] - 1
                # The audit's seconds over the rest of the same job: other work on the
                # machine moves two jobs' wall times apart more than it moves this.
                in_job = r["audit_s"] / (r["on"] - r["audit_s"])
                goal = ("ok" if in_job <= 0.5 else "MISSED") if size >= 3000 else ""
                print(f"{r['seed']:>4} {r['n']:>5} | {r['off']:>13.1f}s {r['on']:>8.1f}s "
                      f"{added:>+7.0%} {r['audit_s']:>7.1f}s {in_job:>+7.0%} {r['folds']:>5} | "
                      f"{r['suspects']:>8} {r['p']:>5.2f} {r['r']:>5.2f} {r['f1']:>5.2f} | "
                      f"{goal}", flush=True)


if __name__ == "__main__":
    main()
