"""``label_studio.ml.LabelStudioMLBase`` of Label Studio 0.8/0.9, as labelloop hosts it.

A script subclasses it, overrides ``predict(tasks, **kwargs)`` and ``fit(completions,
workdir=None, **kwargs)``; labelloop builds it with the label config and the
``train_output`` of the version it serves, and gives ``fit`` the annotated tasks with
their annotations under ``completions`` (and ``annotations``).

>>> class M(LabelStudioMLBase):
...     def predict(self, tasks, **kwargs):
...         return [{"result": [], "score": 0.0} for _ in tasks]
>>> m = M(label_config='<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
...                    '<Choice value="A"/></Choices></View>', hostname="http://ls")
>>> m.parsed_label_config["c"]["labels"], m.train_output, m.hostname
(['A'], {}, 'http://ls')
"""

from __future__ import annotations

from typing import Any

from labelloop.compat.legacy_config import parse_config
from labelloop.compat.local_files import get_local_path

GENERATION = "Label Studio 0.8/0.9 (label_studio.ml)"


class LabelStudioMLBase:
    def __init__(self, label_config: str | None = None,
                 train_output: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.label_config = label_config
        self.parsed_label_config: dict[str, Any] = (parse_config(label_config)
                                                    if label_config else {})
        self.train_output: dict[str, Any] = train_output or {}
        self.hostname: str = kwargs.get("hostname") or ""
        self.access_token: str = kwargs.get("access_token") or ""

    def predict(self, tasks: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
        raise NotImplementedError(f"{type(self).__name__} does not implement predict()")

    def fit(self, completions: Any, workdir: str | None = None, **kwargs: Any) -> dict[str, Any]:
        return {}

    def get_local_path(self, url: str, project_dir: str | None = None) -> str:
        return get_local_path(url, project_dir=project_dir, hostname=self.hostname or None,
                              access_token=self.access_token or None)
