"""A token bucket for client-side rate limiting (``MessagesPerSecond``).

One bucket belongs to one connector and is shared by its async and blocking paths. Taking a token
is a short critical section under a ``threading.Lock`` (safe for the blocking path's worker
threads); the caller then sleeps *outside* the lock for as long as :meth:`TokenBucket.reserve`
said. Tokens may go negative: each caller reserves its own slot in the future, so waiting callers
are released in order, ``1 / rate`` seconds apart, without polling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from attrs import define, field, validators


def _positive(instance: object, attribute: object, value: float) -> None:
    if not value > 0:
        raise ValueError("a token bucket's rate must be positive")


@define
class TokenBucket:
    """Allows ``rate`` acquisitions per second on average, with bursts of up to ``burst``.

    ``burst`` defaults to ``max(1, rate)``; the bucket starts full. ``clock`` is a monotonic
    clock in seconds (injectable for tests).
    """

    rate: float = field(converter=float, validator=_positive)
    burst: float | None = field(default=None)
    clock: Callable[[], float] = field(default=time.monotonic, validator=validators.is_callable())
    _capacity: float = field(init=False)
    _tokens: float = field(init=False)
    _updated: float = field(init=False)
    _lock: threading.Lock = field(init=False, factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        capacity = max(1.0, self.rate) if self.burst is None else float(self.burst)
        if capacity < 1:
            raise ValueError("a token bucket's burst must be at least 1")
        self.burst = self._capacity = self._tokens = capacity
        self._updated = self.clock()

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Switch to another clock; the tokens now in the bucket are kept."""
        with self._lock:
            self.clock = clock
            self._updated = clock()

    def reserve(self) -> float:
        """Take one token and return how many seconds to wait before using it (0 = now)."""
        with self._lock:
            now = self.clock()
            tokens = self._tokens + (now - self._updated) * self.rate
            if tokens > self._capacity:
                tokens = self._capacity
            tokens -= 1.0
            self._tokens = tokens
            self._updated = now
        return 0.0 if tokens >= 0 else -tokens / self.rate

    def refund(self) -> None:
        """Give back a token taken by :meth:`reserve` but not used (its waiter was cancelled)."""
        with self._lock:
            self._tokens = min(self._capacity, self._tokens + 1.0)
