"""A foreign model class made to look like a :class:`LabelStudioModel`.

- :class:`TrainOutputAdapter` (generations 1 and 2): the script's class is built with the
  label config and the ``train_output`` of the version served; its ``fit`` gets the
  annotated tasks and the new version folder and returns the new ``train_output``.
- :class:`EventAdapter` (generation 3): each version imports the script afresh with
  ``MODEL_DIR`` set to that version's folder (so module globals such as a cached model
  never leak between versions); ``fit(event, data)`` runs in the training job with
  ``MODEL_DIR`` = the new version folder.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar

import orjson

from labelloop.compat import base_ml
from labelloop.compat.hosting import environ, hosting
from labelloop.compat.modules import version_module
from labelloop.compat.response import normalize_predictions
from labelloop.sdk.context import ProjectContext
from labelloop.sdk.model import LabelStudioModel, Task, TrainOutput

FIT_EVENT_KWARGS = ("event", "data", "job_id")


def call_with_accepted(func: Any, *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)``, leaving out keyword arguments it does not take."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return func(*args, **kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return func(*args, **kwargs)
    names = {p.name for p in params
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return func(*args, **{k: v for k, v in kwargs.items() if k in names})


def _label_studio(ctx: ProjectContext | None) -> dict[str, str]:
    """What the old managers passed a model about Label Studio (set from /setup)."""
    return {"hostname": (ctx.label_studio_url if ctx else None) or "",
            "access_token": (ctx.label_studio_api_key if ctx else None) or ""}


class ForeignModel(LabelStudioModel):
    """What both adapters share: the foreign class, its generation, the script."""

    foreign: ClassVar[type[Any]]
    generation: ClassVar[str]  # "gen1" | "gen2" | "gen3"
    script: ClassVar[Path]
    handed_over: ClassVar[bool] = False  # the caller's own class (init_app), not an import
    names_itself: ClassVar[bool] = False  # the served name may come from the script

    @classmethod
    def learns(cls) -> bool:
        return foreign_learns(cls.foreign)


def foreign_learns(foreign: type[Any]) -> bool:
    """Whether the script's class has a ``fit`` of its own: not the one of a base class
    (real or stand-in), nor a helper base's ``fit`` over a ``fit2`` it does not define.
    The stand-in base's ``fit`` learns when a function-style script registered one."""
    owner = _owner(foreign, "fit")
    if owner is not None and owner.__name__ == "_Helper":
        owner = _owner(foreign, "fit2")
    if owner is None or not _is_base(owner):
        return owner is not None
    return owner is base_ml.LabelStudioMLBase and base_ml.registered("update")


def _owner(cls: type[Any], name: str) -> type[Any] | None:
    return next((k for k in cls.__mro__ if name in k.__dict__), None)


def _is_base(cls: type[Any]) -> bool:
    """A class of labelloop's stand-ins or of a real label-studio-ml/label_studio."""
    module = cls.__module__
    return (cls.__name__ in ("LabelStudioMLBase", "_Helper", "_Choices", "object")
            or module.startswith(("labelloop.", "label_studio_ml.", "label_studio.")))


class TrainOutputAdapter(ForeignModel):
    # Label Studio 0.x sent one task per request, and some scripts assert it: after a
    # batch fails that way, this class predicts one task at a time.
    one_at_a_time: ClassVar[bool] = False

    def setup(self) -> None:
        with hosting(self.project):
            self.inner = call_with_accepted(
                self.foreign, label_config=self.label_config.xml,
                train_output=dict(self.train_output),
                **{**_label_studio(self.project), **self.params})  # --with wins, as before

    def _predict(self, tasks: list[Task], context: dict[str, Any] | None) -> list[Any]:
        extra = {"context": context} if self.generation == "gen2" else {}
        with hosting(self.project):
            out = call_with_accepted(self.inner.predict, tasks, **extra)
        return list(out) if out is not None else []

    def predict(self, tasks: list[Task], context: dict[str, Any] | None = None,
                **kwargs: Any) -> list[Any]:
        if not type(self).one_at_a_time or len(tasks) == 1:
            try:
                out = self._predict(tasks, context)
                if len(out) == len(tasks):
                    return out
            except Exception:
                if len(tasks) == 1:
                    raise
        out = [p for task in tasks for p in self._predict([task], context)[:1]]
        type(self).one_at_a_time = True
        return out

    def fit(self, tasks: list[Task], workdir: Path, **kwargs: Any) -> TrainOutput:
        if self.generation == "gen1":  # Label Studio 0.x called annotations "completions"
            items = [{**t, "completions": t.get("annotations") or []} for t in tasks]
        else:
            items = list(tasks)
        extra = ({k: kwargs[k] for k in FIT_EVENT_KWARGS if k in kwargs}
                 if self.generation == "gen2" else {})
        with hosting(self.project):
            out = call_with_accepted(self.inner.fit, items, str(workdir), **extra)
        return dict(out) if out else {}


