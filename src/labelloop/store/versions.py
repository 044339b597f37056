"""Model versions, in the founding folder layout::

    <model_dir>/<project>/<version>/job_result.json, model.pkl, train_data.json, ...
    <model_dir>/<project>/.current      the version being served

A version is a Unix timestamp. It is *ok* once ``job_result.json`` says
``"status": "ok"``; *error* when the job recorded a failure; *incomplete* when there is
no ``job_result.json`` (a job still running, or killed). Only ok versions can be current.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from labelloop.errors import NotFound
from labelloop.store.atomic import read_json, write_bytes_atomic, write_json_atomic

JOB_RESULT = "job_result.json"
CURRENT = ".current"


@dataclass(frozen=True)
class VersionInfo:
    project: str
    version: str
    path: Path
    status: str  # "ok" | "error" | "incomplete"
    job_result: dict[str, Any] | None
    current: bool = False

    @property
    def train_output(self) -> dict[str, Any]:
        return dict((self.job_result or {}).get("train_output") or {})


class VersionStore(Protocol):
    def current_version(self, project: str) -> str | None: ...
    def get(self, project: str, version: str) -> VersionInfo: ...
    def history(self, project: str) -> list[VersionInfo]: ...
    def projects(self) -> list[str]: ...
    def create(self, project: str) -> tuple[str, Path]: ...
    def finish(self, project: str, version: str, job_result: dict[str, Any]) -> None: ...
    def set_current(self, project: str, version: str) -> None: ...


class FileVersionStore:
    """Versions and the current pointer, all on the file system."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir

    def _project_dir(self, project: str) -> Path:
        return self.model_dir / project

    def _pointer(self, project: str) -> str | None:
        try:
            return (self._project_dir(project) / CURRENT).read_text().strip() or None
        except FileNotFoundError:
            return None

    def current_version(self, project: str) -> str | None:
        pointer = self._pointer(project)
        if pointer:
            return pointer
        # No pointer (folders copied in by hand): serve the newest ok version.
        ok = [v for v in self._scan(project) if v.status == "ok"]
        return ok[-1].version if ok else None

    def get(self, project: str, version: str) -> VersionInfo:
        if not version.isdigit():
            raise NotFound(f"version {version!r} of project {project!r} does not exist")
        path = self._project_dir(project) / version
        if not path.is_dir():
            raise NotFound(f"version {version!r} of project {project!r} does not exist")
        result = read_json(path / JOB_RESULT)
        status = "incomplete" if result is None else str(result.get("status", "error"))
        return VersionInfo(project, version, path, status, result)

    def _scan(self, project: str) -> list[VersionInfo]:
        folder = self._project_dir(project)
        if not folder.is_dir():
            return []
        names = sorted((p.name for p in folder.iterdir() if p.name.isdigit()), key=int)
        return [self.get(project, n) for n in names]

    def history(self, project: str) -> list[VersionInfo]:
        """Every version folder, oldest first, the served one marked ``current``."""
        current = self.current_version(project)
        return [VersionInfo(i.project, i.version, i.path, i.status, i.job_result,
                            current=i.version == current) for i in self._scan(project)]

    def projects(self) -> list[str]:
        if not self.model_dir.is_dir():
            return []
        return sorted(p.name for p in self.model_dir.iterdir()
                      if p.is_dir() and not p.name.startswith(".")
                      and ((p / CURRENT).exists() or any(c.name.isdigit() for c in p.iterdir())))

    def create(self, project: str) -> tuple[str, Path]:
        """A new, empty version folder, named after now and later than every other."""
        folder = self._project_dir(project)
        folder.mkdir(parents=True, exist_ok=True)
        existing = [int(p.name) for p in folder.iterdir() if p.name.isdigit()]
        candidate = max([int(time.time()), *(v + 1 for v in existing)])
        while True:
            try:
                (folder / str(candidate)).mkdir()
            except FileExistsError:  # another job took this second
                candidate += 1
                continue
            return str(candidate), folder / str(candidate)

    def finish(self, project: str, version: str, job_result: dict[str, Any]) -> None:
        """Record the job's result atomically; an ok result then becomes current."""
        path = self._project_dir(project) / version
        write_json_atomic(path / JOB_RESULT, job_result, pretty=True)
        if job_result.get("status") == "ok":
            self._write_pointer(project, version)

    def set_current(self, project: str, version: str) -> None:
        """Serve ``version`` (a rollback); it must be ok."""
        info = self.get(project, version)
        if info.status != "ok":
            raise NotFound(f"version {version} of project {project} is {info.status}, not ok")
        self._write_pointer(project, version)

    def _write_pointer(self, project: str, version: str) -> None:
        write_bytes_atomic(self._project_dir(project) / CURRENT, version.encode())
        # Touch the project folder so pollers that watch mtimes see the switch.
        os.utime(self._project_dir(project))
