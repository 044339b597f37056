"""Failures of a store's medium (disk, Redis) become :class:`StoreUnavailable` (HTTP 503)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

from labelloop.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


class Guard:
    """``errors`` raised inside become a 503 that says ``what`` and why: use it as a
    decorator, or as a context manager with :meth:`block`.

    >>> guard = Guard(OSError, "cannot write")
    >>> @guard
    ... def save() -> None:
    ...     raise OSError(28, "No space left on device")
    >>> save()
    Traceback (most recent call last):
    labelloop.errors.StoreUnavailable: cannot write: [Errno 28] No space left on device
    """

    def __init__(self, errors: type[Exception] | tuple[type[Exception], ...], what: str) -> None:
        self.errors = errors
        self.what = what

    @contextlib.contextmanager
    def block(self) -> Iterator[None]:
        try:
            yield
        except self.errors as exc:
            raise StoreUnavailable(f"{self.what}: {exc}") from exc

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self.block():
                return func(*args, **kwargs)

        return wrapper


def unavailable_on(errors: type[Exception] | tuple[type[Exception], ...], what: str) -> Guard:
    """A :class:`Guard` for ``errors``."""
    return Guard(errors, what)
