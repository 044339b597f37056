"""What Prometheus metrics cost a single-task /predict.

    python bench/metrics_cost.py [--rounds 7] [--seconds 3]

Two servers with the founding classifier, trained on the same 1,000 sentences: one with
metrics on (the default), one with ``LABELLOOP_METRICS=false``. Rounds alternate which goes
first; each round is ``--seconds`` of closed-loop single-task load at concurrency 1 (the
raw-socket client of loadgen.py). Prints the median of the rounds' p50s and the relative
overhead (goal: < 5 %), and the server CPU per request (which load from elsewhere moves
less than wall time).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Backend, load, load_average, predict_body, trained_backend, write_export


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"machine: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="labelloop-metrics-bench-") as tmp:
        root = Path(tmp)
        export = write_export(root, 1000)
        backend_dir, model_dir, _ = trained_backend(root, "backend", None, export)
        servers = {"on": Backend(backend_dir, model_dir),
                   "off": Backend(backend_dir, model_dir, env={"LABELLOOP_METRICS": "false"})}
        try:
            report(measure(servers, args.rounds, args.seconds))
        finally:
            for server in servers.values():
                server.stop()


def measure(servers: dict[str, Backend], rounds: int,
            seconds: float) -> dict[str, dict[str, list[float]]]:
    body = predict_body(["这家店的服务非常好，下次还来"])
    found: dict[str, dict[str, list[float]]] = {k: {"p50": [], "cpu": []} for k in servers}
    for r in range(rounds):
        order = list(servers) if r % 2 == 0 else list(servers)[::-1]
        for name in order:
            server = servers[name]
            cpu = server.cpu()
            result = load(server.port, body, concurrency=1, seconds=seconds)
            found[name]["p50"].append(result["p50_ms"])
            found[name]["cpu"].append((server.cpu() - cpu) / result["total"] * 1000)
    return found


def report(found: dict[str, dict[str, list[float]]]) -> None:
    p50 = {k: statistics.median(v["p50"]) for k, v in found.items()}
    cpu = {k: statistics.median(v["cpu"]) for k, v in found.items()}
    over = p50["on"] / p50["off"] - 1
    print(f"{'metrics':<8} {'1 task c=1 p50 ms':>18} {'server CPU ms/request':>22}")
    for name in ("on", "off"):
        print(f"{name:<8} {p50[name]:>18.3f} {cpu[name]:>22.3f}")
    print(f"overhead: p50 {over:+.1%} (< 5 %: {'yes' if over < 0.05 else 'NO'}), "
          f"CPU {cpu['on'] / cpu['off'] - 1:+.1%}")


if __name__ == "__main__":
    main()
