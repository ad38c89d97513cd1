"""The default async transport: HTTP/1.1 on ``asyncio.Protocol``, framed by h11.

:class:`AsyncioTransport` implements :class:`~ratatosk.AsyncTransport` with what a REST API
client needs and nothing else: HTTP/1.1 keep-alive connections pooled per (scheme, host, port)
with a connection limit and idle expiry, TLS through :mod:`ssl` (verifying, with the system's
trust store plus ``SSL_CERT_FILE``/``SSL_CERT_DIR``), request bodies with ``Content-Length``.
The bytes are read and written by h11 through :class:`._h11.HttpConnection`, shared
with the blocking twin :class:`~ratatosk.StdlibSyncTransport`: responses framed by
``Content-Length``, chunked transfer-coding or the connection's close, gzip/deflate content
codings decoded (stacked too; an unknown coding is an error). No proxies, redirects, cookies or
HTTP/2: a connector follows no redirects and keeps no cookies, and when proxy environment
variables are set the connector routes proxied hosts through httpx instead
(:func:`default_async_transport`).

Why not httpx's ``AsyncClient``: its connection pool rescans every connection on every request
event, so it degrades as concurrency rises (under 300 requests/s at 64 in flight on 2 cores);
this transport's own pool and asyncio protocol cost a fraction of aiohttp's per-request work
(see ``docs/performance.md``).

Failures raise :class:`~ratatosk.TransportError`; ``request_sent`` is false only when the
request certainly never left: an invalid URL or header, DNS failure, connection refused, connect
or TLS handshake timeout or failure, no free connection before the timeout. A pooled keep-alive
connection is checked right before it is written to: one whose peer has closed it (or sent
anything) while idle, whether or not the event loop has noticed yet, is replaced by a fresh one
transparently. (A close that reaches the client only after it wrote the request cannot be told
from a server that read the request and hung up.) A reused connection that the server closes
before answering is retried once on
a fresh connection for an idempotent request only; for any other request it is
``request_sent=True`` (the server may have acted on it), as are a read timeout
(``timeout=True``) and a connection dropped after writing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl as _ssl
from typing import TYPE_CHECKING

from attrs import define, field

from .._headers import Headers
from ._h11 import (
    CACHE_LIMIT,
    MAX_RESPONSE_SIZE,
    HttpConnection,
    Key,
    NoAnswer,
    Prepared,
    ProtocolError,
    after_retry,
    default_ssl_context,
    env_proxies,
    lost,
    prepare,
    proxied,
    readable,
)
from ._http import AsyncTransport, HttpRequest, HttpResponse, HttpxAsyncTransport, TransportError
from ._routing import ProxyRoutes

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["MAX_RESPONSE_SIZE", "AsyncioTransport", "default_async_transport", "proxied"]

# -- one connection --------------------------------------------------------------------------------
@define(slots=True, eq=False, repr=False)
class _Connection(asyncio.Protocol):
    """One keep-alive connection and its HTTP state (h11); at most one request at a time."""

    registry: set[_Connection]
    http: HttpConnection
    transport: asyncio.Transport | None = None
    waiter: asyncio.Future[HttpResponse] | None = None
    closed: bool = False  # closing or closed: never to be used again
    lost: bool = False  # connection_lost has run
    idle_since: float = 0.0
    lost_waiter: asyncio.Future[None] | None = None
    fd: int = -1  # the socket's descriptor, to look at it before reuse

    @property
    def reusable(self) -> bool:
        return self.http.reusable and not self.closed

    # -- asyncio callbacks ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.fd = sock.fileno()
        self.registry.add(self)

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():  # unsolicited bytes: out of step, never reuse
            self.abort()
            return
        self._feed(waiter, data)

    def eof_received(self) -> bool:
        self.closed = True
        return False  # let the transport close; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self.lost = True
        self.registry.discard(self)
        if self.lost_waiter is not None and not self.lost_waiter.done():
            self.lost_waiter.set_result(None)
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if exc is None:  # a clean close: it may end a close-delimited body
            self._feed(waiter, b"")
        else:
            self.fail(lost(exc, self.http.received))

    def _feed(self, waiter: asyncio.Future[HttpResponse], data: bytes) -> None:
        try:
            response = self.http.feed(data)
        except TransportError as exc:  # closed before the end of the answer
            self.fail(exc)
            return
        except (ProtocolError, ValueError, UnicodeError) as exc:
            self.fail(TransportError(f"invalid HTTP response: {exc}", request_sent=True))
            self.abort()
            return
        if response is not None:
            self.waiter = None
            waiter.set_result(response)

    # -- request / response --------------------------------------------------------------------
    def peer_gone(self) -> bool:
        """Whether the idle socket is readable: the peer closed it (or sent bytes nobody asked
        for) even if the event loop has not delivered that yet. Never to be written to then."""
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            return True
        if self.fd < 0:
            return False
        return readable(self.fd)

    def start(self, prepared: Prepared, content: bytes,
              loop: asyncio.AbstractEventLoop) -> asyncio.Future[HttpResponse]:
        """Write a request; the future resolves with its response (or a TransportError)."""
        assert self.transport is not None
        payload = self.http.request(prepared, content)
        self.waiter = waiter = loop.create_future()
        self.transport.write(payload)
        return waiter

    def fail(self, error: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None and not self.lost:
            self.transport.abort()


def _expire(connection: _Connection, waiter: asyncio.Future[HttpResponse]) -> None:
    if not waiter.done():
        waiter.set_exception(TransportError("timed out waiting for the response",
                                            request_sent=True, timeout=True))
        connection.abort()


def _pool_timeout(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TransportError("timed out waiting for a free connection",
                                            request_sent=False, timeout=True))


# -- the pool --------------------------------------------------------------------------------------
@define(slots=True, eq=False, repr=False)
class _Pool:
    """The connections of one (scheme, host, port): idle ones, and slots for those in use."""

    limit: int
    idle: collections.deque[_Connection] = field(factory=collections.deque)
    active: int = 0  # slots taken: connections in use or being opened
    waiters: collections.deque[asyncio.Future[None]] = field(factory=collections.deque)
    prune: asyncio.TimerHandle | None = None


@define(slots=True, eq=False)
class AsyncioTransport:
    """The default async transport: HTTP/1.1 keep-alive on asyncio, framed by h11.

    ``max_connections``: connections open at once to each (scheme, host, port); further requests
    wait for a free one (within their timeout). Size it at or above the highest ``send_batch``
    concurrency you use. ``keepalive_expiry``: seconds an idle connection is kept. ``ssl``: the
    context for ``https`` (default: verifying, with the system's trust store plus
    ``SSL_CERT_FILE``/``SSL_CERT_DIR``; certifi's bundle only where the system has none).
    ``max_response_size``: a larger response body is a :class:`TransportError`.

    A request's ``timeout`` (seconds, ``None``: no limit) bounds the whole exchange: waiting
    for a free connection, connecting, writing and reading the response.

    The transport belongs to the event loop of its first send (another running loop gets a
    ``RuntimeError``; once that loop is closed, a new one may take it over). ``aclose()`` closes
    every connection; later sends raise ``RuntimeError``. Not for use across threads.
    """

    max_connections: int = 256
    keepalive_expiry: float = 15.0
    ssl: _ssl.SSLContext | None = None
    max_response_size: int = MAX_RESPONSE_SIZE
    _loop: asyncio.AbstractEventLoop | None = field(init=False, default=None, repr=False)
    _pools: dict[Key, _Pool] = field(init=False, factory=dict, repr=False)
    _prepared: dict[tuple[str, str, Headers], Prepared] = field(
        init=False, factory=dict, repr=False)
    _open: set[_Connection] = field(init=False, factory=set, repr=False)
    _factory: Callable[[], _Connection] = field(init=False, repr=False)
    _closed: bool = field(init=False, default=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if not self.keepalive_expiry >= 0:
            raise ValueError("keepalive_expiry must be >= 0")
        if self.max_response_size < 0:
            raise ValueError("max_response_size must be >= 0")
        self._factory = lambda: _Connection(self._open, HttpConnection(self.max_response_size))

    # -- sending -------------------------------------------------------------------------------
    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        """Send ``request`` and read the whole response; failures raise :class:`TransportError`."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        prepared = self._prepared.get((request.method, request.url, request.headers))
        if prepared is None:
            prepared = self._prepare(request)
        deadline = None if timeout is None else loop.time() + timeout
        pool = self._pools.get(prepared.key)
        if pool is None:
            pool = self._pools[prepared.key] = _Pool(self.max_connections)
        if pool.active < pool.limit and not pool.waiters:
            pool.active += 1
        else:
            await self._wait_for_slot(pool, loop, deadline)
        try:
            return await self._exchange(pool, prepared, request, loop, deadline)
        finally:
            self._release(pool)

    async def _exchange(self, pool: _Pool, prepared: Prepared, request: HttpRequest,
                        loop: asyncio.AbstractEventLoop, deadline: float | None) -> HttpResponse:
        fresh = False  # True: the retry of an idempotent request, on a new connection
        while True:
            connection = None if fresh else self._idle(pool, loop.time())
            reused = connection is not None
            if connection is None:
                try:
                    connection = await self._connect(prepared.key, loop, deadline)
                except TransportError as exc:
                    raise after_retry(exc, fresh) from exc.__cause__
                if connection.closed:  # the server hung up at once: nothing was written
                    connection.abort()
                    raise after_retry(TransportError(
                        "the server closed the new connection at once", request_sent=False),
                        fresh)
            waiter = connection.start(prepared, request.content, loop)
            handle = None if deadline is None else loop.call_at(deadline, _expire, connection,
                                                                waiter)
            try:
                response = await waiter
            except NoAnswer as exc:
                if reused and not fresh and request.is_idempotent and not self._closed:
                    fresh = True  # the server closed a kept-alive connection: once more, anew
                    continue
                raise TransportError(str(exc), request_sent=True) from None
            except BaseException:
                connection.abort()
                raise
            finally:
                if handle is not None:
                    handle.cancel()
            if connection.reusable and prepared.keep_alive and not connection.closed:
                self._keep(pool, connection, loop)
            else:
                connection.abort()
            return response

    def _idle(self, pool: _Pool, now: float) -> _Connection | None:
        """The most recently used idle connection still open and fresh (stale ones dropped)."""
        idle = pool.idle
        while idle:
            connection = idle.pop()
            if connection.peer_gone():  # closed (seen or not yet seen by the loop): never written
                connection.abort()
                continue
            if now - connection.idle_since >= self.keepalive_expiry:
                connection.abort()  # and every older one too
                while idle:
                    idle.pop().abort()
                return None
            return connection
        return None

    def _keep(self, pool: _Pool, connection: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        if self._closed or len(pool.idle) >= pool.limit:
            connection.abort()
            return
        connection.idle_since = loop.time()
        pool.idle.append(connection)
        if pool.prune is None:
            pool.prune = loop.call_later(self.keepalive_expiry, self._prune, pool, loop)

    def _prune(self, pool: _Pool, loop: asyncio.AbstractEventLoop) -> None:
        """Close the connections idle for longer than ``keepalive_expiry``."""
        pool.prune = None
        idle = pool.idle
        expired = loop.time() - self.keepalive_expiry
        while idle and (idle[0].closed or idle[0].idle_since <= expired):
            idle.popleft().abort()
        if idle and not self._closed:
            pool.prune = loop.call_at(idle[0].idle_since + self.keepalive_expiry,
                                      self._prune, pool, loop)

    async def _wait_for_slot(self, pool: _Pool, loop: asyncio.AbstractEventLoop,
                             deadline: float | None) -> None:
        waiter: asyncio.Future[None] = loop.create_future()
        pool.waiters.append(waiter)
        handle = None if deadline is None else loop.call_at(deadline, _pool_timeout, waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(pool)  # handed a slot, then cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    pool.waiters.remove(waiter)
            raise
        finally:
            if handle is not None:
                handle.cancel()

    @staticmethod
    def _release(pool: _Pool) -> None:
        waiters = pool.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: ``active`` stays the same
                return
        pool.active -= 1

    async def _connect(self, key: Key, loop: asyncio.AbstractEventLoop,
                       deadline: float | None) -> _Connection:
        scheme, host, port = key
        context = None
        if scheme == "https":
            context = self.ssl or default_ssl_context()
        remaining = None if deadline is None else deadline - loop.time()
        try:
            if remaining is not None and remaining <= 0:
                raise asyncio.TimeoutError
            _, connection = await asyncio.wait_for(
                loop.create_connection(self._factory, host, port, ssl=context,
                                       server_hostname=host if context else None),
                remaining)
        except asyncio.TimeoutError:
            raise TransportError(f"timed out connecting to {host}:{port}",
                                 request_sent=False, timeout=True) from None
        except (OSError, ValueError) as exc:  # refused, DNS, TLS (ssl.SSLError is an OSError)
            raise TransportError(f"cannot connect to {host}:{port}: {type(exc).__name__}: {exc}",
                                 request_sent=False) from exc
        if self._closed:  # closed while connecting
            connection.abort()
            raise TransportError("the transport was closed", request_sent=False)
        return connection

    # -- preparing -----------------------------------------------------------------------------
    def _prepare(self, request: HttpRequest) -> Prepared:
        prepared = prepare(request)
        if len(self._prepared) >= CACHE_LIMIT:
            self._prepared.clear()
        self._prepared[(request.method, request.url, request.headers)] = prepared
        return prepared

    # -- the event loop and closing ------------------------------------------------------------
    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._closed:
            raise RuntimeError("this AsyncioTransport is closed")
        previous = self._loop
        if previous is not None and not previous.is_closed():
            raise RuntimeError(
                "AsyncioTransport is bound to the event loop of its first send; "
                "use one transport per event loop")
        if previous is not None:  # its loop is gone, and its connections with it
            self._pools.clear()
            self._open.clear()
        self._loop = loop

    async def aclose(self) -> None:
        """Close every connection, idle or in use (their requests fail with TransportError).

        Later sends raise ``RuntimeError``. Idempotent."""
        self._closed = True
        loop, self._loop = self._loop, None
        for pool in self._pools.values():
            if pool.prune is not None:
                pool.prune.cancel()
                pool.prune = None
            while pool.waiters:
                waiter = pool.waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(TransportError("the transport was closed",
                                                        request_sent=False))
            pool.idle.clear()
        running = asyncio.get_running_loop()
        usable = loop is running
        closing: list[asyncio.Future[None]] = []
        for connection in list(self._open):
            connection.fail(TransportError("the transport was closed during the request",
                                           request_sent=True))
            if usable and not connection.lost:
                connection.lost_waiter = running.create_future()
                closing.append(connection.lost_waiter)
            with contextlib.suppress(RuntimeError):  # a closed loop: nothing left to close
                connection.abort()
        if closing:  # the sockets close in connection_lost, on the next turn of the loop
            await asyncio.wait(closing, timeout=5.0)


class _ProxyRouter(ProxyRoutes[AsyncTransport]):
    """Direct (:class:`AsyncioTransport`) to hosts no proxy applies to, through httpx (which
    reads the proxy variables itself) to the others (see :class:`._routing.ProxyRoutes`)."""

    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        return await self.choose(request.url).send(request, timeout=timeout)

    async def aclose(self) -> None:
        problems: list[BaseException] = []
        for transport in self.created():
            try:
                await transport.aclose()
            except Exception as exc:
                problems.append(exc)
        if problems:
            raise problems[0]


def default_async_transport(environ: Mapping[str, str] | None = None) -> AsyncTransport:
    """The async transport a connector creates when it is given none.

    An :class:`AsyncioTransport`; when proxy environment variables are set (``environ``,
    default ``os.environ``), requests to the hosts they apply to go through
    :class:`~ratatosk.HttpxAsyncTransport` instead, which supports proxies.
    """
    if not env_proxies(environ):
        return AsyncioTransport()

    def through_httpx() -> AsyncTransport:
        return HttpxAsyncTransport()

    return _ProxyRouter(AsyncioTransport(), through_httpx, environ)
