"""PROTOTYPE (benchmarks only): an ``AsyncTransport`` written directly on ``asyncio.Protocol``.

It answers the question issue 6 asks ("a tuned httpx pool, httpx-aiohttp, or something better?")
with a measurement: how fast can Ratatosk send when the HTTP/1.1 client underneath does only
what a REST API call needs? It is not shipped and not part of the public API; if the numbers
justify it, it is the starting point of a core transport (it then needs its own tests).

What it does: HTTP/1.1 with keep-alive, one request per connection at a time, a connection pool
per (scheme, host, port) bounded by ``max_connections`` (callers wait for a free connection),
TLS through ``ssl`` (the default context verifies), response bodies framed by Content-Length,
chunked transfer-coding or connection close, 1xx responses skipped, HEAD/204/304 without body.
Timeouts bound connecting (including waiting for a free connection) and the wait for the
response. Failures raise :class:`ratatosk._http.TransportError` with ``request_sent`` set as the
core contract says. What it does not do: proxies, redirects, compression, HTTP/2, cookies.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl as _ssl
from urllib.parse import urlsplit

from ratatosk._http import HttpRequest, HttpResponse, TransportError

_MAX_HEAD = 64 * 1024
_NO_BODY_STATUS = frozenset({204, 304})
_CACHE_LIMIT = 256


class _ProtocolError(Exception):
    pass


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.waiter: asyncio.Future[HttpResponse] | None = None
        self.closed = False
        self.reusable = True
        self.head_request = False
        self._head: tuple[int, dict[str, str], str] | None = None  # status, headers, framing
        self._length = 0
        self._chunks: list[bytes] = []

    # -- asyncio callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # not a TCP socket
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer = self.buffer + data if self.buffer else data
        if self.waiter is None:
            if self.buffer:  # bytes nobody asked for: the connection is out of step
                self.reusable = False
                self.abort()
            return
        try:
            response = self._parse()
        except (_ProtocolError, ValueError) as exc:
            self._fail(TransportError(f"invalid HTTP response: {exc}", request_sent=True))
            self.abort()
            return
        if response is not None:
            waiter, self.waiter = self.waiter, None
            if not waiter.done():
                waiter.set_result(response)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self.waiter is None or self.waiter.done():
            return
        if self._head is not None and self._head[2] == "close":  # body framed by the close
            status, headers, _ = self._head
            waiter, self.waiter = self.waiter, None
            waiter.set_result(HttpResponse(status, headers, self.buffer))
            return
        reason = f"{type(exc).__name__}: {exc}" if exc else "the server closed the connection"
        self._fail(TransportError(reason, request_sent=True))

    # -- request/response --------------------------------------------------------------------
    def start(self, payload: bytes, *, head: bool) -> asyncio.Future[HttpResponse]:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self.head_request = head
        self._head = None
        self._chunks = []
        self.transport.write(payload)
        return self.waiter

    def abort(self) -> None:
        self.closed = True
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _parse(self) -> HttpResponse | None:
        while self._head is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    raise _ProtocolError("response head too large")
                return None
            head = self.buffer[:end].decode("latin-1")
            self.buffer = self.buffer[end + 4:]
            lines = head.split("\r\n")
            version, _, rest = lines[0].partition(" ")
            if not version.startswith("HTTP/1."):
                raise _ProtocolError(f"not an HTTP/1.x status line: {lines[0][:40]!r}")
            status = int(rest[:3])
            if 100 <= status < 200:  # 100 Continue and friends: the real answer follows
                continue
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, colon, value = line.partition(":")
                if not colon:
                    raise _ProtocolError("malformed header line")
                name = name.strip().lower()
                value = value.strip()
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            connection = headers.get("connection", "").lower()
            if "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection):
                self.reusable = False
            if self.head_request or status in _NO_BODY_STATUS:
                framing = "none"
            elif "chunked" in headers.get("transfer-encoding", "").lower():
                framing = "chunked"
            elif "content-length" in headers:
                framing = "length"
                self._length = int(headers["content-length"])
                if self._length < 0:
                    raise _ProtocolError("negative Content-Length")
            else:
                framing = "close"
                self.reusable = False
            self._head = (status, headers, framing)
        status, headers, framing = self._head
        if framing == "none":
            return self._done(status, headers, b"")
        if framing == "length":
            if len(self.buffer) < self._length:
                return None
            body = self.buffer[: self._length]
            self.buffer = self.buffer[self._length:]
            return self._done(status, headers, body)
        if framing == "chunked":
            return self._parse_chunks(status, headers)
        return None  # "close": completed by connection_lost

    def _parse_chunks(self, status: int, headers: dict[str, str]) -> HttpResponse | None:
        while True:
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return None
            size = int(self.buffer[:line_end].split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                trailer_end = self.buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    return None
                self.buffer = self.buffer[trailer_end + 4:]
                return self._done(status, headers, b"".join(self._chunks))
            start = line_end + 2
            if len(self.buffer) < start + size + 2:
                return None
            self._chunks.append(self.buffer[start:start + size])
            self.buffer = self.buffer[start + size + 2:]

    def _done(self, status: int, headers: dict[str, str], body: bytes) -> HttpResponse:
        if self.buffer:  # the server sent more than one response: do not trust this connection
            self.reusable = False
        self._head = None
        return HttpResponse(status, headers, body)


class _Pool:
    """Idle connections and the slots of one (scheme, host, port)."""

    def __init__(self, limit: int) -> None:
        self.idle: list[_Connection] = []
        self.active = 0
        self.limit = limit
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()


class ProtocolTransport:
    """A minimal HTTP/1.1 ``AsyncTransport`` on asyncio.Protocol (see the module docstring)."""

    def __init__(self, *, max_connections: int = 256,
                 ssl: _ssl.SSLContext | None = None) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._limit = max_connections
        self._ssl = ssl
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._targets: dict[str, tuple[tuple[str, str, int], str, str]] = {}
        self._heads: dict[tuple[str, str, tuple[tuple[str, str], ...]], bytes] = {}
        self._closed = False

    def _target(self, url: str) -> tuple[tuple[str, str, int], str, str]:
        cached = self._targets.get(url)
        if cached is None:
            try:
                parts = urlsplit(url)
                scheme = parts.scheme.lower()
                host = parts.hostname
                port = parts.port or (443 if scheme == "https" else 80)
            except ValueError as exc:
                raise TransportError(f"invalid URL: {exc}", request_sent=False) from exc
            if scheme not in ("http", "https") or not host:
                raise TransportError(f"unsupported URL {url!r}", request_sent=False)
            target = parts.path or "/"
            if parts.query:
                target = f"{target}?{parts.query}"
            host_header = parts.netloc.rpartition("@")[2]
            if len(self._targets) >= _CACHE_LIMIT:
                self._targets.clear()
            cached = self._targets[url] = ((scheme, host, port), target, host_header)
        return cached

    def _payload(self, request: HttpRequest, target: str, host: str) -> bytes:
        key = (request.method, request.url, request.headers)
        head = self._heads.get(key)
        if head is None:
            names = {name.lower() for name, _ in request.headers}
            lines = [f"{request.method.upper()} {target} HTTP/1.1", f"Host: {host}"]
            lines += [f"{name}: {value}" for name, value in request.headers
                      if name.lower() not in ("host", "content-length", "connection")]
            if "user-agent" not in names:
                lines.append("User-Agent: ratatosk")
            head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
            if len(self._heads) >= _CACHE_LIMIT:
                self._heads.clear()
            self._heads[key] = head
        content = request.content
        if content or request.method.upper() in ("POST", "PUT", "PATCH"):
            return b"%sContent-Length: %d\r\n\r\n%s" % (head, len(content), content)
        return head + b"\r\n"

    async def _acquire(self, key: tuple[str, str, int], timeout: float | None) -> _Pool:
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(self._limit)
        if pool.active < pool.limit and not pool.waiters:
            pool.active += 1
            return pool
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pool.waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            raise TransportError("timed out waiting for a free connection",
                                 request_sent=False, timeout=True) from None
        finally:
            if not waiter.done() or waiter.cancelled():
                with contextlib.suppress(ValueError):
                    pool.waiters.remove(waiter)
        return pool  # the releaser handed its slot over

    def _release(self, pool: _Pool) -> None:
        while pool.waiters:
            waiter = pool.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on, active stays the same
                return
        pool.active -= 1

    async def _connect(self, key: tuple[str, str, int], timeout: float | None) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        context: _ssl.SSLContext | None = None
        if scheme == "https":
            context = self._ssl or _ssl.create_default_context()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(_Connection, host, port, ssl=context,
                                       server_hostname=host if context else None),
                timeout)
        except asyncio.TimeoutError:
            raise TransportError(f"timed out connecting to {host}:{port}",
                                 request_sent=False, timeout=True) from None
        except OSError as exc:
            raise TransportError(f"cannot connect to {host}:{port}: {exc}",
                                 request_sent=False) from exc
        return connection

    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        """Send ``request``; failures raise :class:`TransportError`."""
        if self._closed:
            raise RuntimeError("this ProtocolTransport is closed")
        key, target, host = self._target(request.url)
        payload = self._payload(request, target, host)
        pool = await self._acquire(key, timeout)
        try:
            connection: _Connection | None = None
            while pool.idle:
                candidate = pool.idle.pop()
                if not candidate.closed:
                    connection = candidate
                    break
            if connection is None:
                connection = await self._connect(key, timeout)
            waiter = connection.start(payload, head=request.method.upper() == "HEAD")
            handle = None
            if timeout is not None:
                handle = asyncio.get_running_loop().call_later(
                    timeout, _expire, connection, waiter)
            try:
                response = await waiter
            except BaseException:
                connection.abort()
                raise
            finally:
                if handle is not None:
                    handle.cancel()
            if connection.reusable and not connection.closed:
                pool.idle.append(connection)
            elif not connection.closed:
                connection.abort()
            return response
        finally:
            self._release(pool)

    async def aclose(self) -> None:
        """Close every idle connection; later sends raise ``RuntimeError``."""
        self._closed = True
        for pool in self._pools.values():
            for connection in pool.idle:
                connection.abort()
            pool.idle.clear()


def _expire(connection: _Connection, waiter: asyncio.Future[HttpResponse]) -> None:
    if not waiter.done():
        waiter.set_exception(TransportError("timed out waiting for the response",
                                            request_sent=True, timeout=True))
        connection.abort()
