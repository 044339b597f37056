"""Building a project's model, the same way on every path: serving (``/predict``,
``labelloop predict``), re-scoring Label Studio's tasks, and training (the evaluation
models and the served version's, inside the fit process).

Every path merges the constructor's keyword arguments the same way (the backend's
``config.json`` and ``--with``, then the ``extra_params`` set in Label Studio), passes the
parsed label config, gives the model its :class:`~labelloop.sdk.ProjectContext`, and turns
a constructor that raises into a :class:`~labelloop.errors.ModelError` that names it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labelloop.errors import (
    InvalidLabelConfig,
    LabelloopError,
    ModelError,
    NotFound,
    StoreUnavailable,
)
from labelloop.lru import LRUCache
from labelloop.sdk.label_config import LabelConfig, parse_label_config
from labelloop.sdk.model import LabelStudioModel
from labelloop.settings import Settings
from labelloop.store.bundle import Stores
from labelloop.store.model_context import model_context
from labelloop.store.projects import ProjectInfo

log = logging.getLogger("labelloop.training")
LoadTimer = Callable[[str, float], None]  # (project, seconds): e.g. a metrics histogram


def model_params(settings: Settings, info: ProjectInfo | None) -> dict[str, Any]:
    """The model constructor's keyword arguments: the backend's, then Label Studio's."""
    return {**settings.model_kwargs, **((info.extra_params or {}) if info else {})}


class ModelOpener:
    """Builds (and, for served versions, caches) a model class's instances."""

    def __init__(self, settings: Settings, stores: Stores, model_class: type[LabelStudioModel],
                 on_load: LoadTimer | None = None) -> None:
        self.settings = settings
        self.stores = stores
        self.model_class = model_class
        self.on_load = on_load
        self.models: LRUCache[LabelStudioModel] = LRUCache(settings.model_cache_size)
        self._configs: LRUCache[LabelConfig] = LRUCache(32)

    def __len__(self) -> int:
        """How many models are loaded."""
        return len(self.models)

    def label_config(self, xml: object, field: str = "label_config") -> LabelConfig:
        """The parsed label config (parsed once per distinct text)."""
        if not isinstance(xml, str):
            raise InvalidLabelConfig("must be a string", field)
        return self._configs.get_or_build(xml, lambda: parse_label_config(xml, field))

    def build(self, project: str, version: str | None, config: LabelConfig,
              train_output: dict[str, Any] | None, info: ProjectInfo | None,
              folder: Path | None = None) -> LabelStudioModel:
        """A new instance, for ``version`` (the one it serves or trains) with ``train_output``;
        ``folder``: where that version's files are, if not in the model dir."""
        name = self.model_class.__name__
        ctx = model_context(self.settings, self.stores.state, project, info, name, version,
                            train_output, folder)
        started = time.perf_counter()
        try:
            model = self.model_class(config, train_output=train_output, project=ctx,
                                     **model_params(self.settings, info))
        except LabelloopError:
            raise  # e.g. the model refuses this label config: a clear 4xx
        except Exception as exc:
            log.debug("%s() failed for project %s", name, project, exc_info=exc)  # --debug
            raise ModelError.raised(f"{name}() failed to load:", exc,
                                    self.settings.backend_dir) from exc
        if self.on_load is not None:
            self.on_load(project, time.perf_counter() - started)
        return model

    def open_model(self, project: str, version: str | None,
                   config: LabelConfig) -> LabelStudioModel:
        """The model that serves ``version`` (None: untrained), built once per (project,
        version, label config): only a cache miss reads the registry and the version."""
        def build() -> LabelStudioModel:
            train_output, folder = None, None
            if version:
                folder = self.stores.versions.fetch(project, version)  # a bucket's: cached
                train_output = self.stores.versions.get(project, version).train_output
            log.info("loading %s for project %s version %s", self.model_class.__name__,
                     project, version or "untrained")
            return self.build(project, version, config, train_output, self.project_info(project),
                              folder)

        return self.models.get_or_build((project, version, config.fingerprint), build)

    def served_model(self, project: str,
                     config: LabelConfig) -> tuple[str | None, LabelStudioModel]:
        """The current version and its model. Between reading the pointer and loading the
        folder, a rollback and a prune may remove that version: read the pointer again."""
        for _ in range(3):
            version = self.stores.versions.current_version(project)
            try:
                return version, self.open_model(project, version, config)
            except NotFound:
                if self.stores.versions.current_version(project) == version:
                    raise
        raise StoreUnavailable(f"project {project}: the served version keeps changing")

    def project_info(self, project: str) -> ProjectInfo | None:
        """What /setup said of the project; None when the store is down (serve with
        defaults rather than fail /predict)."""
        try:
            return self.stores.registry.get(project)
        except StoreUnavailable:
            return None
