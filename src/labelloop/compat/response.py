"""``label_studio_ml.response.ModelResponse`` without label-studio-sdk.

label-studio-ml 2.x scripts return ``ModelResponse(predictions=[...])`` from ``predict``.
Upstream types each prediction as the SDK's ``PredictionValue``; here it is a local
pydantic model of the same fields, which also accepts the SDK's objects when the SDK
is installed: ``PredictionValue`` instances (read by attribute), and ``Region`` objects
inside ``result`` (serialised through their ``_dict()``).

>>> r = ModelResponse(model_version="v2", predictions=[
...     {"result": [{"from_name": "c", "to_name": "t", "type": "choices",
...                  "value": {"choices": ["P"]}}], "id": 7},
...     [{"result": [], "score": 0.5}, {"result": [], "model_version": "own"}]])
>>> r.update_predictions_version()
>>> dumped = r.model_dump()
>>> dumped["predictions"][0]["model_version"], dumped["predictions"][0]["score"]
('v2', 0.0)
>>> [p["model_version"] for p in dumped["predictions"][1]]
['v2', 'own']
>>> normalize_predictions({"predictions": [{"result": []}]})
[{'result': []}]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from labelloop.errors import ModelError


class PredictionValue(BaseModel):
    """One prediction: ``{"model_version", "score", "result"}``; other keys are dropped,
    as upstream's pydantic model dropped them."""

    # "model_version" would otherwise trip pydantic's reserved "model_" prefix warning.
    model_config = ConfigDict(protected_namespaces=())

    model_version: str | None = None
    score: float = 0.0
    result: list[dict[str, Any]]

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, data: Any) -> Any:
        """One pass per prediction (a 50,000-task batch makes 50,000 of them):

        - other prediction objects (label-studio-sdk's ``PredictionValue``) are read by
          attribute rather than through their ``model_dump()``: older SDKs have no
          serializer for ``Region`` objects in ``result``;
        - ``model_version`` becomes text (``self.model_version`` is a ``semver.Version`` in
          label-studio-ml 2.x); a missing ``score`` is 0.0;
        - ``Region`` objects in ``result`` become dicts, their relations appended.
        """
        if isinstance(data, Mapping):
            data = dict(data)  # never change the script's own dict
        elif hasattr(data, "result"):
            data = {"model_version": getattr(data, "model_version", None),
                    "score": getattr(data, "score", 0.0), "result": data.result}
        else:
            return data  # let pydantic reject it with its own message
        version = data.get("model_version")
        data["model_version"] = None if version is None else str(version)
        if data.get("score") is None:
            data["score"] = 0.0
        if isinstance(data.get("result"), list | tuple):
            data["result"] = _coerce_result(data["result"])
        return data


def _coerce_result(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    regions: list[Any] = []
    relations: list[Any] = []
    for item in value:
        regions.append(_region_dict(item))
        relations.extend(_region_relations(item))
    # Relations go after all regions: Label Studio resolves their ids against them.
    return regions + relations


def _region_dict(item: Any) -> Any:
    if isinstance(item, Mapping):
        return item
    if callable(getattr(item, "_dict", None)):  # label-studio-sdk's Region
        return item._dict()
    if callable(getattr(item, "model_dump", None)):
        return item.model_dump()
    return item


def _region_relations(item: Any) -> list[Any]:
    if isinstance(item, Mapping) or not getattr(item, "relations", None):
        return []
    to_relations = getattr(item, "_dict_relations", None)
    return list(to_relations()) if callable(to_relations) else []


SingleTaskPredictions = PredictionValue | list[PredictionValue]


class ModelResponse(BaseModel):
    """What a label-studio-ml 2.x ``predict`` returns: one entry per task, each a
    prediction or a list of predictions for that task."""

    model_config = ConfigDict(protected_namespaces=())

    model_version: str | None = None
    predictions: list[SingleTaskPredictions]

    @field_validator("model_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return None if value is None else str(value)

    def _each(self) -> Iterator[PredictionValue]:
        for entry in self.predictions:
            if isinstance(entry, list):
                yield from entry
            else:
                yield entry

    def has_model_version(self) -> bool:
        return bool(self.model_version)

    def update_predictions_version(self) -> None:
        """Give every prediction without a version this response's version."""
        for prediction in self._each():
            if not prediction.model_version:
                prediction.model_version = self.model_version

    def set_version(self, version: str | None) -> None:
        self.model_version = None if version is None else str(version)
        self.update_predictions_version()


def normalize_predictions(obj: Any, model_version: str | None = None) -> list[Any] | None:
    """The per-task list a label-studio-ml 2.x ``predict`` result stands for, as plain data.

    ``ModelResponse`` → its predictions as dicts (nested lists kept), stamped like
    upstream's API did: ``model_version`` fills the response's version when it has none,
    and the response's version fills each prediction's. A dict with ``predictions`` →
    that list; a list → the same list with pydantic objects dumped; None → None.
    Anything else raises :class:`labelloop.errors.ModelError`.
    """
    if obj is None:
        return None
    if isinstance(obj, ModelResponse):
        # Dumped first, then stamped: the script's object is never changed, and nothing is
        # deep-copied.
        version = obj.model_version or model_version
        predictions = list(obj.model_dump()["predictions"])
        for entry in predictions:
            for prediction in entry if isinstance(entry, list) else [entry]:
                if not prediction.get("model_version"):
                    prediction["model_version"] = version
        return predictions
    if isinstance(obj, Mapping):
        if not isinstance(obj.get("predictions"), list | tuple):
            raise ModelError("predict() returned a dict without a 'predictions' list "
                             f"(keys: {sorted(map(str, obj))[:10]})")
        return _plain_list(obj["predictions"])
    if isinstance(obj, list | tuple):
        return _plain_list(obj)
    raise ModelError(f"predict() returned {type(obj).__name__}; expected a list of "
                     "predictions, a ModelResponse or a dict with 'predictions'")


def _plain_list(items: Any) -> list[Any]:
    return [_plain(item) for item in items]


def _plain(item: Any) -> Any:
    if isinstance(item, list | tuple):
        return _plain_list(item)
    if isinstance(item, Mapping) or not callable(getattr(item, "model_dump", None)):
        return item
    if hasattr(item, "result"):  # a prediction object (ours or the SDK's)
        return PredictionValue.model_validate(item).model_dump()
    return item.model_dump()