class EventAdapter(ForeignModel):
    names_itself = True
    # fit() picks its own training data (it usually fetches it from Label Studio):
    # nothing can be held out from it.
    supports_evaluation = False

    def _module_env(self, model_dir: Path) -> dict[str, str]:
        env = {"MODEL_DIR": str(model_dir)}
        ctx = self.project
        if ctx and ctx.label_studio_url:
            env.setdefault("LABEL_STUDIO_URL", ctx.label_studio_url)
        if ctx and ctx.label_studio_api_key:
            env.setdefault("LABEL_STUDIO_API_KEY", ctx.label_studio_api_key)
        return env

    def _instance(self, model_dir: Path) -> Any:
        module = version_module(self.script, model_dir, self._module_env(model_dir))
        return self._build(getattr(module, self.foreign.__name__))

    def _build(self, cls: type[Any]) -> Any:
        project_id = self.project.project if self.project else None
        with hosting(self.project):
            return cls(project_id, label_config=self.label_config.xml)

    def setup(self) -> None:
        served = str(self.train_output.get("model_dir") or "")
        trained = bool(served) and Path(served).is_dir()
        self.model_dir = (Path(served) if trained
                          else self.project.version_dir if self.project and
                          self.project.version_dir else Path.cwd())
        self.model_dir.mkdir(parents=True, exist_ok=True)
        # A class handed to init_app is the one its caller holds (a test may have patched
        # its attributes): it serves until the first trained version, whose folder needs
        # a fresh import of the script (MODEL_DIR is read at import).
        self.inner = (self._build(self.foreign) if self.handed_over and not trained
                      else self._instance(self.model_dir))

    def own_version(self) -> str | None:
        """The name the script gave its model (``self.set("model_version", ...)`` in
        ``setup()``): label-studio-ml-backend's server answered with it, and the scripts'
        tests check it. labelloop serves untrained versions under it, and the versions it
        trains under it followed by the version."""
        value = self.inner.get("model_version")
        return str(value) if value else None

    def predict(self, tasks: list[Task], context: dict[str, Any] | None = None,
                **kwargs: Any) -> list[Any]:
        with hosting(self.project):
            out = call_with_accepted(self.inner.predict, tasks, context=context)
        predictions = normalize_predictions(out)
        if not predictions:  # nothing to suggest: no prediction for any task
            return [[] for _ in tasks]
        return predictions

    def fit(self, tasks: list[Task], workdir: Path, **kwargs: Any) -> TrainOutput:
        workdir = Path(workdir)
        event = kwargs.get("event") or "START_TRAINING"
        data = kwargs.get("data") or {}
        with environ(self._module_env(workdir)):  # the fit process: safe to set for good
            inner = self._instance(workdir)
            with hosting(self.project):
                out = call_with_accepted(inner.fit, event, data, tasks=tasks)
        written = getattr(self.project.state, "written", {}) if self.project else {}
        return {"model_dir": str(workdir), "state": dict(written), "fit_result": _jsonable(out)}


def _jsonable(value: Any) -> Any:
    try:
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
    except TypeError:
        return repr(value)[:1000]


def adapt(foreign: type[Any], generation: str, script: Path,
          handed_over: bool = False) -> type[LabelStudioModel]:
    """A :class:`LabelStudioModel` subclass, named like ``foreign``, that hosts it."""
    base = EventAdapter if generation == "gen3" else TrainOutputAdapter
    namespace = {"foreign": foreign, "generation": generation, "script": Path(script),
                 "handed_over": handed_over,
                 "__module__": foreign.__module__, "__qualname__": foreign.__name__,
                 "__doc__": foreign.__doc__}
    return type(foreign.__name__, (base,), namespace)
