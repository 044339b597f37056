"""``label_studio_ml.model.LabelStudioMLBase``, as labelloop hosts it: one class for both
label-studio-ml 1.0.x (generation 2) and label-studio-ml-backend 2.x (generation 3).

Generation 2 builds it as ``Model(label_config=..., train_output=..., hostname=...,
access_token=..., **kwargs)``; generation 3 as ``Model(project_id, label_config=...)``,
then calls ``setup()``. ``get``/``set`` state lives in labelloop's stores (per project,
shared by every process), ``model_version`` is the name labelloop gives the served
version, and ``label_interface`` needs the real label-studio-sdk (``labelloop[sdk]``).

>>> class M(LabelStudioMLBase):
...     def setup(self):
...         self.set("model_version", "M-0.0.1")
>>> m = M("7", label_config='<View><Text name="t" value="$t"/>'
...                         '<Labels name="l" toName="t"><Label value="PER"/></Labels></View>')
>>> m.project_id, m.get("model_version"), m.get_first_tag_occurence("Labels", "Text")
('7', 'M-0.0.1', ('l', 't', 't'))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from labelloop.compat.hosting import current_host
from labelloop.compat.legacy_config import parse_config
from labelloop.compat.local_files import get_local_path
from labelloop.compat.task_helpers import is_preload_needed
from labelloop.errors import ModelError
from labelloop.sdk.context import KeyValueState
from labelloop.sdk.label_config import parse_label_config

GENERATION_2 = "label-studio-ml 1.0.x (label_studio_ml)"
GENERATION_3 = "label-studio-ml-backend 2.x (label_studio_ml)"
SDK_EXTRA = "pip install 'labelloop[sdk]' (installs label-studio-sdk)"


class _MemoryState:
    """State for a model built outside labelloop (a test, a notebook): this process only."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def has(self, key: str) -> bool:
        return key in self.values


# Generation 3's module-level @predict_fn / @update_fn registrations.
_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def predict_fn(func: Callable[..., Any]) -> Callable[..., Any]:
    _FUNCTIONS["predict"] = func
    return func


def update_fn(func: Callable[..., Any]) -> Callable[..., Any]:
    _FUNCTIONS["update"] = func
    return func


def registered(name: str) -> bool:
    """Whether a script registered a ``name`` ("predict", "update") function."""
    return name in _FUNCTIONS


