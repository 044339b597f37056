"""The base class model authors subclass: hooks with sensible defaults.

A model is built once per (project, version): ``__init__`` gets the label config and the
``train_output`` that ``fit`` returned for the version it serves, then :meth:`setup` runs
(load ``model.pkl`` there). ``predict`` must answer before any training too.

>>> class Echo(LabelStudioModel):
...     def predict(self, tasks, context=None, **kwargs):
...         c = self.label_config.control("choices")
...         return [prediction([choices_region(c.name, c.to_name[0], [c.labels[0]])])
...                 for _ in tasks]
>>> m = Echo('<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
...          '<Choice value="A"/></Choices></View>')
>>> m.predict([{"data": {"t": "x"}}])[0]["result"][0]["value"]
{'choices': ['A']}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from labelloop.sdk.context import ProjectContext
from labelloop.sdk.label_config import LabelConfig, parse_label_config
from labelloop.sdk.predictions import Prediction, choices_region, prediction  # noqa: F401

Task = dict[str, Any]
TrainOutput = dict[str, Any]


class LabelStudioModel:
    """Subclass this; override :meth:`predict`, and :meth:`fit` if the model learns."""

    #: Set by labelloop while ``fit`` runs: where :meth:`report_progress` goes.
    on_progress: Callable[[float, str], None] | None = None
    #: False when ``fit`` chooses its own training data, so nothing can be held out.
    supports_evaluation: bool = True
    #: The task fields ``predict`` reads, e.g. ``("id", "data")``: Label Studio sends about
    #: twenty, and a big batch is decoded ~3x faster when only these are kept. None: all.
    task_fields: tuple[str, ...] | None = None

    def __init__(self, label_config: LabelConfig | str, train_output: TrainOutput | None = None,
                 *, project: ProjectContext | None = None, **params: Any) -> None:
        self.label_config = (label_config if isinstance(label_config, LabelConfig)
                             else parse_label_config(label_config))
        self.train_output: TrainOutput = dict(train_output or {})
        # The backend's kwargs (config.json, --with) and the extra_params set on the ML
        # backend in Label Studio, if any.
        self.params: dict[str, Any] = params
        # Where it runs: project, version, Label Studio's address (None in plain scripts).
        self.project = project
        self.setup()

    @classmethod
    def learns(cls) -> bool:
        """Whether the class overrides :meth:`fit`: a model that does not (interactive
        ones, fixed OCR...) gets no training jobs, so no versions and no re-scoring."""
        return cls.fit is not LabelStudioModel.fit

    @property
    def is_trained(self) -> bool:
        return bool(self.train_output)

    def setup(self) -> None:
        """Hook: load artifacts named in ``self.train_output``. Default: nothing."""

    def predict(self, tasks: list[Task], context: dict[str, Any] | None = None,
                **kwargs: Any) -> Sequence[Prediction | list[Prediction]]:
        """Return one prediction (or a list of them) per task, in order."""
        raise NotImplementedError(f"{type(self).__name__} does not implement predict()")

    def fit(self, tasks: list[Task], workdir: Path, **kwargs: Any) -> TrainOutput:
        """Train on labelled tasks; save artifacts in ``workdir``; return a JSON-able dict.

        A ``"metrics"`` dict in it is recorded as the model's own metrics."""
        raise NotImplementedError(f"{type(self).__name__} does not implement fit()")

    def report_progress(self, fraction: float, message: str = "") -> None:
        """From ``fit``: how far it is (0 to 1) and what it does; shown by ``/is_training``,
        the status page and ``labelloop train``. Cheap to call often (it is throttled)."""
        if self.on_progress is not None:
            self.on_progress(float(fraction), str(message))
