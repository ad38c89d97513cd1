"""Rate limiters that fit operations: ``reserve(cost)`` never blocks, the operation sleeps.

* :class:`RateLimiter` — the protocol: ``reserve(cost) -> float`` charges ``cost`` units
  (segments) and returns ``0.0``, or charges nothing and returns the seconds to wait before
  asking again.
* :class:`LocalRateLimiter` — in one process, over the connector's
  :class:`~ratatosk._ratelimit.TokenBucket`.
* :class:`SharedRateLimiter` — shared by every worker through Redis (the ``limits`` library,
  ``pip install 'ratatosk-messaging[redis]'``), keyed by provider account and sender.
* :func:`wait_for` — inside an operation, ``yield from wait_for(limiter, segments)``.
"""

from __future__ import annotations

from ._protocol import LocalRateLimiter, RateLimiter, RateLimiterUnavailable, wait_for
from ._shared import SharedRateLimiter

__all__ = [
    "LocalRateLimiter",
    "RateLimiter",
    "RateLimiterUnavailable",
    "SharedRateLimiter",
    "wait_for",
]
