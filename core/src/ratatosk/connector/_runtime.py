"""What the drivers need from a connector: transports, waiting, timeout (one per connector).

The runtime creates the transports on first use (the async one only on the async path, so the
blocking path never imports asyncio), closes the ones it created, and holds the injectable timing
functions. It knows nothing about operations.
"""

from __future__ import annotations

import random as _random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from attrs import define, field

from ..transports import AsyncTransport, HttpxAsyncTransport, HttpxSyncTransport, SyncTransport

if TYPE_CHECKING:
    import httpx


async def _asyncio_sleep(seconds: float) -> None:
    """``asyncio.sleep``, imported on first use (``import ratatosk`` and the CLI skip asyncio)."""
    import asyncio

    await asyncio.sleep(seconds)


def _async_default(given: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> AsyncTransport:
    if given is None:
        from ..transports._asyncio import default_async_transport

        return default_async_transport()
    import httpx

    if not isinstance(given, httpx.AsyncBaseTransport):
        raise TypeError("http_transport cannot serve the async path "
                        f"({type(given).__name__} is not an httpx.AsyncBaseTransport)")
    return HttpxAsyncTransport(transport=given)


def _sync_default(given: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> SyncTransport:
    if given is None:
        from ..transports._stdlib import default_sync_transport

        return default_sync_transport()
    import httpx

    if not isinstance(given, httpx.BaseTransport):
        raise TypeError("http_transport cannot serve the blocking path "
                        f"({type(given).__name__} is not an httpx.BaseTransport)")
    return HttpxSyncTransport(transport=given)


@define(eq=False)
class Runtime:
    """Transports and timing of one connector (see :mod:`ratatosk.connector._operation`)."""

    http_transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None
    given_async: AsyncTransport | None = None
    given_sync: SyncTransport | None = None
    timeout: float | None = 30.0
    sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep
    blocking_sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = _random.random
    clock: Callable[[], float] = time.monotonic
    _created_async: AsyncTransport | None = field(init=False, default=None)
    _created_sync: SyncTransport | None = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, factory=threading.Lock)

    def async_transport(self) -> AsyncTransport:
        """The async transport: the one given, else one created on first use."""
        transport = self.given_async or self._created_async
        if transport is None:
            with self._lock:
                if self._created_async is None:
                    self._created_async = _async_default(self.http_transport)
                transport = self._created_async
        return transport

    def sync_transport(self) -> SyncTransport:
        """The blocking transport: the one given, else one created on first use."""
        transport = self.given_sync or self._created_sync
        if transport is None:
            with self._lock:
                if self._created_sync is None:
                    self._created_sync = _sync_default(self.http_transport)
                transport = self._created_sync
        return transport

    def close_transports(self) -> list[str]:
        """Close the blocking transport this runtime created; an async one (which only an event
        loop can close) is dropped. Returns the problems met."""
        problems = self._close_sync()
        self._created_async = None
        return problems

    async def aclose_transports(self) -> list[str]:
        """Close every transport this runtime created. Returns the problems met."""
        problems: list[str] = []
        transport, self._created_async = self._created_async, None
        if transport is not None:
            try:
                await transport.aclose()
            except Exception as exc:
                problems.append(f"closing the async transport raised {exc!r}")
        return problems + self._close_sync()

    def _close_sync(self) -> list[str]:
        transport, self._created_sync = self._created_sync, None
        if transport is not None:
            try:
                transport.close()
            except Exception as exc:
                return [f"closing the blocking transport raised {exc!r}"]
        return []
