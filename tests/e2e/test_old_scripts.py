"""A script written for Label Studio 0.9's ML API (generation 1), unchanged, driven by a real
Label Studio 1.23.2: annotations -> background training -> predictions of the new version."""

from __future__ import annotations

import json
from pathlib import Path

from labelloop.examples.corpus import as_tasks, sentiment_corpus
from labelloop.sdk.label_studio import LabelStudioClient
from support.data import TWO_LABEL_CONFIG
from support.servers import Deployment, make_backend
from support.waiting import wait_until

from .conftest import validate_with_label_studio

SCRIPT = Path(__file__).resolve().parent.parent / "compat_scripts" / "gen1_text_classifier.py"
CONFIG = TWO_LABEL_CONFIG


def test_a_label_studio_0_9_script_trains_and_predicts(ls: LabelStudioClient, ls_venv: Path,
                                                       tmp_path: Path,
                                                       deployment: Deployment) -> None:
    server = deployment.start(make_backend(tmp_path / "backend", SCRIPT))
    assert server.client.get("/health").json()["api"].startswith("Label Studio 0.8/0.9")
    pairs = sentiment_corpus(seed=33)
    truth = dict(pairs[:150])
    project = ls.create_project(f"e2e Label Studio 0.9 script ({deployment.mode})", CONFIG)
    ls.import_tasks(project, [{"text": t} for t, _ in pairs[:50]])
    ls.import_annotated(project, as_tasks(pairs[50:150]))
    ml = ls.connect_backend(project, server.url)
    assert ml["state"] == "CO" and ml["model_version"] == "ReviewClassifier-untrained"

    # Two annotations made in Label Studio, then Start Training: the export has them all.
    unlabeled = [t for t in ls.tasks(project) if not t["annotations"]]
    for task in unlabeled[:2]:
        ls.annotate(task["id"], [{"from_name": "sentiment", "to_name": "text",
                                  "type": "choices",
                                  "value": {"choices": [truth[task["data"]["text"]]]}}])
    ls.call("POST", f"/api/ml/{ml['id']}/train")

    def trained_on_everything() -> str | None:
        version = str(ls.ml(ml["id"])["model_version"])
        folder = server.model_dir / str(project) / version.rsplit("-", 1)[-1]
        data = folder / "train_data_info.json"
        return version if data.exists() and json.loads(data.read_text())["count"] == 102 else None

    version = wait_until(trained_on_everything, timeout=120, interval=0.5)
    rest = [t["id"] for t in unlabeled[2:]]
    ls.retrieve_predictions(project, rest)
    stored = {t["id"]: p for t in ls.tasks(project) for p in t["predictions"]
              if p["model_version"] == version}
    assert set(rest) <= set(stored)
    by_id = {t["id"]: t["data"]["text"] for t in unlabeled}
    right = sum(stored[t]["result"][0]["value"]["choices"][0] == truth[by_id[t]] for t in rest)
    assert right / len(rest) > 0.6  # two classes: chance is 0.5
    assert not validate_with_label_studio(ls_venv, CONFIG, [stored[t] for t in rest[:20]])
