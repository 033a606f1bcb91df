"""The process-wide caches whose contents shape what a request does, named and bounded here.

Each keeps what is costly to work out again and is the same for every request: a query
operation's compiled plan, the SQL of a compiled selection, how common a target is (which
decides an SQLite plan). Each is bounded (least recently used entries go first) and may expire
its entries. They hold nothing of a request and nothing a client may not see, so any number of
workers can each keep their own. `clear_caches()` empties them all (tests that change what the
cached work depends on call it, rather than reaching into a module's private state).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = object()


class NamedCache(Generic[K, V]):
    """A least-recently-used cache of at most `maxsize` entries, each kept for `ttl_seconds`
    at most (None: until evicted)."""

    def __init__(
        self,
        name: str,
        maxsize: int,
        ttl_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if name in _CACHES:
            raise ValueError(f"a cache named '{name}' exists already")
        self.name = name
        self.maxsize = maxsize
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        _CACHES[name] = self

    def get(self, key: K, default: V | None = None) -> V | None:
        entry = self._entries.get(key, _MISSING)
        if entry is _MISSING:
            return default
        expires, value = entry  # type: ignore[misc]
        if self.ttl_seconds is not None and expires < self._clock():
            del self._entries[key]
            return default
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        expires = self._clock() + self.ttl_seconds if self.ttl_seconds is not None else 0.0
        self._entries[key] = (expires, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


_CACHES: dict[str, NamedCache] = {}  # type: ignore[type-arg]


def caches() -> dict[str, NamedCache]:  # type: ignore[type-arg]
    """Every named cache of the process, by name."""
    return dict(_CACHES)


def clear_caches() -> None:
    for cache in _CACHES.values():
        cache.clear()
