"""A rate limit shared by every worker, in Redis, through the ``limits`` library.

``pip install 'ratatosk-messaging[redis]'``. The limit is a *moving window* (``limits``'
``MovingWindowRateLimiter``): at most ``amount`` units in any window of its length, whichever
process or machine charged them. The storage is any ``limits`` storage URI: ``redis://``,
``rediss://``, ``redis+sentinel://``, ``redis+cluster://`` (shared), or ``memory://`` (one
process; for tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._protocol import RateLimiterUnavailable

if TYPE_CHECKING:
    from limits import RateLimitItem


class SharedRateLimiter:
    """A :class:`~ratatosk.ratelimit.RateLimiter` shared through Redis, keyed by account and sender.

    ``limit`` is in ``limits``' notation, e.g. ``"1/second"`` (a US long code) or
    ``"30 per 10 seconds"``, or a ``limits.RateLimitItem``; it counts *units* (segments). Every
    limiter with the same ``account`` (say ``"twilio:AC123"``), ``sender`` (the from number or
    messaging service) and ``namespace`` shares one budget. A cost larger than the limit's amount
    could never be charged and raises ``ValueError``: choose a longer window for long messages
    (``"10 per 10 seconds"`` admits a 10-segment message; ``"1/second"`` does not).

    ``reserve`` makes one round trip to Redis (a Lua script) and never sleeps; when Redis does
    not answer it raises :class:`RateLimiterUnavailable`.
    """

    def __init__(
        self,
        storage_uri: str,
        *,
        account: str,
        sender: str,
        limit: str | RateLimitItem,
        namespace: str = "ratatosk",
        clock: Callable[[], float] = time.time,
        **storage_options: Any,
    ) -> None:
        try:
            from limits import parse
            from limits.storage import storage_from_string
            from limits.strategies import MovingWindowRateLimiter
        except ImportError as exc:  # pragma: no cover - the extra is installed in development
            raise RateLimiterUnavailable(
                "SharedRateLimiter needs limits: pip install 'ratatosk-messaging[redis]'") from exc
        self.item: RateLimitItem = parse(limit) if isinstance(limit, str) else limit
        self.account = account
        self.sender = sender
        self.namespace = namespace
        self._clock = clock
        storage_options.setdefault("wrap_exceptions", True)
        self._storage = storage_from_string(storage_uri, **storage_options)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._ids = (namespace, account, sender)

    @property
    def amount(self) -> int:
        """The units allowed in one window."""
        return int(self.item.amount)

    @property
    def window(self) -> int:
        """The window's length in seconds."""
        return int(self.item.get_expiry())

    def reserve(self, cost: int = 1) -> float:
        if cost < 1:
            raise ValueError("a rate limiter charges at least one unit")
        if cost > self.amount:
            raise ValueError(
                f"a cost of {cost} units never fits a limit of {self.item}; use a longer window")
        try:
            if self._limiter.hit(self.item, *self._ids, cost=cost):
                return 0.0
            stats = self._limiter.get_window_stats(self.item, *self._ids)
        except Exception as exc:
            if _is_storage_error(exc):
                raise RateLimiterUnavailable(
                    f"the shared rate limiter's store did not answer: {type(exc).__name__}"
                ) from exc
            raise
        # The oldest charge in the window expires at stats.reset_time; one more unit frees then
        # (a larger cost may need to ask again). Never 0: that would mean "charged".
        return max(stats.reset_time - self._clock(), 0.001)

    def clear(self) -> None:
        """Forget every charge of this account and sender (tests, a changed limit)."""
        self._limiter.clear(self.item, *self._ids)

    def __repr__(self) -> str:
        return (f"SharedRateLimiter(account={self.account!r}, sender={self.sender!r}, "
                f"limit={str(self.item)!r})")


def _is_storage_error(exc: Exception) -> bool:
    from limits.errors import StorageError

    return isinstance(exc, StorageError | ConnectionError | TimeoutError | OSError)
