"""Failures of a store's medium (disk, Redis) become :class:`StoreUnavailable` (HTTP 503)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from labelloop.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


def unavailable_on(errors: type[Exception] | tuple[type[Exception], ...],
                   what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A decorator: ``errors`` raised by the call become a 503 that says ``what`` and why.

    >>> @unavailable_on(OSError, "cannot write")
    ... def save() -> None:
    ...     raise OSError(28, "No space left on device")
    >>> save()
    Traceback (most recent call last):
    labelloop.errors.StoreUnavailable: cannot write: [Errno 28] No space left on device
    """
    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except errors as exc:
                raise StoreUnavailable(f"{what}: {exc}") from exc

        return wrapper

    return decorate
