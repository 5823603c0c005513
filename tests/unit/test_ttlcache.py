"""The TTL cache: entries good for `ttl` seconds of an injected clock, derived entries
aging with their source, bounded size."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from ivrlog.core.ttlcache import Stamped, TtlCache


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loads:
    """A loader that counts its calls and returns a new value each time."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"value {self.count}"


def const(value: int) -> Callable[[], int]:
    return lambda: value


def test_a_value_is_loaded_once_within_the_ttl_and_again_after() -> None:
    clock = Clock()
    cache: TtlCache[str, str] = TtlCache(1.0, clock)
    load = Loads()
    assert cache.get("k", load) == "value 1"
    clock.now += 0.999
    assert cache.get("k", load) == "value 1"
    assert load.count == 1
    clock.now += 0.001  # exactly ttl after the read: stale
    assert cache.get("k", load) == "value 2"
    assert load.count == 2


def test_keys_are_cached_apart() -> None:
    cache: TtlCache[str, str] = TtlCache(1.0, Clock())
    assert cache.get("a", lambda: "A") == "A"
    assert cache.get("b", lambda: "B") == "B"
    assert cache.get("a", lambda: "other") == "A"
    assert len(cache) == 2


def test_an_entry_is_stamped_with_the_time_before_its_load() -> None:
    clock = Clock()
    cache: TtlCache[str, str] = TtlCache(1.0, clock)

    def slow() -> str:
        clock.now += 0.6  # the load itself takes time: its data is as old as its start
        return "slow"

    assert cache.entry("k", slow) == Stamped(100.0, "slow")
    clock.now += 0.4  # 1.0 after the read began
    assert cache.get("k", lambda: "fresh") == "fresh"


def test_a_derived_entry_ages_with_the_data_it_came_from() -> None:
    clock = Clock()
    source: TtlCache[str, int] = TtlCache(1.0, clock)
    derived: TtlCache[str, str] = TtlCache(1.0, clock)
    read = source.entry("n", lambda: 7)
    clock.now += 0.5
    entry = derived.derive("text", lambda: Stamped(read.at, str(read.value)))
    assert entry == Stamped(100.0, "7")
    clock.now += 0.5  # the source's data is a ttl old: so is what was derived from it
    assert derived.derive("text", lambda: Stamped(clock(), "again")).value == "again"


def test_a_zero_ttl_caches_nothing() -> None:
    cache: TtlCache[str, str] = TtlCache(0, Clock())
    load = Loads()
    cache.get("k", load)
    cache.get("k", load)
    assert load.count == 2


def test_the_cache_is_emptied_when_full_never_grows_past_its_bound() -> None:
    cache: TtlCache[int, int] = TtlCache(10.0, Clock(), max_entries=3)
    for key in range(3):
        cache.get(key, const(key))
    assert len(cache) == 3
    assert cache.get(0, lambda: -1) == 0  # a cached key does not empty it
    assert cache.get(3, lambda: 3) == 3
    assert len(cache) == 1
    assert cache.get(0, lambda: -1) == -1  # it was dropped with the rest


def test_clear_forgets_everything() -> None:
    cache: TtlCache[str, str] = TtlCache(10.0, Clock())
    cache.get("k", lambda: "old")
    cache.clear()
    assert cache.get("k", lambda: "new") == "new"


@pytest.mark.parametrize(
    ("ttl", "max_entries", "message"),
    [(-1.0, 10, "ttl: -1.0 is not 0 or more."), (1.0, 0, "max_entries: 0 is not 1 or more.")],
)
def test_a_bad_bound_is_refused_naming_it(ttl: float, max_entries: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TtlCache(ttl, Clock(), max_entries=max_entries)


def test_threads_sharing_a_cache_all_get_a_value() -> None:
    cache: TtlCache[int, int] = TtlCache(10.0, Clock(), max_entries=50)
    seen: list[int] = []
    lock = threading.Lock()

    def work(offset: int) -> None:
        for n in range(500):
            key = (n + offset) % 80
            value = cache.get(key, const(key * 2))
            with lock:
                seen.append(value - key * 2)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [0] * 2000
    assert len(cache) <= 50


def test_peek_never_loads_and_sees_only_fresh_entries() -> None:
    clock = Clock()
    cache: TtlCache[str, str] = TtlCache(1.0, clock)
    assert cache.peek("k") is None
    assert len(cache) == 0
    cache.get("k", lambda: "v")
    hit = cache.peek("k")
    assert hit is not None
    assert hit.value == "v"
    assert hit.at == 100.0
    clock.now += 1.0
    assert cache.peek("k") is None
    assert len(cache) == 1  # a stale entry is left for the next load to replace
