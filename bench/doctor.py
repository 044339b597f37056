"""How long `labelloop doctor` takes on the demo's project: the same backend, the same
Label Studio 1.23.2 setup and the same project that `make demo` makes. Prints a table.

    python bench/doctor.py [--runs 3]

The target (issue 20): within 10 s. Each run is the real command in a fresh process, so
the time includes Python's start and the model's import, as a user sees it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labelloop.cli.demo import KINDS, prepare_project, start_backend
from labelloop.cli.scaffold import example_script, init_backend
from labelloop.cli.studio import DEFAULT_LS_VENV, LabelStudio, free_port, stop_process_group


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    venv = Path(os.environ.get("LABELLOOP_LS_VENV") or DEFAULT_LS_VENV)
    with tempfile.TemporaryDirectory(prefix="labelloop-bench-doctor-") as tmp:
        root = Path(tmp)
        backend_dir = root / "backend"
        init_backend(backend_dir, example_script(KINDS["text"].script))
        port = free_port()
        backend = start_backend(backend_dir, port, "127.0.0.1")
        studio = LabelStudio(venv / "bin" / "label-studio", root / "ls", free_port())
        try:
            studio.start(timeout=900)  # a busy machine: the first start migrates a new database
            with studio.client() as ls:
                project, tasks = prepare_project(ls, f"http://127.0.0.1:{port}")
            print(f"demo project {project}: {tasks} tasks; doctor runs, each a new process\n")
            print(f"{'run':>3}  {'wall s':>7}  {'checks s':>8}  {'checks':>6}  not ok")
            walls = [_run(i, backend_dir, project) for i in range(1, args.runs + 1)]
            print(f"\nworst {max(walls):.2f} s, median {sorted(walls)[len(walls) // 2]:.2f} s "
                  "(target: 10 s)")
        finally:
            studio.stop()
            stop_process_group(backend)


def _run(i: int, backend_dir: Path, project: int) -> float:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "labelloop.cli.main", "doctor", str(backend_dir),
                          "--project", str(project), "--format", "json"],
                         capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    report = json.loads(out.stdout)
    bad = [f"{c['name']}={c['status']}" for c in report["checks"] if c["status"] != "ok"]
    print(f"{i:>3}  {wall:>7.2f}  {report['seconds']:>8.2f}  {len(report['checks']):>6}  "
          f"{', '.join(bad) or '-'}")
    return wall


if __name__ == "__main__":
    main()
