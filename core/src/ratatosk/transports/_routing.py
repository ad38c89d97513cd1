"""Which transport serves a URL: direct, or through httpx where a proxy variable applies.

Written once for both default transports: the async and the blocking router differ only in how
they call the transport they chose (``await send`` / ``send``, ``aclose`` / ``close``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from attrs import define, field

from ._h11 import CACHE_LIMIT, proxied

T = TypeVar("T")


@define
class ProxyRoutes(Generic[T]):
    """``direct`` for hosts no proxy applies to, ``make_proxied()`` (created on first need) for the
    others; decided once per scheme and host, thread-safe."""

    direct: T
    make_proxied: Callable[[], T]
    environ: Mapping[str, str] | None = None
    _proxied: T | None = field(init=False, default=None)
    _routes: dict[str, bool] = field(init=False, factory=dict)
    _lock: threading.Lock = field(init=False, factory=threading.Lock)

    def choose(self, url: str) -> T:
        """The transport for ``url``."""
        scheme, _, rest = url.partition("://")
        origin = f"{scheme}://{rest.split('/', 1)[0]}"
        route = self._routes.get(origin)
        if route is None:
            if len(self._routes) >= CACHE_LIMIT:
                self._routes.clear()
            route = self._routes[origin] = proxied(url, self.environ)
        if not route:
            return self.direct
        with self._lock:
            if self._proxied is None:
                self._proxied = self.make_proxied()
            return self._proxied

    def created(self) -> list[T]:
        """The transports in use (the direct one first), for closing."""
        return [self.direct] if self._proxied is None else [self.direct, self._proxied]
