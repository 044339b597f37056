"""A bounded local cache of version folders fetched from object storage.

``<cache_dir>/<project>/<version>/`` holds a complete copy: it is filled in a private
folder and renamed into place, and only then marked (``.cached``). The marker's mtime is
the folder's last use; when the cache holds more than its limit, the least recently used
folders go (never the one just loaded). Several processes may share one cache folder:
everything is a rename, and a model in memory no longer needs its files.

>>> import tempfile
>>> cache = VersionCache(Path(tempfile.mkdtemp()), max_bytes=10)
>>> def fill(folder): (folder / "m.bin").write_bytes(b"x" * 6)
>>> a = cache.ensure("p", "1", fill); b = cache.ensure("p", "2", fill)
>>> (a / "m.bin").exists(), (b / "m.bin").exists()
(False, True)
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

MARKER = ".cached"
INCOMING = ".incoming"


class VersionCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, project: str, version: str) -> Path:
        return self.root / project / version

    def holds(self, project: str, version: str) -> bool:
        return (self.path(project, version) / MARKER).exists()

    def ensure(self, project: str, version: str, fill: Callable[[Path], None]) -> Path:
        """The cached folder; on a miss ``fill(folder)`` writes it first."""
        folder = self.path(project, version)
        if (folder / MARKER).exists():
            with contextlib.suppress(FileNotFoundError):
                (folder / MARKER).touch()
                return folder
        incoming = self.root / INCOMING / uuid.uuid4().hex
        incoming.mkdir(parents=True)
        try:
            fill(incoming)
            self._place(incoming, folder)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        self.evict(keep=folder)
        return folder

    def adopt(self, project: str, version: str, source: Path) -> Path:
        """Move a folder made here (a job's work folder) into the cache."""
        folder = self.path(project, version)
        incoming = self.root / INCOMING / uuid.uuid4().hex
        incoming.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, incoming)
        try:
            self._place(incoming, folder)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        self.evict(keep=folder)
        return folder

    def _place(self, incoming: Path, folder: Path) -> None:
        (incoming / MARKER).touch()
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            incoming.rename(folder)
        except OSError:  # another process placed it first: theirs is as good
            if not (folder / MARKER).exists():
                raise

    def discard(self, project: str, version: str) -> None:
        self._remove(self.path(project, version))

    def _remove(self, folder: Path) -> None:
        trash = self.root / INCOMING / f"gone-{uuid.uuid4().hex}"
        try:
            trash.parent.mkdir(parents=True, exist_ok=True)
            folder.rename(trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def entries(self) -> list[tuple[float, int, Path]]:
        """(last use, bytes, folder) of every cached folder, least recently used first."""
        found = []
        for marker in self.root.glob(f"*/*/{MARKER}"):
            with contextlib.suppress(FileNotFoundError):
                used = marker.stat().st_mtime
                size = sum(p.stat().st_size for p in marker.parent.rglob("*") if p.is_file())
                found.append((used, size, marker.parent))
        return sorted(found)

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Remove least recently used folders until the cache fits its limit."""
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        removed = []
        for _, size, folder in entries:
            if total <= self.max_bytes:
                break
            if keep is not None and folder.resolve() == keep.resolve():
                continue
            self._remove(folder)
            total -= size
            removed.append(folder)
        return removed
