"""Give freed heap back to the OS after a large batch.

glibc keeps freed memory in its arenas, so one 50,000-task request would otherwise leave
every server process hundreds of MiB larger for good.
"""

from __future__ import annotations

import contextlib
import ctypes

LARGE_BATCH = 5000  # tasks; smaller batches leave little behind


def release_memory() -> None:
    """``malloc_trim(0)`` where the C library has it (glibc); a no-op elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)
