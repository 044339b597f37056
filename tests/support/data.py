"""Test data: paths, label configs, recorded Label Studio requests, webhook bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
MODELS = ROOT / "tests" / "models"
EXAMPLE = ROOT / "src" / "labelloop" / "examples" / "simple_text_classifier.py"

TEXT_CONFIG = ('<View><Text name="text" value="$text"/>'
               '<Choices name="sentiment" toName="text"><Choice value="积极"/>'
               '<Choice value="消极"/><Choice value="中性"/></Choices></View>')
# The sentiment corpus's two labels: what the e2e projects annotate.
TWO_LABEL_CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" '
                    'toName="text"><Choice value="积极"/><Choice value="消极"/></Choices></View>')


def ls_requests() -> list[dict[str, Any]]:
    """The real request bodies Label Studio 1.23.2 sent (recorded in tests/data)."""
    path = DATA / "ls-requests.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def annotation_event(ann_id: int, task_id: int, text: str, label: str, project: int = 1,
                     config: str = TEXT_CONFIG, action: str = "ANNOTATION_CREATED",
                     from_name: str = "sentiment") -> dict[str, Any]:
    """An ANNOTATION_CREATED body shaped like the recorded one."""
    return {
        "action": action,
        "annotation": {"id": ann_id, "task": task_id, "project": project, "was_cancelled": False,
                       "ground_truth": False, "completed_by": 1,
                       "result": [{"from_name": from_name, "to_name": "text", "type": "choices",
                                   "value": {"choices": [label]}}]},
        "task": {"id": task_id, "data": {"text": text}, "meta": {}, "project": project},
        "project": {"id": project, "label_config": config, "title": "t"},
    }
