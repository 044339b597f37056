"""The README's code is real: the 15-line model trains and predicts."""

from __future__ import annotations

import re
from pathlib import Path

from support.data import ROOT, TEXT_CONFIG, annotation_event


def readme_model(tmp_path: Path) -> Path:
    text = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S)
                 if "class MajorityModel" in b)
    assert len(block.strip().splitlines()) <= 20
    path = tmp_path / "majority.py"
    path.write_text(block)
    return path


def test_readme_model_trains_and_predicts(tmp_path: Path) -> None:
    from labelloop.sdk.script import load_model_class

    cls = load_model_class(readme_model(tmp_path))
    untrained = cls(TEXT_CONFIG)
    assert untrained.predict([{"data": {"text": "x"}}]) == [{"result": []}]
    tasks = [{**annotation_event(i, i, "t", label)["task"],
              "annotations": [annotation_event(i, i, "t", label)["annotation"]]}
             for i, label in enumerate(["消极", "积极", "消极"])]
    output = cls(TEXT_CONFIG).fit(tasks, tmp_path)
    [pred] = cls(TEXT_CONFIG, train_output=output).predict([{"data": {"text": "y"}}])
    assert pred["result"][0]["value"] == {"choices": ["消极"]}
