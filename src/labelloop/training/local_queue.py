"""Local mode: training jobs run in a background runner process, one per project.

Coalescing works across server processes through the file system:

* ``.jobs/pending.json`` is the one queued training job of a project. It is created only
  if absent (hard link of a complete temp file), so a burst of events yields one queued
  job. ``.jobs/pending-rescore.json`` is the one queued re-scoring job, the same way.
* ``.jobs/runner.lock`` is held (flock) by the runner while it works. The runner claims
  ``pending.json`` by renaming it, so events during a job queue exactly one follow-up.
* No wake-up is lost: a scheduler writes ``pending`` *then* tests the lock; the runner
  releases the lock *then* looks for ``pending`` once more.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from labelloop.settings import SETTINGS_ENV, Settings
from labelloop.store.atomic import disk_guarded, read_json, write_json_atomic
from labelloop.store.jobs import JOBS_DIR, JobRecord, JobStore, new_job_id

PENDING = "pending.json"
PENDING_RESCORE = "pending-rescore.json"
PENDING_FILES = {"train": PENDING, "rescore": PENDING_RESCORE}
CLAIMED = "claimed.json"
LOCK = "runner.lock"


class LocalQueue:
    """The server side: queue a job and make sure a runner will pick it up."""

    def __init__(self, settings: Settings, jobs: JobStore) -> None:
        self.settings = settings
        self.jobs = jobs
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def _dir(self, project: str) -> Path:
        folder = self.settings.model_dir / project / JOBS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @disk_guarded
    def schedule(self, project: str, source: str, kind: str = "train") -> JobRecord:
        """Queue a job (or join the queued one) and return its record. A re-scoring job
        joins a queued training job: the training job re-scores when it promotes."""
        folder = self._dir(project)
        if kind == "rescore" and (queued := peek_pending(folder)) is not None:
            return queued
        new = JobRecord(new_job_id(), project, "queued", source, kind=kind)
        record = _queue_pending(folder, new, PENDING_FILES[kind])
        if record is new:
            self.jobs.put(record)
        if not _lock_is_held(folder / LOCK):
            self._spawn_runner(project)
        return record

    def pending(self, project: str) -> JobRecord | None:
        """The queued training job, else the queued re-scoring job, else the job a runner
        has just claimed and not yet started (so a status read between the two does not
        see an idle project)."""
        folder = self.settings.model_dir / project / JOBS_DIR
        queued = peek_pending(folder) or peek_pending(folder, "rescore")
        if queued is not None:
            return queued
        claimed = read_json(folder / CLAIMED)
        if not claimed:
            return None
        own = read_json(folder / f"{claimed['job_id']}.json")
        if own and own.get("state") == "queued" and _lock_is_held(folder / LOCK):
            return JobRecord.from_dict(claimed)
        return None

    def is_running(self, project: str) -> bool:
        return _lock_is_held(self.settings.model_dir / project / JOBS_DIR / LOCK)

    def _spawn_runner(self, project: str) -> None:
        with self._lock:
            child = self._children.get(project)
            if child is not None and child.poll() is None:
                return  # alive: its watcher looks for pending work once it exits
            self._children[project] = self._popen(project)
        threading.Thread(target=self._watch, args=(project,), daemon=True,
                         name=f"labelloop-runner-watch-{project}").start()

    def _popen(self, project: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, SETTINGS_ENV: self.settings.to_json()}
        with (self._dir(project) / "runner.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "labelloop.training.local_runner", project],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                start_new_session=True)  # a Ctrl-C on the server does not kill training

    def _watch(self, project: str) -> None:
        """Reap the runner; if work was queued while it was exiting, start another."""
        while True:
            with self._lock:
                child = self._children.get(project)
            if child is None:
                return
            child.wait()
            folder = self._dir(project)
            with self._lock:
                if self._children.get(project) is not child:
                    return  # someone spawned a newer runner with its own watcher
                if not has_pending(folder) or _lock_is_held(folder / LOCK):
                    del self._children[project]
                    return
                self._children[project] = self._popen(project)


def has_pending(folder: Path) -> bool:
    return any((folder / name).exists() for name in PENDING_FILES.values())


def _queue_pending(folder: Path, record: JobRecord, name: str) -> JobRecord:
    pending = folder / name
    tmp = folder / f".pending.{record.job_id}.tmp"
    write_json_atomic(tmp, record.to_dict(), durable=False)
    try:
        os.link(tmp, pending)  # atomic create-if-absent, with complete content
    except FileExistsError:
        queued = read_json(pending)
        if queued is not None:
            existing = JobRecord.from_dict(queued)
            if record.source == "label_studio" and existing.source != "label_studio":
                # START_TRAINING asks for Label Studio's data; upgrade the queued job.
                existing = existing.update(source="label_studio")
                write_json_atomic(pending, existing.to_dict(), durable=False)
            return existing
        return _queue_pending(folder, record, name)  # claimed meanwhile: queue a new one
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return record


def _lock_is_held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def try_lock(path: Path) -> IO[Any] | None:
    """Hold the runner lock (returns the open file) or None if another runner has it."""
    f = path.open("a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def peek_pending(folder: Path, kind: str = "train") -> JobRecord | None:
    data = read_json(folder / PENDING_FILES[kind])
    return JobRecord.from_dict(data) if data else None


def claim_pending(folder: Path, kind: str = "train") -> JobRecord | None:
    """Take the queued job of ``kind``, if any: later events queue a new one."""
    try:
        (folder / PENDING_FILES[kind]).replace(folder / CLAIMED)
    except FileNotFoundError:
        return None
    data = read_json(folder / CLAIMED)
    return JobRecord.from_dict(data) if data else None
