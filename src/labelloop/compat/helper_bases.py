"""``LabelStudioMLBaseHelper`` and ``LabelStudioMLChoices``: the helper base classes that
``label_studio/ml/helpers.py`` (and ``label_studio_ml/helpers.py``) offered, built on either
generation's base class. They read annotations under ``completions``, as they always did
(labelloop gives generation 1 and 2 scripts both keys)."""

from __future__ import annotations

from typing import Any


class _Helper:
    """predict = convert_predictions(predict2(prepare_tasks(tasks))); fit = fit2(...)."""

    def prepare_tasks(self, tasks: Any, workdir: str | None = None,
                      **kwargs: Any) -> tuple[list[Any], list[Any]]:
        raise NotImplementedError

    def convert_predictions(self, predictions: Any, **kwargs: Any) -> list[Any]:
        raise NotImplementedError

    def predict2(self, X: Any, y: Any = None, **kwargs: Any) -> Any:  # noqa: N803
        raise NotImplementedError

    def fit2(self, X: Any, y: Any, **kwargs: Any) -> Any:  # noqa: N803
        raise NotImplementedError

    def predict(self, tasks: list[dict[str, Any]], **kwargs: Any) -> list[Any]:
        X, y = self.prepare_tasks(tasks, **kwargs)  # noqa: N806
        return self.convert_predictions(self.predict2(X, y, **kwargs), **kwargs)

    def fit(self, completions: Any, workdir: str | None = None, **kwargs: Any) -> Any:
        X, y = self.prepare_tasks(completions, workdir=workdir, **kwargs)  # noqa: N806
        return self.fit2(X, y, **kwargs)

    def _has_annotation(self, task: dict[str, Any]) -> bool:
        return "completions" in task


class _Choices:
    """A config of exactly one ``<Choices>`` on one object; X = texts, y = choice lists."""

    parsed_label_config: dict[str, Any]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert len(self.parsed_label_config) == 1
        self.from_name, self.info = next(iter(self.parsed_label_config.items()))
        assert self.info["type"] == "Choices"
        assert len(self.info["to_name"]) == 1
        assert len(self.info["inputs"]) == 1
        self.to_name = self.info["to_name"][0]
        self.value = self.info["inputs"][0]["value"]

    def prepare_tasks(self, tasks: Any, workdir: str | None = None,
                      **kwargs: Any) -> tuple[list[Any], list[Any]]:
        X, y = [], []  # noqa: N806
        for task in tasks:
            X.append(task["data"][self.value])
            y.append(task["completions"][0]["result"][0]["value"]["choices"]
                     if "completions" in task else None)
        return X, y

    def convert_predictions(self, predictions: Any, **kwargs: Any) -> list[Any]:
        list_choices, scores = predictions
        return [{"result": [{"from_name": self.from_name, "to_name": self.to_name,
                             "type": "choices", "value": {"choices": choices}}],
                 "score": score} for choices, score in zip(list_choices, scores, strict=True)]


def helper_classes(base: type) -> tuple[type, type]:
    """(LabelStudioMLBaseHelper, LabelStudioMLChoices) on top of ``base``."""
    helper = type("LabelStudioMLBaseHelper", (_Helper, base), {"__module__": base.__module__})
    choices = type("LabelStudioMLChoices", (_Choices, helper), {"__module__": base.__module__})
    return helper, choices
