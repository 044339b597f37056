"""Model versions, in the founding folder layout::

    <model_dir>/<project>/<version>/job_result.json, model.pkl, train_data.json, ...
    <model_dir>/<project>/.current      the version being served
    <model_dir>/<project>/.pinned.json  versions a person asked to keep

A version is a Unix timestamp. It is *ok* once ``job_result.json`` says
``"status": "ok"``; *rejected* when it trained but scored worse than the version then
served; *error* when the job recorded a failure; *incomplete* when there is no
``job_result.json`` (a job still running, or killed). Ok versions can be current; a
rejected one only when a person promotes it.

Switching the pointer, pinning and removing versions happen under the project's
*versions lock*, so pruning can never remove the version a rollback is switching to.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from labelloop.errors import NotFound, StoreUnavailable
from labelloop.store.atomic import read_json, write_bytes_atomic, write_json_atomic
from labelloop.store.jobs import StrEnum

JOB_RESULT = "job_result.json"
CURRENT = ".current"
PINNED = ".pinned.json"
VERSIONS_LOCK = ".versions.lock"


class VersionStatus(StrEnum):
    """What a version folder's ``job_result.json`` says (its ``status``), or its absence."""

    OK = "ok"
    REJECTED = "rejected"
    ERROR = "error"
    INCOMPLETE = "incomplete"  # no job_result.json: its job still runs, or died

    @classmethod
    def of(cls, job_result: dict[str, Any] | None) -> VersionStatus:
        if job_result is None:
            return cls.INCOMPLETE
        try:
            return cls(str(job_result.get("status", "error")))
        except ValueError:
            return cls.ERROR

    @property
    def failed(self) -> bool:
        return self in (VersionStatus.ERROR, VersionStatus.REJECTED)


SERVABLE = (VersionStatus.OK,)
# A person may serve a version the job rejected.
PROMOTABLE = (VersionStatus.OK, VersionStatus.REJECTED)


@dataclass(frozen=True)
class VersionInfo:
    project: str
    version: str
    path: Path
    status: VersionStatus
    job_result: dict[str, Any] | None
    current: bool = False
    pinned: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", VersionStatus(self.status))

    @property
    def train_output(self) -> dict[str, Any]:
        return dict((self.job_result or {}).get("train_output") or {})

    @property
    def created(self) -> float:
        """The version's name is the Unix time it was made (bumped by a second on clashes)."""
        return float(self.version)


class VersionStore(Protocol):
    def current_version(self, project: str) -> str | None: ...
    def get(self, project: str, version: str) -> VersionInfo: ...
    def history(self, project: str) -> list[VersionInfo]: ...
    def projects(self) -> list[str]: ...
    def create(self, project: str) -> tuple[str, Path]: ...
    def finish(self, project: str, version: str, job_result: dict[str, Any]) -> None: ...
    def set_current(self, project: str, version: str,
                    allowed: tuple[VersionStatus, ...] = SERVABLE) -> None: ...
    def lock(self, project: str) -> contextlib.AbstractContextManager[None]: ...
    def pinned(self, project: str) -> set[str]: ...
    def pin(self, project: str, version: str, pinned: bool = True) -> None: ...
    def remove(self, project: str, version: str) -> None: ...
    def fetch(self, project: str, version: str) -> Path: ...


