"""The rate limiter protocol, the in-process limiter and the operation helper that waits."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol, runtime_checkable

from .._ratelimit import TokenBucket
from ..connector._operation import Sleep


class RateLimiterUnavailable(Exception):
    """The limiter's shared store (Redis) did not answer; nothing was charged."""


@runtime_checkable
class RateLimiter(Protocol):
    """Charges sends against a limit of *units* (segments) per time, without blocking.

    ``reserve(cost)`` either charges ``cost`` units and returns ``0.0`` (go now), or charges
    nothing and returns how many seconds to wait before asking again. It never sleeps, so it
    fits an operation: ``yield from wait_for(limiter, cost)`` yields ``Sleep`` effects until the
    units are charged, on the async and the blocking path alike.
    """

    def reserve(self, cost: int = 1) -> float:
        """Charge ``cost`` units now (``0.0``) or say how long to wait before trying again."""
        ...


def wait_for(limiter: RateLimiter, cost: int = 1) -> Generator[Sleep, Any, float]:
    """Operation helper: yield ``Sleep`` until ``limiter`` charged ``cost``; returns the wait."""
    waited = 0.0
    while True:
        wait = limiter.reserve(cost)
        if wait <= 0:
            return waited
        yield Sleep(wait)
        waited += wait


class LocalRateLimiter:
    """The in-process :class:`RateLimiter`: a :class:`~ratatosk._ratelimit.TokenBucket`.

    ``rate`` units per second with bursts of ``burst`` (as for the bucket; or pass an existing
    ``bucket``, e.g. the one a connector built from ``MessagesPerSecond``). Thread-safe. A cost
    larger than the burst is charged once the bucket is full (the bucket then owes tokens, and
    later callers wait them out), so a long message is never refused forever.
    """

    def __init__(
        self, rate: float | None = None, *, burst: float | None = None,
        bucket: TokenBucket | None = None,
    ) -> None:
        if bucket is None:
            if rate is None:
                raise ValueError("give a rate (units per second) or a bucket")
            bucket = TokenBucket(rate, burst=burst)
        elif rate is not None or burst is not None:
            raise ValueError("give a rate (and burst) or a bucket, not both")
        self.bucket = bucket

    def reserve(self, cost: int = 1) -> float:
        if cost < 1:
            raise ValueError("a rate limiter charges at least one unit")
        b = self.bucket
        # The bucket's own critical section (see TokenBucket.reserve): refill, then take or not.
        with b._lock:
            now = b.clock()
            tokens = min(b._capacity, b._tokens + (now - b._updated) * b.rate)
            b._tokens = tokens
            b._updated = now
            need = min(float(cost), b._capacity)
            if tokens >= need:
                b._tokens = tokens - cost
                return 0.0
            return (need - tokens) / b.rate

    def __repr__(self) -> str:
        return f"LocalRateLimiter(rate={self.bucket.rate}, burst={self.bucket.burst})"
