"""A project's unlabeled tasks (``id`` and ``data``), kept on disk by labelloop so that every
new version can score them all in seconds.

Listing them from Label Studio costs about 1 ms a task (75 to 160 s for 100,000), far more
than predicting them (about 2 s). So the pool is listed once, then only tasks with a
higher id are fetched (new tasks get higher ids), and tasks that hold an annotation in the
training set are left out when the pool is read. Once a day (``pool_resync_hours``) it is
listed afresh, into a side file, while the old one serves: tasks deleted in Label Studio,
or annotated before labelloop saw them, drop out.

Listing is resumable: pages are appended as they arrive, with the cursor (the last id), so
a job cancelled half-way leaves the next one less to fetch.

Files under ``<model_dir>/<project>/.pool/``: ``tasks.jsonl`` (complete), ``listing.jsonl``
(being listed), ``state.json``, ``stored.json`` (what the served version stored so far) and
``candidates.json`` (the last version that scored the whole pool: its least certain tasks).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.store.atomic import read_json, write_json_atomic

POOL_DIR = ".pool"
TASKS, LISTING, STATE, STORED = "tasks.jsonl", "listing.jsonl", "state.json", "stored.json"
CANDIDATES = "candidates.json"


@dataclass
class PoolState:
    max_id: int = 0  # the highest task id in tasks.jsonl
    cursor: int = 0  # the last id listed into listing.jsonl
    full: bool = True  # the listing replaces tasks.jsonl (else it adds to it)
    listed_at: float = 0.0  # when the last full listing started


@dataclass
class Candidates:
    """Where a new version's least certain tasks probably are: the last whole scoring's
    least certain, and every task listed since (never scored)."""

    tasks: set[int]
    max_id: int  # the highest task id in the pool when they were chosen
    pool: int  # how many tasks that scoring scored

    def __contains__(self, task_id: int) -> bool:
        return task_id in self.tasks or task_id > self.max_id

    @property
    def narrower(self) -> bool:
        """Whether they leave tasks out (else scoring them first gains nothing)."""
        return len(self.tasks) < self.pool


class TaskPool:
    def __init__(self, folder: Path, resync_s: float = 24 * 3600.0) -> None:
        self.folder = folder
        self.resync_s = resync_s

    def _state(self) -> PoolState:
        data = read_json(self.folder / STATE)
        return PoolState(**data) if isinstance(data, dict) else PoolState()

    def _save(self, state: PoolState) -> None:
        write_json_atomic(self.folder / STATE, asdict(state), durable=False)

    @property
    def ready(self) -> bool:
        """Whether a complete listing exists (the pool can be scored)."""
        return (self.folder / TASKS).exists()

    def sync(self, ls: LabelStudioClient, project: str, page_size: int,
             check: Callable[[], None]) -> int:
        """Fetch what Label Studio has that the pool lacks; returns how many tasks came.
        ``check`` runs before each page (it raises to stop: the listing resumes later)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        state = self._start(self._state())
        fetched = 0
        with (self.folder / LISTING).open("ab") as out:
            for tasks, _left in ls.unlabeled_tasks(project, page_size=page_size,
                                                   after=state.cursor):
                check()
                out.write(b"".join(orjson.dumps({"id": int(t["id"]), "data": t["data"]})
                                   + b"\n" for t in tasks))
                out.flush()
                state.cursor = int(tasks[-1]["id"])
                fetched += len(tasks)
                self._save(state)
        self._finish(state)
        return fetched

    def _start(self, state: PoolState) -> PoolState:
        """Go on with a listing under way; else start one: full when due, else new ids."""
        listing = self.folder / LISTING
        if listing.exists() and state.cursor:
            return state
        listing.unlink(missing_ok=True)
        if not self.ready or time.time() - state.listed_at > self.resync_s:
            state = PoolState(state.max_id, 0, True, time.time())
        else:
            state = PoolState(state.max_id, state.max_id, False, state.listed_at)
        self._save(state)
        return state

    def _finish(self, state: PoolState) -> None:
        listing, tasks = self.folder / LISTING, self.folder / TASKS
        if state.full or not tasks.exists():
            listing.touch()
            listing.replace(tasks)
        else:
            with tasks.open("ab") as out, listing.open("rb") as new:
                out.write(new.read())
            listing.unlink()
        self._save(PoolState(max(state.cursor, 0 if state.full else state.max_id), 0, False,
                             state.listed_at))

    def tasks(self, labeled: set[int], chunk: int,
              keep: Callable[[int], bool] | None = None) -> Iterator[list[dict[str, Any]]]:
        """The pool's tasks that hold no annotation (and whose id ``keep`` accepts),
        ``chunk`` at a time (bounded memory)."""
        batch: list[dict[str, Any]] = []
        path = self.folder / TASKS
        if not path.exists():
            return
        with path.open("rb") as f:
            for line in f:
                task = orjson.loads(line)
                if task["id"] not in labeled and (keep is None or keep(task["id"])):
                    batch.append(task)
                if len(batch) >= chunk:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def stored(self, model_version: str) -> set[int]:
        """The tasks that already hold a prediction of ``model_version`` (stored by an
        earlier job of that version that was cancelled)."""
        data = read_json(self.folder / STORED)
        if not isinstance(data, dict) or data.get("model_version") != model_version:
            return set()
        return {int(i) for i in data.get("tasks") or []}

    def note_stored(self, model_version: str, task_ids: list[int]) -> None:
        done = self.stored(model_version) | set(task_ids)
        write_json_atomic(self.folder / STORED, {"model_version": model_version,
                                                 "tasks": sorted(done)}, durable=False)

    def candidates(self) -> Candidates | None:
        """The least certain tasks of the last version that scored the whole pool."""
        data = read_json(self.folder / CANDIDATES)
        if not isinstance(data, dict):
            return None
        return Candidates(set(data.get("tasks") or []), int(data.get("max_id") or 0),
                          int(data.get("pool") or 0))

    def note_candidates(self, task_ids: list[int], pool: int) -> None:
        """Keep ``task_ids`` (a version's least certain, of a pool of ``pool`` tasks) as
        the next version's candidates."""
        write_json_atomic(self.folder / CANDIDATES, {
            "tasks": task_ids, "max_id": self._state().max_id, "pool": pool}, durable=False)

    def forget(self) -> None:
        """Drop everything (tasks Label Studio no longer has were stored to): list afresh."""
        for name in (TASKS, LISTING, STATE, STORED, CANDIDATES):
            with contextlib.suppress(FileNotFoundError):
                (self.folder / name).unlink()