class FileVersionStore:
    """Versions and the current pointer, all on the file system."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        # project -> (inode, mtime) of .current, and what it said: a stat is several times
        # cheaper than reading it, and every /predict asks. A switch writes a new file
        # (rename), so the inode changes even within one mtime tick.
        self._seen: dict[str, tuple[tuple[int, int], str | None]] = {}

    def _project_dir(self, project: str) -> Path:
        return self.model_dir / project

    def _pointer(self, project: str) -> str | None:
        path = self._project_dir(project) / CURRENT
        try:
            stat = os.stat(path)  # noqa: PTH116 - the cheapest call on the hot path
        except FileNotFoundError:
            return None
        stamp = (stat.st_ino, stat.st_mtime_ns)
        seen = self._seen.get(project)
        if seen is not None and seen[0] == stamp:
            return seen[1]
        try:
            version = path.read_text().strip() or None
        except FileNotFoundError:
            return None
        self._seen[project] = (stamp, version)
        return version

    def current_version(self, project: str) -> str | None:
        pointer = self._pointer(project)
        if pointer:
            return pointer
        # No pointer (folders copied in by hand): serve the newest ok version.
        ok = [v for v in self._scan(project) if v.status is VersionStatus.OK]
        return ok[-1].version if ok else None

    def get(self, project: str, version: str) -> VersionInfo:
        if not version.isdigit():
            raise NotFound(f"version {version!r} of project {project!r} does not exist")
        path = self._project_dir(project) / version
        if not path.is_dir():
            raise NotFound(f"version {version!r} of project {project!r} does not exist")
        result = read_json(path / JOB_RESULT)
        return VersionInfo(project, version, path, VersionStatus.of(result), result)

    def _scan(self, project: str) -> list[VersionInfo]:
        folder = self._project_dir(project)
        if not folder.is_dir():
            return []
        names = sorted((p.name for p in folder.iterdir() if p.name.isdigit()), key=int)
        found = []
        for name in names:
            with contextlib.suppress(NotFound):  # pruned while we looked
                found.append(self.get(project, name))
        return found

    def history(self, project: str) -> list[VersionInfo]:
        """Every version folder, oldest first, the served one marked ``current``."""
        current = self.current_version(project)
        pins = self.pinned(project)
        return [VersionInfo(i.project, i.version, i.path, i.status, i.job_result,
                            current=i.version == current, pinned=i.version in pins)
                for i in self._scan(project)]

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

    def fetch(self, project: str, version: str) -> Path:
        """The version's folder on this machine (here: where it lives)."""
        return self.get(project, version).path

    def finish(self, project: str, version: str, job_result: dict[str, Any]) -> None:
        """Record the job's result atomically; an ok result then becomes current."""
        with self.lock(project):
            self._record(project, version, job_result)
            if VersionStatus.of(job_result) is VersionStatus.OK:
                self._write_pointer(project, version)

    def _record(self, project: str, version: str, job_result: dict[str, Any]) -> None:
        path = self._project_dir(project) / version
        if not path.is_dir():  # pruned, or never made: do not resurrect it
            raise NotFound(f"version {version!r} of project {project!r} does not exist")
        write_json_atomic(path / JOB_RESULT, job_result, pretty=True)

    def set_current(self, project: str, version: str,
                    allowed: tuple[VersionStatus, ...] = SERVABLE) -> None:
        """Serve ``version`` (a rollback, or a person's promotion)."""
        with self.lock(project):
            info = self.get(project, version)
            if info.status not in allowed:
                raise NotFound(f"version {version} of project {project} is {info.status}, "
                               f"not {' or '.join(allowed)}")
            self._write_pointer(project, version)

    def _write_pointer(self, project: str, version: str) -> None:
        write_bytes_atomic(self._project_dir(project) / CURRENT, version.encode())
        # Touch the project folder so pollers that watch mtimes see the switch.
        os.utime(self._project_dir(project))

    @contextlib.contextmanager
    def lock(self, project: str) -> Iterator[None]:
        """The project's versions lock (flock: held briefly, released if the holder dies)."""
        folder = self._project_dir(project)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / VERSIONS_LOCK).open("a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def pinned(self, project: str) -> set[str]:
        return {str(v) for v in read_json(self._project_dir(project) / PINNED) or []}

    def pin(self, project: str, version: str, pinned: bool = True) -> None:
        with self.lock(project):
            self.get(project, version)  # refuse unknown versions
            pins = self.pinned(project) | {version} if pinned else self.pinned(project) - {
                version}
            write_json_atomic(self._project_dir(project) / PINNED, sorted(pins, key=int))

    def remove(self, project: str, version: str) -> None:
        """Delete a version folder. The caller holds the versions lock and has checked that
        it is not current: the folder is renamed away first, so readers see all or nothing."""
        folder = self._project_dir(project) / version
        if not version.isdigit() or not folder.is_dir():
            return
        if self._pointer(project) == version:
            raise StoreUnavailable(f"refusing to remove version {version}: it is served")
        trash = self._project_dir(project) / f".trash-{version}-{uuid.uuid4().hex[:8]}"
        folder.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
