"""Where a hosted foreign model runs: set by the adapters around every call into it, read
by the stand-in base classes (for ``get``/``set`` state, Label Studio's address, the
served version's name).

>>> from labelloop.sdk.context import ProjectContext
>>> current_host() is None
True
>>> with hosting(ProjectContext("7", "M-1")):
...     current_host().project
'7'
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar

from labelloop.sdk.context import ProjectContext

_HOST: ContextVar[ProjectContext | None] = ContextVar("labelloop_host", default=None)
# os.environ is process-wide: imports that read it (MODEL_DIR...) take turns.
ENVIRON_LOCK = threading.RLock()


def current_host() -> ProjectContext | None:
    return _HOST.get()


@contextlib.contextmanager
def hosting(ctx: ProjectContext | None) -> Iterator[None]:
    token = _HOST.set(ctx)
    try:
        yield
    finally:
        _HOST.reset(token)


@contextlib.contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration (under :data:`ENVIRON_LOCK`)."""
    with ENVIRON_LOCK:
        saved = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
