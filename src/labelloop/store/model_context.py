"""The :class:`~labelloop.sdk.ProjectContext` a model is built with, when it serves a version
and when it trains a new one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelloop.errors import LabelloopError
from labelloop.sdk.context import ProjectContext
from labelloop.settings import Settings
from labelloop.store.projects import ProjectInfo, label_studio_address
from labelloop.store.state import ProjectState, StateStore

if TYPE_CHECKING:
    from labelloop.store.bundle import Stores

UNTRAINED_DIR = ".untrained"  # MODEL_DIR of a model that serves before any training


def version_name(model_class: str, version: str | None) -> str:
    """The string Label Studio stores with predictions; the same in /setup and /predict.

    >>> version_name("SimpleTextClassifier", "1795570947"), version_name("M", None)
    ('SimpleTextClassifier-1795570947', 'M-untrained')
    """
    return f"{model_class}-{version or 'untrained'}"


OWN_NAME_KEY = "model_version"  # where a label-studio-ml-backend 2.x script names itself


def named_version(own: str | None, model_class: str, version: str | None) -> str:
    """The name of a version of a model that may name itself: its own name while nothing
    is trained, then that name and the version; labelloop's name otherwise.

    >>> named_version("M-v0.0.1", "M", None), named_version("M-v0.0.1", "M", "1795570947")
    ('M-v0.0.1', 'M-v0.0.1-1795570947')
    >>> named_version(None, "M", None)
    'M-untrained'
    """
    if not own:
        return version_name(model_class, version)
    return own if version is None else f"{own}-{version}"


def own_name(state: StateStore, project: str, train_output: dict[str, Any] | None) -> str | None:
    """The name a script gave itself (``self.set("model_version", ...)``) as the version
    with ``train_output`` sees it: what its training run set, else the project's."""
    overlay = (train_output or {}).get("state")
    if isinstance(overlay, dict) and overlay.get(OWN_NAME_KEY):
        return str(overlay[OWN_NAME_KEY])
    return state.get(project, OWN_NAME_KEY)


def project_version_name(stores: Stores, model_class: type, project: str,
                         version: str | None) -> str:
    """The name of a project's version, from the stores: for a model class that may name
    itself, the name its script set (see :func:`own_name`)."""
    own = None
    if getattr(model_class, "names_itself", False):
        try:
            output = stores.versions.get(project, version).train_output if version else None
            own = own_name(stores.state, project, output)
        except LabelloopError:  # a pruned version, a store that does not answer
            own = None
    return named_version(own, model_class.__name__, version)


def model_context(settings: Settings, state: StateStore, project: str,
                  info: ProjectInfo | None, model_class: str, version: str | None,
                  train_output: dict[str, Any] | None = None,
                  folder: Path | None = None) -> ProjectContext:
    """Label Studio's address comes from the settings, else from /setup. The state reads
    the keys the version's own training run set as they were then (a rollback restores
    them). ``folder``: where the version's files are on this machine, when that is not the
    model dir (a bucket's version, in the local cache)."""
    overlay = (train_output or {}).get("state")
    folder = folder or Path(settings.model_dir) / project / (version or UNTRAINED_DIR)
    url, key = label_studio_address(settings, info)
    return ProjectContext(
        project=project,
        model_version=version_name(model_class, version),
        version_dir=folder,
        label_studio_url=url,
        label_studio_api_key=key,
        state=ProjectState(state, project, overlay if isinstance(overlay, dict) else None),
    )
