"""A small cache whose entries are good for `ttl` seconds of an injected clock.

A running server looks accounts and their rules up on every request; the cache answers
most lookups from memory, while a change in the store still reaches the server within
`ttl` seconds. Each entry carries the moment its data was read from the store (`Stamped`):
a value derived from another cached value can take that one's moment, so that it never
outlives the data it came from. Loading happens outside the lock (two threads missing
the same key both load it; the later one's entry stays), and the cache is emptied whole
when it grows past `max_entries` (a flood of distinct keys cannot make it grow for ever).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Stamped(Generic[V]):
    """A value and the moment (of the cache's clock) its data was read."""

    at: float
    value: V


class TtlCache(Generic[K, V]):
    """Values by key, each kept `ttl` seconds from the moment its data was read."""

    def __init__(
        self,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        if ttl < 0:
            raise ValueError(f"ttl: {ttl} is not 0 or more.")
        if max_entries < 1:
            raise ValueError(f"max_entries: {max_entries} is not 1 or more.")
        self.ttl = ttl
        self.clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[K, Stamped[V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The value of `key`: cached if read less than `ttl` ago, else `load()`."""
        return self.entry(key, load).value

    def entry(self, key: K, load: Callable[[], V]) -> Stamped[V]:
        """The entry of `key`: cached if read less than `ttl` ago, else `load()` stamped
        with the clock's time before it ran."""
        return self.derive(key, lambda: Stamped(self.clock(), load()))

    def derive(self, key: K, load: Callable[[], Stamped[V]]) -> Stamped[V]:
        """The entry of `key`: cached if its stamp is less than `ttl` old, else `load()`,
        which gives the stamp itself (that of the data the value was derived from)."""
        hit = self.peek(key)
        if hit is not None:
            return hit
        loaded = load()
        with self._lock:
            if len(self._entries) >= self._max_entries and key not in self._entries:
                self._entries.clear()
            self._entries[key] = loaded
        return loaded

    def peek(self, key: K) -> Stamped[V] | None:
        """The entry of `key` if it is cached and less than `ttl` old; never loads."""
        now = self.clock()
        with self._lock:
            hit = self._entries.get(key)
        return hit if hit is not None and now - hit.at < self.ttl else None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
