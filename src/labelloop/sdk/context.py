"""What labelloop tells a model about where it runs: the project, the version it serves
or trains, Label Studio's address, and per-project state.

>>> ctx = ProjectContext("7", "MyModel-1795570947")
>>> ctx.project, ctx.state is None
('7', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class KeyValueState(Protocol):
    """String values per project, shared by every server process and worker."""

    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def has(self, key: str) -> bool: ...


@dataclass(frozen=True)
class ProjectContext:
    project: str  # labelloop's project key: Label Studio's project id, or a name
    model_version: str  # the string Label Studio stores with predictions
    version_dir: Path | None = None  # the version folder this model serves or trains into
    label_studio_url: str | None = None
    label_studio_api_key: str | None = None
    state: KeyValueState | None = None
