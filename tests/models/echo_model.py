"""A test model that answers every config type of LS-PROTOCOL.md section 4.

Tests steer it while a server runs, through files in the folder ``$ECHO_CONTROL``:
``fit_sleep`` (seconds ``fit`` sleeps), ``fit_fail`` (``fit`` raises), ``fit_worse`` (``fit``
learns the LEAST common label: a version that gets worse on purpose), ``fit_progress``
(``fit`` reports progress in that many steps, 0.2 s apart), ``fit_bytes`` (``fit`` also
writes a file of that many bytes), ``load_files`` (``setup`` reads the version's files back:
they must be where ``train_output`` says) and ``predict`` (``raise`` | ``short`` | ``junk``:
``predict`` misbehaves).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from labelloop.sdk import (
    LabelStudioModel,
    choices_region,
    first_choice,
    prediction,
    rectangle_region,
    span_region,
)


def control(name: str) -> str | None:
    folder = os.environ.get("ECHO_CONTROL")
    path = Path(folder) / name if folder else None
    return path.read_text().strip() if path is not None and path.exists() else None


class EchoModel(LabelStudioModel):
    def setup(self) -> None:
        self.control = self.label_config.control()
        self.key = self.label_config.data_key(self.control)
        self.majority = self.train_output.get("majority")
        if control("load_files") and self.train_output:
            counts = json.loads(Path(self.train_output["model_file"]).read_text())
            assert self.majority is None or self.majority in counts

    def predict(self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None,
                **kwargs: Any) -> list[Any]:
        mode = control("predict")
        if mode == "raise":
            raise RuntimeError("the model exploded")
        if mode == "short":
            return []
        if mode == "junk":
            return [{"no_result": True} for _ in tasks]
        return [self._one(t) for t in tasks]

    def _one(self, task: dict[str, Any]) -> dict[str, Any]:
        c, to = self.control, self.control.to_name[0]
        label = self.majority or (c.labels[0] if c.labels else "x")
        if c.type == "choices":
            region = choices_region(c.name, to, [label], score=0.9)
        elif c.type == "labels":
            text = str(task["data"][self.key])
            region = span_region(c.name, to, 0, min(5, len(text)), label, text[:5], score=0.8)
        else:
            region = rectangle_region(c.name, to, 10, 20, 30, 40, label, score=0.7)
        return prediction([region], score=region["score"])

    def fit(self, tasks: list[dict[str, Any]], workdir: Path, **kwargs: Any) -> dict[str, Any]:
        time.sleep(float(control("fit_sleep") or 0))
        if control("fit_fail"):
            raise ValueError("fit failed on purpose")
        labels = [first_choice(t, self.control.name) for t in tasks]
        counts: dict[str, int] = {}
        for label in labels:
            if label:
                counts[label] = counts.get(label, 0) + 1
        steps = int(control("fit_progress") or 0)
        for step in range(steps):
            self.report_progress((step + 1) / steps, f"step {step + 1} of {steps}")
            time.sleep(0.2)
        pick = min if control("fit_worse") else max
        majority = pick(counts, key=lambda k: counts[k]) if counts else None
        (Path(workdir) / "model.json").write_text(json.dumps(counts))
        size = int(control("fit_bytes") or 0)
        if size:
            with (Path(workdir) / "blob.bin").open("wb") as f:
                f.write(os.urandom(size))
        return {"majority": majority, "model_file": str(Path(workdir) / "model.json"),
                "count": len(tasks)}
