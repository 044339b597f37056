"""Local mode's queue medium: files under ``<model_dir>/<project>/.jobs/``, and a runner
process per project (:mod:`labelloop.training.local_runner`).

* ``pending.json`` is the one queued training job of a project, ``pending-rescore.json``
  the one queued re-scoring. Each is created only if absent (a hard link of a complete
  temp file), so a burst of events yields one queued job.
* ``runner.lock`` is the run lock (``flock``), held by the runner while it works. It holds
  the id of the job the runner runs (empty between jobs): that is how status reads tell a
  live job from a dead one. A runner claims a queued job by renaming it to
  ``claimed.json``, so events during a job queue exactly one follow-up.
* No wake-up is lost: a scheduler writes ``pending`` *then* tests the lock; the runner
  releases the lock *then* looks for ``pending`` once more.

The decisions (what joins what, what runs next) are :mod:`labelloop.training.policy`'s.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from labelloop.settings import SETTINGS_ENV, Settings
from labelloop.store.atomic import disk_guarded, read_json, write_json_atomic
from labelloop.store.jobs import JOBS_DIR, JobKind, JobRecord

PENDING_FILES = {JobKind.TRAIN: "pending.json", JobKind.RESCORE: "pending-rescore.json"}
CLAIMED = "claimed.json"
LOCK = "runner.lock"
TURN_ASKED = "turn-asked"  # `labelloop train` waits for the run lock: a lingering runner yields
QUEUE_LOCK = "queue.lock"  # held for an instant while a queued job is claimed or rewritten
ACQUIRE_TRIES = 5  # a status read holds the run lock for microseconds: look again


class FileRunLock:
    """``runner.lock``, held with ``flock`` (released by the kernel if the holder dies)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        for attempt in range(ACQUIRE_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(0.002 * (attempt + 1))
                continue
            self._fd = fd
            self.hold_for("")  # whatever a dead holder left there is stale
            return True
        os.close(fd)
        return False

    def hold_for(self, job_id: str) -> None:
        assert self._fd is not None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, job_id.encode(), 0)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing drops the flock
        self._fd = None


def lock_holder(path: Path) -> str | None:
    """The job id the holder of ``path`` runs ("" between jobs), None if nobody holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 64, 0).decode(errors="replace").strip()
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class FileMedium:
    """The queue's files, and the runner processes this server started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def folder(self, project: str) -> Path:
        return self.settings.model_dir / project / JOBS_DIR

    def _made(self, project: str) -> Path:
        folder = self.folder(project)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @contextlib.contextmanager
    def _queue_lock(self, project: str) -> Iterator[Path]:
        folder = self._made(project)
        with (folder / QUEUE_LOCK).open("a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            yield folder

    @disk_guarded
    def put_pending(self, record: JobRecord) -> JobRecord | None:
        folder = self._made(record.project)
        pending = folder / PENDING_FILES[record.kind]
        tmp = folder / f".pending.{record.job_id}.tmp"
        write_json_atomic(tmp, record.to_dict(), durable=False)
        try:
            while True:
                try:
                    os.link(tmp, pending)  # atomic create-if-absent, with complete content
                    return None
                except FileExistsError:
                    queued = read_json(pending)
                    if queued is not None:
                        return JobRecord.from_dict(queued)
                    # claimed between the two calls: try again
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def peek_pending(self, project: str, kind: JobKind) -> JobRecord | None:
        data = read_json(self.folder(project) / PENDING_FILES[kind])
        return JobRecord.from_dict(data) if data else None

    @disk_guarded
    def replace_pending(self, record: JobRecord) -> bool:
        with self._queue_lock(record.project) as folder:
            pending = folder / PENDING_FILES[record.kind]
            if not pending.exists():
                return False
            write_json_atomic(pending, record.to_dict(), durable=False)
            return True

    def claim_pending(self, project: str, kind: JobKind) -> JobRecord | None:
        with self._queue_lock(project) as folder:
            try:
                (folder / PENDING_FILES[kind]).replace(folder / CLAIMED)
            except FileNotFoundError:
                return None
        data = read_json(folder / CLAIMED)
        return JobRecord.from_dict(data) if data else None

    def holder(self, project: str) -> str | None:
        return lock_holder(self.folder(project) / LOCK)

    def run_lock(self, project: str) -> FileRunLock:
        return FileRunLock(self.folder(project) / LOCK)

    def ask_turn(self, project: str, asked: bool) -> None:
        marker = self._made(project) / TURN_ASKED
        if asked:
            marker.touch()
        else:
            marker.unlink(missing_ok=True)

    def turn_asked(self, project: str) -> bool:
        return (self.folder(project) / TURN_ASKED).exists()

    def has_pending(self, project: str) -> bool:
        return any((self.folder(project) / name).exists() for name in PENDING_FILES.values())

    def wake(self, project: str, urgent: bool) -> None:
        if self.holder(project) is None:
            self._spawn_runner(project)

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
        with (self._made(project) / "runner.log").open("ab") as log:
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
            with self._lock:
                if self._children.get(project) is not child:
                    return  # someone spawned a newer runner with its own watcher
                if not self.has_pending(project) or self.holder(project) is not None:
                    del self._children[project]
                    return
                self._children[project] = self._popen(project)
