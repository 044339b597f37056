"""A small LRU of things costly to build: loaded models, parsed label configs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class LRUCache(Generic[T]):
    """A small thread-safe LRU; a value is built once even when many requests race for it.

    >>> cache: LRUCache[str] = LRUCache(maxsize=1)
    >>> cache.get_or_build("a", lambda: "model-a"), cache.get_or_build("a", lambda: "other")
    ('model-a', 'model-a')
    """

    def __init__(self, maxsize: int = 8) -> None:
        self.maxsize = max(1, maxsize)
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def get_or_build(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:  # one builder per key; others wait for its result
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = build()
            with self._lock:
                self._items[key] = value
                self._building.pop(key, None)
                while len(self._items) > self.maxsize:
                    self._items.popitem(last=False)
            return value

    def __len__(self) -> int:
        return len(self._items)
