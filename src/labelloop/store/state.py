"""Per-project key/value state (strings) that models keep with ``set()``/``get()``.

File mode: ``<model_dir>/<project>/.state.json``, rewritten under a lock; Redis mode: a hash
``labelloop:state:<project>``. Either way every server process and worker sees the same
values, and they survive restarts.

>>> import tempfile
>>> store = FileStateStore(Path(tempfile.mkdtemp()))
>>> store.set("7", "model_version", "v2")
>>> store.get("7", "model_version"), store.get("7", "nothing")
('v2', None)
>>> bound = ProjectState(store, "7", overlay={"model_version": "v1"})
>>> bound.get("model_version"), bound.has("model_version")
('v1', True)
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Protocol

from labelloop.store.atomic import disk_guarded, read_json, write_json_atomic

STATE_FILE = ".state.json"


class StateStore(Protocol):
    def get(self, project: str, key: str) -> str | None: ...
    def set(self, project: str, key: str, value: str) -> None: ...
    def items(self, project: str) -> dict[str, str]: ...


def check_value(key: str, value: object) -> str:
    """State values are strings, as in label-studio-ml-backend (its cache refuses others)."""
    if not isinstance(key, str) or not isinstance(value, str):
        raise ValueError(f"state values must be strings: set({key!r}, {type(value).__name__})")
    return value


class FileStateStore:
    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir

    def items(self, project: str) -> dict[str, str]:
        return dict(read_json(self.model_dir / project / STATE_FILE) or {})

    def get(self, project: str, key: str) -> str | None:
        return self.items(project).get(key)

    @disk_guarded
    def set(self, project: str, key: str, value: str) -> None:
        check_value(key, value)
        folder = self.model_dir / project
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / ".state.lock").open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # read-modify-write across processes
            values = self.items(project)
            if values.get(key) != value:
                values[key] = value
                write_json_atomic(folder / STATE_FILE, values)


class ProjectState:
    """One project's state, as a model sees it (:class:`labelloop.sdk.KeyValueState`).

    ``overlay`` holds what the served version's own training run set: those keys read as
    they were when that version was made, so a rollback brings them back too. Every
    ``set`` is also remembered in :attr:`written` (a training run records them)."""

    def __init__(self, store: StateStore, project: str,
                 overlay: dict[str, str] | None = None) -> None:
        self.store, self.project = store, project
        self.overlay = dict(overlay or {})
        self.written: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        if key in self.overlay:
            return self.overlay[key]
        return self.store.get(self.project, key)

    def set(self, key: str, value: str) -> None:
        self.store.set(self.project, key, check_value(key, value))
        self.overlay.pop(key, None)
        self.written[key] = value

    def has(self, key: str) -> bool:
        return self.get(key) is not None
