"""Where a 10,000-task /predict spends its time: pyinstrument over the server's code path
(body parsing, the backend, the model, JSON encoding), in one process.

    python bench/profile_predict.py [--tasks 10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
from pyinstrument import Profiler

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import CONFIG, annotated_tasks, corpus_texts, predict_body
from labelloop.backend.service import Backend
from labelloop.cli.offline import train_offline
from labelloop.server.schemas import PredictRequest
from labelloop.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    n = parser.parse_args().tasks
    tmp = Path(tempfile.mkdtemp())
    backend_dir = tmp / "backend"
    subprocess.run([sys.executable, "-m", "labelloop.cli.main", "init", str(backend_dir)],
                   check=True, stdout=subprocess.DEVNULL)
    (tmp / "export.json").write_text(json.dumps(annotated_tasks(10_000), ensure_ascii=False))
    (tmp / "config.xml").write_text(CONFIG)
    settings = Settings.from_env({}, backend_dir=backend_dir)
    train_offline(settings, "1", tmp / "export.json", tmp / "config.xml")
    backend = Backend.open(settings)
    body = predict_body(corpus_texts(n))
    warm = PredictRequest.model_validate_json(body)
    backend.predict(warm.project, warm.tasks[:10], warm.label_config)  # load the model first
    profiler = Profiler(interval=0.001)
    profiler.start()
    req = PredictRequest.model_validate_json(body)
    result = backend.predict(req.project, req.tasks, req.label_config)
    orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
