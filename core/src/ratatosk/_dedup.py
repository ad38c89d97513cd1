"""De-duplication of retried webhooks: a store interface and a bounded in-memory default.

Providers retry webhooks they believe were not delivered (a timeout, a dropped connection), so the
same inbound message or status callback can arrive more than once. A connector derives a key for
each webhook (Twilio: the ``I-Twilio-Idempotency-Token`` header, else MessageSid plus status) and
asks its :class:`DeduplicationStore` whether it was seen before. The check and the recording are one
atomic step, so two copies arriving at the same time are still reported once.

The in-memory default is per process. Applications that run several workers behind a load
balancer plug in a shared store: :class:`RedisDeduplicationStore` (``SET key 1 NX PX ttl``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from attrs import define, field, validators

__all__ = ["DeduplicationStore", "InMemoryDeduplicationStore", "RedisDeduplicationStore"]


@runtime_checkable
class DeduplicationStore(Protocol):
    """Remembers webhook keys so retried webhooks are processed once.

    Optionally a store may also offer ``forget(key) -> None``: the web framework adapters call it
    when the application's handler failed, so that the provider's retry is processed again.
    """

    def seen(self, key: str) -> bool:
        """Record ``key`` and say whether it was already recorded (atomically, thread-safe).

        Returns False the first time a key is offered and True for every later offer while the key
        is remembered.
        """
        ...


def _positive(instance: object, attribute: object, value: float) -> None:
    if value <= 0:
        raise ValueError(f"must be positive, got {value!r}")


@define
class InMemoryDeduplicationStore:
    """A bounded, thread-safe :class:`DeduplicationStore` kept in memory (LRU + TTL).

    At most ``max_entries`` keys are kept; when full, the least recently seen key is dropped.
    A key is forgotten ``ttl_seconds`` after it was last seen (a retry refreshes it). Twilio
    retries within minutes to hours, so the default day is generous. ``clock`` is a monotonic
    clock in seconds (injectable for tests).
    """

    max_entries: int = field(default=10_000, validator=[validators.instance_of(int), _positive])
    ttl_seconds: float = field(default=86_400.0, converter=float, validator=_positive)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _entries: OrderedDict[str, float] = field(init=False, factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(init=False, factory=threading.Lock, repr=False)

    def seen(self, key: str) -> bool:
        """Record ``key``; True when it was already remembered (and not expired)."""
        if not isinstance(key, str):
            raise TypeError(f"a de-duplication key is a str, not {type(key).__name__}")
        with self._lock:
            now = self.clock()
            self._expire(now)
            known = key in self._entries
            self._entries[key] = now
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return known

    def forget(self, key: str) -> None:
        """Drop ``key`` so that its next offer counts as new (no error when unknown)."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every key."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            self._expire(self.clock())
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is remembered now (does not record it)."""
        with self._lock:
            self._expire(self.clock())
            return key in self._entries

    def _expire(self, now: float) -> None:
        # Entries are ordered by last-seen time, so expired ones are all at the front.
        limit = now - self.ttl_seconds
        entries = self._entries
        while entries:
            key, last_seen = next(iter(entries.items()))
            if last_seen > limit:
                break
            del entries[key]


class RedisDeduplicationStore:
    """A :class:`DeduplicationStore` in Redis, shared by every process and machine that serves
    the webhook endpoint (several gunicorn or uvicorn workers, several hosts).

    ``client`` is a ``redis.Redis`` client (``pip install 'ratatosk-messaging[redis]'`` brings the
    package). ``seen`` is one atomic ``SET {prefix}:{key} 1 NX EX ttl``: of two copies arriving
    at two workers at the same instant, exactly one is new. A key is remembered ``ttl_seconds``
    (default a day; Twilio and Vonage retry within hours).
    """

    def __init__(self, client: Any, *, prefix: str = "ratatosk:webhook",
                 ttl_seconds: float = 86_400.0) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds!r}")
        self.client = client
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds

    def __repr__(self) -> str:
        return f"<RedisDeduplicationStore prefix={self.prefix!r} ttl={self.ttl_seconds:g}s>"

    def seen(self, key: str) -> bool:
        """Record ``key``; True when it was already recorded (one atomic Redis command)."""
        if not isinstance(key, str):
            raise TypeError(f"a de-duplication key is a str, not {type(key).__name__}")
        created = self.client.set(f"{self.prefix}:{key}", b"1", nx=True,
                                  px=max(1, int(self.ttl_seconds * 1000)))
        return not created

    def forget(self, key: str) -> None:
        """Drop ``key`` so that its next offer counts as new (no error when unknown)."""
        self.client.delete(f"{self.prefix}:{key}")
