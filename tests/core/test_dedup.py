"""The webhook de-duplication store: protocol, bounded LRU, TTL, thread safety."""

from __future__ import annotations

import threading

import pytest

import ratatosk
from ratatosk._dedup import DeduplicationStore, InMemoryDeduplicationStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_exported_lazily_from_ratatosk() -> None:
    # public names, loaded lazily on first access
    assert ratatosk.__getattr__("InMemoryDeduplicationStore") is InMemoryDeduplicationStore
    assert ratatosk.__getattr__("DeduplicationStore") is DeduplicationStore
    assert isinstance(InMemoryDeduplicationStore(), DeduplicationStore)


def test_first_offer_is_new_then_seen() -> None:
    store = InMemoryDeduplicationStore()
    assert store.seen("a") is False
    assert store.seen("a") is True
    assert store.seen("a") is True
    assert store.seen("b") is False
    assert len(store) == 2
    assert "a" in store and "c" not in store


def test_contains_does_not_record() -> None:
    store = InMemoryDeduplicationStore()
    assert "x" not in store
    assert store.seen("x") is False


def test_bounded_drops_least_recently_seen() -> None:
    store = InMemoryDeduplicationStore(max_entries=3)
    for key in "abc":
        assert not store.seen(key)
    assert store.seen("a")  # refreshes a: b is now the least recent
    assert not store.seen("d")  # evicts b
    assert len(store) == 3
    assert "b" not in store
    assert store.seen("a") and store.seen("c") and store.seen("d")
    assert not store.seen("b")


def test_ttl_expires_and_retry_refreshes() -> None:
    clock = FakeClock()
    store = InMemoryDeduplicationStore(ttl_seconds=60, clock=clock)
    assert not store.seen("k")
    clock.now += 59
    assert store.seen("k")  # refreshed at +59
    clock.now += 59
    assert store.seen("k")  # still within 60 s of the last sighting
    clock.now += 60
    assert not store.seen("k")  # expired, counts as new
    assert not store.seen("other")
    clock.now += 61
    assert len(store) == 0


def test_forget_and_clear() -> None:
    store = InMemoryDeduplicationStore()
    store.seen("a")
    store.seen("b")
    store.forget("a")
    store.forget("never-seen")
    assert not store.seen("a")
    store.clear()
    assert len(store) == 0
    assert not store.seen("b")


@pytest.mark.parametrize("kwargs", [{"max_entries": 0}, {"ttl_seconds": 0}, {"ttl_seconds": -1}])
def test_rejects_non_positive_bounds(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        InMemoryDeduplicationStore(**kwargs)  # type: ignore[arg-type]


def test_key_must_be_a_string() -> None:
    with pytest.raises(TypeError):
        InMemoryDeduplicationStore().seen(123)  # type: ignore[arg-type]


def test_check_and_record_is_atomic_across_threads() -> None:
    store = InMemoryDeduplicationStore()
    firsts: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for i in range(200):
            if not store.seen(f"k{i}"):
                with lock:
                    firsts.append(f"k{i}")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(firsts) == sorted(f"k{i}" for i in range(200))


def test_a_custom_store_satisfies_the_protocol() -> None:
    class SetStore:
        def __init__(self) -> None:
            self.keys: set[str] = set()

        def seen(self, key: str) -> bool:
            known = key in self.keys
            self.keys.add(key)
            return known

    assert isinstance(SetStore(), DeduplicationStore)
    assert not isinstance(object(), DeduplicationStore)
