"""The :class:`~labelloop.sdk.ProjectContext` a model is built with, when it serves a version
and when it trains a new one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labelloop.sdk.context import ProjectContext
from labelloop.settings import Settings
from labelloop.store.projects import ProjectInfo, label_studio_address
from labelloop.store.state import ProjectState, StateStore

UNTRAINED_DIR = ".untrained"  # MODEL_DIR of a model that serves before any training


def version_name(model_class: str, version: str | None) -> str:
    """The string Label Studio stores with predictions; the same in /setup and /predict.

    >>> version_name("SimpleTextClassifier", "1795570947"), version_name("M", None)
    ('SimpleTextClassifier-1795570947', 'M-untrained')
    """
    return f"{model_class}-{version or 'untrained'}"


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