class LabelStudioMLBase:
    TRAIN_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATION_DELETED",
                    "START_TRAINING")
    INITIAL_MODEL_VERSION = "0.0.1"

    def __init__(self, project_id: str | None = None, label_config: str | None = None,
                 train_output: dict[str, Any] | None = None, **kwargs: Any) -> None:
        host = current_host()
        self.project_id = str(project_id) if project_id else (host.project if host else "")
        self.label_config = label_config
        self.parsed_label_config: dict[str, Any] = (parse_config(label_config)
                                                    if label_config else {})
        self.train_output: dict[str, Any] = train_output or {}
        self.hostname: str = (kwargs.get("hostname")
                              or (host.label_studio_url if host else None) or "")
        self.access_token: str = (kwargs.get("access_token")
                                  or (host.label_studio_api_key if host else None) or "")
        self._state: KeyValueState = (host.state if host and host.state is not None
                                      else _MemoryState())
        self._served_as = host.model_version if host else None
        self._label_interface: Any = None
        self.setup()

    # -- hooks ------------------------------------------------------------------------
    def setup(self) -> None:
        """Generation 3: runs after ``__init__``."""

    def predict(self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None,
                **kwargs: Any) -> Any:
        if "predict" in _FUNCTIONS:
            return _FUNCTIONS["predict"](tasks, context, helper=self, **kwargs)
        return None

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        if "update" in _FUNCTIONS:
            return _FUNCTIONS["update"](*args, helper=self, **kwargs)
        return None

    def process_event(self, event: str, data: dict[str, Any], job_id: str | None,
                      additional_params: dict[str, Any]) -> Any:
        if event in self.TRAIN_EVENTS:
            return self.fit(event=event, data=data, job_id=job_id, **additional_params)
        return None

    # -- state ------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        return self._state.get(key)

    def set(self, key: str, value: str) -> None:
        self._state.set(key, value)

    def has(self, key: str) -> bool:
        return self._state.has(key)

    @property
    def model_version(self) -> str:
        """The name labelloop serves this version under (what Label Studio stores)."""
        return self._served_as or self.get("model_version") or self.INITIAL_MODEL_VERSION

    def bump_model_version(self) -> str:
        """labelloop numbers versions itself: a training run is a new version."""
        return self.model_version

    @property
    def extra_params(self) -> dict[str, Any]:
        raw = self.get("extra_params")
        return dict(json.loads(raw)) if raw else {}

    def set_extra_params(self, extra_params: Any) -> None:
        self.set("extra_params", extra_params if isinstance(extra_params, str)
                 else json.dumps(extra_params))

    # -- the label config -------------------------------------------------------------
    def use_label_config(self, label_config: str) -> None:
        self.label_config = label_config
        self.parsed_label_config = parse_config(label_config)
        self._label_interface = None

    @property
    def label_interface(self) -> Any:
        """label-studio-sdk's ``LabelInterface`` for the label config."""
        if self._label_interface is None:
            try:
                from label_studio_sdk.label_interface import LabelInterface
            except ImportError as exc:
                raise ModelError(f"{type(self).__name__} uses LabelStudioMLBase.label_interface "
                                 f"({GENERATION_3}), which needs label-studio-sdk: "
                                 f"{SDK_EXTRA}") from exc
            self._label_interface = LabelInterface(config=self.label_config)
        return self._label_interface

    @label_interface.setter
    def label_interface(self, value: Any) -> None:
        self._label_interface = value

    def get_first_tag_occurence(self, control_type: str | tuple[str, ...],
                                object_type: str | tuple[str, ...],
                                name_filter: Callable[[str], bool] | None = None,
                                to_name_filter: Callable[[str], bool] | None = None
                                ) -> tuple[str, str, str]:
        """(from_name, to_name, data key) of the first control of ``control_type`` that
        points to an object of ``object_type``; ValueError if there is none."""
        config = parse_label_config(self.label_config or "")
        controls = _lower(control_type)
        objects = _lower(object_type)
        for control in config.controls:
            if control.type not in controls or (name_filter and not name_filter(control.name)):
                continue
            for to_name in control.to_name:
                obj = config.object(to_name)
                if obj.type in objects and (not to_name_filter or to_name_filter(to_name)):
                    return control.name, to_name, obj.data_key or obj.value
        raise ValueError(f"No control tag of type {control_type} and object tag of type "
                         f"{object_type} found in label config")

    def build_label_map(self, tag_name: str, names: list[str]) -> dict[str, str]:
        """Model class names -> the control's labels (``predicted_values`` first)."""
        attrs = self.parsed_label_config.get(tag_name, {}).get("labels_attrs", {})
        mapping: dict[str, str] = {}
        lowered = {n.lower(): n for n in names}
        for label, attr in attrs.items():
            predicted = [v.strip() for v in str(attr.get("predicted_values", "")).split(",")]
            hits = [v for v in predicted if v in names]
            if hits:
                mapping.update({v: label for v in hits})
            elif label in names:
                mapping[label] = label
            elif label.lower() in lowered:
                mapping[lowered[label.lower()]] = label
        return mapping

    # -- task data ---------------------------------------------------------------------
    def get_local_path(self, url: str, project_dir: str | None = None,
                       ls_host: str | None = None, ls_access_token: str | None = None,
                       task_id: int | None = None, **kwargs: Any) -> str:
        return get_local_path(url, project_dir=project_dir,
                              hostname=ls_host or self.hostname or None,
                              access_token=ls_access_token or self.access_token or None,
                              task_id=task_id, **kwargs)

    def preload_task_data(self, task: dict[str, Any], value: Any = None,
                          read_file: bool = True) -> Any:
        """Replace file URLs in ``value`` by the files' text (or local paths)."""
        if isinstance(value, dict):
            for k, v in value.items():
                value[k] = self.preload_task_data(task, v, read_file)
            return value
        if isinstance(value, list):
            return [self.preload_task_data(task, v, read_file) for v in value]
        if isinstance(value, str) and is_preload_needed(value):
            path = self.get_local_path(url=value, task_id=task.get("id"))
            if not read_file:
                return path
            with open(path) as f:  # noqa: PTH123 - the path may be any str the SDK gave
                return f.read()
        return value

    def get_label_studio_access_token(self) -> str | None:
        return self.access_token or None


def _lower(types: str | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t.lower() for t in ((types,) if isinstance(types, str) else types))
