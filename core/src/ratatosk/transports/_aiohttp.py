"""An async transport straight over aiohttp: the fast path for high-volume sending.

``AiohttpTransport`` implements :class:`~ratatosk.AsyncTransport` directly on an
``aiohttp.ClientSession`` (no httpx layer in between): a keep-alive ``TCPConnector`` sized for the
concurrency you send at, URL and timeout objects built once and reused, no cookie jar. Measured
against a loopback server on 2 cores it costs about what raw aiohttp costs per request, while
httpx's ``AsyncClient`` pool degrades as requests in flight rise (under 100 msg/s at 64 in
flight against thousands here; see ``docs/performance.md``).

Install the extra and pass it to a connector::

    pip install 'ratatosk-messaging[aiohttp]'

    from ratatosk.transports._aiohttp import AiohttpTransport
    connector = TwilioSmsConnector(settings=..., async_transport=AiohttpTransport())

The session is created on the first send, inside the running event loop, and belongs to that loop:
use one transport per event loop (the blocking view, ``connector.blocking()``, never touches it).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from attrs import define, field

from .._headers import Headers
from ._http import HttpRequest, HttpResponse, TransportError

try:
    import aiohttp
    from yarl import URL
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "AiohttpTransport needs aiohttp: pip install 'ratatosk-messaging[aiohttp]'"
    ) from exc

if TYPE_CHECKING:
    import ssl as _ssl

_CACHE_LIMIT = 256  # URLs / timeouts remembered; a connector uses a handful


def _map_error(exc: BaseException) -> TransportError:
    """An aiohttp failure as a :class:`TransportError`, saying whether the request may have left.

    Never sent: connection refused or unresolvable (``ClientConnectorError``), connect or pool
    timeout (``ConnectionTimeoutError``), an invalid or non-HTTP URL. Anything later (read
    timeout, server disconnect, broken payload) may have reached the server.
    """
    kind = type(exc).__name__
    message = f"{kind}: {exc}" if str(exc) else kind
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportError(message, request_sent=False, timeout=True)
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.InvalidURL,
                        aiohttp.NonHttpUrlClientError)):
        return TransportError(message, request_sent=False)
    if isinstance(exc, asyncio.TimeoutError):
        return TransportError(message, request_sent=True, timeout=True)
    return TransportError(message, request_sent=True)


@define(slots=True, eq=False)
class AiohttpTransport:
    """The async transport over ``aiohttp`` (the ``ratatosk-messaging[aiohttp]`` extra).

    ``session``: your own ``aiohttp.ClientSession`` (you close it; ``aclose()`` leaves it open).
    Without one, the transport opens its own on the first send with a keep-alive
    ``TCPConnector(limit=max_connections)``; size ``max_connections`` at or above the highest
    ``send_batch`` concurrency you use, so requests never queue inside aiohttp.
    ``keepalive_timeout`` is how long an idle connection is kept (seconds); ``ssl`` is passed to
    the connector (``True``: verify with the default context; or your ``ssl.SSLContext``);
    ``trust_env`` makes aiohttp read proxy settings from the environment.

    A request's ``timeout`` bounds connecting (including waiting for a free connection) and each
    read, as httpx's single-number timeout does; ``None`` waits forever.
    """

    session: aiohttp.ClientSession | None = None
    max_connections: int = 256
    keepalive_timeout: float = 30.0
    ssl: _ssl.SSLContext | bool = True
    trust_env: bool = False
    _session: aiohttp.ClientSession | None = field(init=False, default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(init=False, default=None, repr=False)
    _urls: dict[str, URL] = field(init=False, factory=dict, repr=False)
    _timeouts: dict[float | None, aiohttp.ClientTimeout] = field(
        init=False, factory=dict, repr=False
    )
    _closed: bool = field(init=False, default=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.session is not None:
            self._session = self.session

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._closed:
            raise RuntimeError("this AiohttpTransport is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=0,
                keepalive_timeout=self.keepalive_timeout,
                ssl=self.ssl,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # an API client keeps no cookies
                trust_env=self.trust_env,
            )
        self._loop = loop
        return self._session

    def _url(self, url: str) -> URL:
        cached = self._urls.get(url)
        if cached is None:
            if len(self._urls) >= _CACHE_LIMIT:
                self._urls.clear()
            cached = self._urls[url] = URL(url)
        return cached

    def _timeout(self, timeout: float | None) -> aiohttp.ClientTimeout:
        cached = self._timeouts.get(timeout)
        if cached is None:
            if len(self._timeouts) >= _CACHE_LIMIT:
                self._timeouts.clear()
            cached = self._timeouts[timeout] = aiohttp.ClientTimeout(
                total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
            )
        return cached

    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        """Send ``request`` and read the whole response; failures raise :class:`TransportError`."""
        session = self._session
        if session is None or self._loop is None:
            session = self._open()
        elif self._loop is not asyncio.get_running_loop():
            raise RuntimeError(
                "AiohttpTransport is bound to the event loop of its first send; "
                "use one transport per event loop"
            )
        kwargs: dict[str, Any] = {}
        if request.content:
            kwargs["data"] = request.content
        try:
            async with session.request(
                request.method,
                self._url(request.url),
                headers=request.headers,
                timeout=self._timeout(timeout),
                allow_redirects=False,
                **kwargs,
            ) as response:
                content = await response.read()
                headers = Headers._of_pairs(tuple(
                    (name.lower(), value) for name, value in response.headers.items()))
                return HttpResponse(response.status, headers, content)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _map_error(exc) from exc

    async def aclose(self) -> None:
        """Close the session this transport opened (a session you passed in stays open)."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self.session is None:
            await session.close()
