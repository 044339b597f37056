"""What /setup tells us about each project: label config, Label Studio URL and token."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from labelloop.settings import Settings
from labelloop.store.atomic import disk_guarded, read_json, write_json_atomic

PROJECT_FILE = ".project.json"


@dataclass(frozen=True)
class ProjectInfo:
    label_config: str
    hostname: str | None = None
    access_token: str | None = None
    extra_params: dict[str, Any] | None = None
    # Set by the server that Label Studio talks to (--active-learning), read by training
    # jobs wherever they run: re-scoring then also sets the project's sampling.
    active_learning: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectInfo:
        return cls(str(data["label_config"]), data.get("hostname"), data.get("access_token"),
                   data.get("extra_params"), bool(data.get("active_learning")))


def label_studio_address(settings: Settings,
                         info: ProjectInfo | None) -> tuple[str | None, str | None]:
    """Label Studio's URL and key for a project: what the environment says, else what
    /setup sent (either may be None).

    >>> s = Settings.from_env({}, backend_dir=Path("/tmp"))
    >>> label_studio_address(s, ProjectInfo("<View/>", "http://ls:8080", "k"))
    ('http://ls:8080', 'k')
    """
    return (settings.label_studio_url or (info.hostname if info else None),
            settings.label_studio_api_key or (info.access_token if info else None))


def label_studio_of(settings: Settings, info: ProjectInfo | None) -> tuple[str, str] | None:
    """Label Studio's URL and key for a project, when both are known."""
    url, key = label_studio_address(settings, info)
    return (url, key) if url and key else None


class ProjectRegistry(Protocol):
    def save(self, project: str, info: ProjectInfo) -> None: ...
    def get(self, project: str) -> ProjectInfo | None: ...
    def projects(self) -> list[str]:
        """Every project that has called /setup."""


class FileProjectRegistry:
    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir

    @disk_guarded
    def save(self, project: str, info: ProjectInfo) -> None:
        path = self.model_dir / project / PROJECT_FILE
        if self.get(project) == info:  # /setup repeats on every LS page load: skip the write
            return
        write_json_atomic(path, info.to_dict())
        path.chmod(0o600)  # it holds a Label Studio token

    def get(self, project: str) -> ProjectInfo | None:
        data = read_json(self.model_dir / project / PROJECT_FILE)
        return ProjectInfo.from_dict(data) if data else None

    def projects(self) -> list[str]:
        if not self.model_dir.is_dir():
            return []
        return sorted(p.parent.name for p in self.model_dir.glob(f"*/{PROJECT_FILE}"))
