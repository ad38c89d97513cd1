"""The default blocking transport: HTTP/1.1 on standard-library sockets, framed by h11.

:class:`StdlibSyncTransport` implements :class:`~ratatosk.SyncTransport` with the same
request preparation, HTTP framing (:class:`._h11.HttpConnection`, over h11) and
failure semantics as :class:`~ratatosk.AsyncioTransport`, and never imports asyncio:
keep-alive connections pooled per (scheme, host, port) with a connection limit and idle expiry,
verifying TLS (the system's trust store plus ``SSL_CERT_FILE``/``SSL_CERT_DIR``),
``Content-Length`` request bodies, responses framed by ``Content-Length``, chunked
transfer-coding or the close, gzip/deflate content codings decoded (an unknown one is an
error), a 10 MiB response cap, and one timeout for
the whole exchange (waiting for a free connection, connecting, writing, reading). It is safe to
share between threads (the blocking ``send_batch`` sends from a thread pool).

Why not httpx's ``Client``: about 500 us of CPU per request on 2 cores against 200 here, which
leaves the blocking path too close to twilio-python's (see ``docs/performance.md``).

``TransportError.request_sent`` is false only when the request certainly never left: invalid
URL or header, DNS failure, connection refused, connect or TLS timeout or failure, no free
connection before the timeout. A pooled connection is looked at right before it is written to:
one found closed by its peer (or with unexpected bytes) is replaced transparently; a reused
connection that fails before any byte of an answer is retried once on a fresh connection for an
idempotent request only.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import ssl as _ssl
import threading
import time
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
    readable,
)
from ._http import HttpRequest, HttpResponse, HttpxSyncTransport, SyncTransport, TransportError
from ._routing import ProxyRoutes

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["StdlibSyncTransport", "default_sync_transport"]

_READ_SIZE = 65536
_clock = time.monotonic


@define(slots=True, eq=False, repr=False)
class _SyncConnection:
    """One keep-alive socket and its HTTP state (h11); used by one thread at a time."""

    sock: socket.socket
    http: HttpConnection
    idle_since: float = 0.0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def stale(self) -> bool:
        """Whether the server closed it, or sent bytes nobody asked for, while it was idle."""
        sock = self.sock
        try:
            fd = sock.fileno()
        except OSError:
            return True
        if fd < 0:
            return True
        if not readable(fd):
            return isinstance(sock, _ssl.SSLSocket) and sock.pending() > 0
        try:
            sock.setblocking(False)
            sock.recv(1)  # b"": closed; anything else: out of step
        except (BlockingIOError, _ssl.SSLWantReadError, _ssl.SSLWantWriteError):
            return False  # TLS housekeeping only (a session ticket): still usable
        except OSError:
            return True
        return True


@define(slots=True, eq=False, repr=False)
class _SyncPool:
    """The connections of one (scheme, host, port)."""

    limit: int
    ready: threading.Condition  # notified when a slot frees up
    idle: collections.deque[_SyncConnection] = field(factory=collections.deque)
    active: int = 0  # slots taken: connections in use or being opened


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - _clock()


@define(slots=True, eq=False)
class StdlibSyncTransport:
    """The default blocking transport: HTTP/1.1 keep-alive on sockets, framed by h11.

    ``max_connections``: connections open at once to each (scheme, host, port); further
    requests wait for a free one (within their timeout). ``keepalive_expiry``: seconds an idle
    connection is kept (checked when the pool is next used). ``ssl``: the context for ``https``
    (default: verifying, with the system's trust store plus ``SSL_CERT_FILE``/``SSL_CERT_DIR``;
    certifi's bundle only where the system has none). ``max_response_size``: a larger response
    body is a :class:`TransportError`.

    A request's ``timeout`` (seconds, ``None``: no limit) bounds the whole exchange. Safe to use
    from several threads. ``close()`` closes every connection (requests in flight fail with
    ``TransportError``); later sends raise ``RuntimeError``.
    """

    max_connections: int = 256
    keepalive_expiry: float = 15.0
    ssl: _ssl.SSLContext | None = None
    max_response_size: int = MAX_RESPONSE_SIZE
    _lock: threading.Lock = field(init=False, factory=threading.Lock, repr=False)
    _pools: dict[Key, _SyncPool] = field(init=False, factory=dict, repr=False)
    _prepared: dict[tuple[str, str, Headers], Prepared] = field(
        init=False, factory=dict, repr=False)
    _open: set[_SyncConnection] = field(init=False, factory=set, repr=False)
    _closed: bool = field(init=False, default=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if not self.keepalive_expiry >= 0:
            raise ValueError("keepalive_expiry must be >= 0")
        if self.max_response_size < 0:
            raise ValueError("max_response_size must be >= 0")

    # -- sending -------------------------------------------------------------------------------
    def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        """Send ``request`` and read the whole response; failures raise :class:`TransportError`."""
        if self._closed:
            raise RuntimeError("this StdlibSyncTransport is closed")
        prepared = self._prepared.get((request.method, request.url, request.headers))
        if prepared is None:
            prepared = prepare(request)
            if len(self._prepared) >= CACHE_LIMIT:
                self._prepared.clear()
            self._prepared[(request.method, request.url, request.headers)] = prepared
        deadline = None if timeout is None else _clock() + timeout
        pool = self._acquire(prepared.key, deadline)
        try:
            return self._exchange(pool, prepared, request, deadline)
        finally:
            with self._lock:
                pool.active -= 1
                pool.ready.notify()

    def _exchange(self, pool: _SyncPool, prepared: Prepared, request: HttpRequest,
                  deadline: float | None) -> HttpResponse:
        fresh = False  # True: the retry of an idempotent request, on a new connection
        while True:
            connection: _SyncConnection | None = None
            reused = False
            try:
                connection = None if fresh else self._idle(pool)
                reused = connection is not None
                if connection is None:
                    connection = self._connect(prepared.key, deadline)
                response = self._round_trip(connection, prepared, request.content, deadline)
            except NoAnswer as exc:
                if connection is not None:
                    self._discard(connection)
                if reused and not fresh and request.is_idempotent and not self._closed:
                    fresh = True  # the server closed a kept-alive connection: once more, anew
                    continue
                raise TransportError(str(exc), request_sent=True) from None
            except TransportError as exc:
                if connection is not None:
                    self._discard(connection)
                raise after_retry(exc, fresh) from exc.__cause__
            except BaseException:
                if connection is not None:
                    self._discard(connection)
                raise
            if connection.http.reusable and prepared.keep_alive:
                self._keep(pool, connection)
            else:
                self._discard(connection)
            return response

    def _round_trip(self, connection: _SyncConnection, prepared: Prepared, content: bytes,
                    deadline: float | None) -> HttpResponse:
        sock, http = connection.sock, connection.http
        payload = http.request(prepared, content)
        left = _left(deadline)
        if left is not None and left <= 0:
            raise TransportError("timed out before sending", request_sent=False, timeout=True)
        try:
            sock.settimeout(left)
            sock.sendall(payload)
        except TimeoutError:
            raise TransportError("timed out sending the request", request_sent=True,
                                 timeout=True) from None
        except OSError as exc:  # the connection was gone: the server cannot have answered
            raise NoAnswer(f"{type(exc).__name__}: {exc} while sending",
                           request_sent=True) from None
        while True:
            left = _left(deadline)
            try:
                if left is not None:
                    if left <= 0:
                        raise TimeoutError
                    sock.settimeout(left)
                data = sock.recv(_READ_SIZE)
            except TimeoutError:
                raise TransportError("timed out waiting for the response", request_sent=True,
                                     timeout=True) from None
            except OSError as exc:
                raise lost(exc, http.received) from None
            try:
                response = http.feed(data)
            except (ProtocolError, ValueError, UnicodeError) as exc:
                raise TransportError(f"invalid HTTP response: {exc}",
                                     request_sent=True) from None
            if response is not None:
                return response

    # -- the pool ------------------------------------------------------------------------------
    def _acquire(self, key: Key, deadline: float | None) -> _SyncPool:
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = _SyncPool(self.max_connections,
                                                    threading.Condition(self._lock))
            while pool.active >= pool.limit:
                if self._closed:
                    raise TransportError("the transport was closed", request_sent=False)
                left = _left(deadline)
                if left is not None and left <= 0:
                    raise TransportError("timed out waiting for a free connection",
                                         request_sent=False, timeout=True)
                pool.ready.wait(left)
            pool.active += 1
            return pool

    def _idle(self, pool: _SyncPool) -> _SyncConnection | None:
        """The most recently used idle connection still open and fresh (stale ones dropped)."""
        while True:
            expired: list[_SyncConnection] = []
            with self._lock:
                if not pool.idle:
                    return None
                connection = pool.idle.pop()
                if _clock() - connection.idle_since >= self.keepalive_expiry:
                    expired = [connection, *pool.idle]  # and every older one too
                    pool.idle.clear()
            if expired:
                for old in expired:
                    self._discard(old)
                return None
            if connection.stale():
                self._discard(connection)
                continue
            return connection

    def _keep(self, pool: _SyncPool, connection: _SyncConnection) -> None:
        now = _clock()
        expired: list[_SyncConnection] = []
        with self._lock:
            keep = not self._closed and len(pool.idle) < pool.limit
            if keep:
                connection.idle_since = now
                pool.idle.append(connection)
            while pool.idle and now - pool.idle[0].idle_since >= self.keepalive_expiry:
                expired.append(pool.idle.popleft())
        if not keep:
            expired.append(connection)
        for old in expired:
            self._discard(old)

    def _discard(self, connection: _SyncConnection) -> None:
        connection.close()
        with self._lock:
            self._open.discard(connection)

    def _connect(self, key: Key, deadline: float | None) -> _SyncConnection:
        scheme, host, port = key
        left = _left(deadline)
        try:
            if left is not None and left <= 0:
                raise TimeoutError
            sock = socket.create_connection((host, port), timeout=left)
        except TimeoutError:
            raise TransportError(f"timed out connecting to {host}:{port}",
                                 request_sent=False, timeout=True) from None
        except (OSError, ValueError) as exc:  # refused, DNS
            raise TransportError(f"cannot connect to {host}:{port}: {type(exc).__name__}: {exc}",
                                 request_sent=False) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                context = self.ssl or default_ssl_context()
                left = _left(deadline)
                if left is not None and left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                sock = context.wrap_socket(sock, server_hostname=host)
        except TimeoutError:
            sock.close()
            raise TransportError(f"timed out connecting to {host}:{port} (TLS)",
                                 request_sent=False, timeout=True) from None
        except (OSError, ValueError) as exc:  # TLS: ssl.SSLError is an OSError
            sock.close()
            raise TransportError(f"cannot connect to {host}:{port}: {type(exc).__name__}: {exc}",
                                 request_sent=False) from exc
        connection = _SyncConnection(sock, HttpConnection(self.max_response_size))
        with self._lock:
            closed = self._closed
            if not closed:
                self._open.add(connection)
        if closed:
            connection.close()
            raise TransportError("the transport was closed", request_sent=False)
        return connection

    # -- closing -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every connection; requests in flight fail with ``TransportError``, later sends
        raise ``RuntimeError``. Idempotent."""
        idle: list[_SyncConnection] = []
        with self._lock:
            self._closed = True
            for pool in self._pools.values():
                idle += pool.idle
                pool.idle.clear()
                pool.ready.notify_all()
            self._open.difference_update(idle)
            busy = list(self._open)
        for connection in idle:
            connection.close()
        for connection in busy:  # in use by another thread: an EOF wakes it, it closes it
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)


class _SyncProxyRouter(ProxyRoutes[SyncTransport]):
    """Direct (:class:`StdlibSyncTransport`) to hosts no proxy applies to, through httpx (which
    reads the proxy variables itself) to the others (see :class:`._routing.ProxyRoutes`)."""

    def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        return self.choose(request.url).send(request, timeout=timeout)

    def close(self) -> None:
        problems: list[BaseException] = []
        for transport in self.created():
            try:
                transport.close()
            except Exception as exc:
                problems.append(exc)
        if problems:
            raise problems[0]


def default_sync_transport(environ: Mapping[str, str] | None = None) -> SyncTransport:
    """The blocking transport a connector creates when it is given none.

    A :class:`StdlibSyncTransport`; when proxy environment variables are set (``environ``,
    default ``os.environ``), requests to the hosts they apply to go through
    :class:`~ratatosk.HttpxSyncTransport` instead, which supports proxies.
    """
    if not env_proxies(environ):
        return StdlibSyncTransport()

    def through_httpx() -> SyncTransport:
        return HttpxSyncTransport()

    return _SyncProxyRouter(StdlibSyncTransport(), through_httpx, environ)
