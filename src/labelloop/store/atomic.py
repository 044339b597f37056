"""Crash-safe file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from labelloop.store.guards import unavailable_on

# A failed write (disk full, read-only model dir) is a 503 that names the cause.
disk_guarded = unavailable_on(OSError, "cannot write to the model directory")


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
    if durable:
        _fsync_dir(path.parent)


def write_json_atomic(path: Path, obj: Any, *, durable: bool = True, pretty: bool = False) -> None:
    option = orjson.OPT_INDENT_2 if pretty else 0
    write_bytes_atomic(path, orjson.dumps(obj, option=option), durable=durable)


def read_json(path: Path) -> Any:
    """The parsed file, or None if it does not exist."""
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
