"""The default async transport: HTTP/1.1 on ``asyncio.Protocol``, standard library only.

:class:`AsyncioTransport` implements :class:`ratatosk._http.AsyncTransport` with what a REST API
client needs and nothing else: HTTP/1.1 keep-alive connections pooled per (scheme, host, port)
with a connection limit and idle expiry, TLS through :mod:`ssl` (verifying, with certifi's CA
bundle when it is installed), request bodies with ``Content-Length``, responses framed by
``Content-Length``, ``Transfer-Encoding: chunked`` or the connection's close, gzip/deflate bodies
decoded. No proxies, redirects, cookies or HTTP/2: a connector follows no redirects and keeps no
cookies, and when proxy environment variables are set the connector routes proxied hosts through
httpx instead (:func:`default_async_transport`).

Why not httpx's ``AsyncClient``: its connection pool rescans every connection on every request
event, so it degrades as concurrency rises (under 300 requests/s at 64 in flight on 2 cores);
this transport costs a fifth of aiohttp's per-request work (see ``docs/performance.md``).

The request preparation (:func:`prepare`), the response parser and the proxy rules here are
shared with the blocking twin, :class:`ratatosk._synchttp.StdlibSyncTransport`.

Failures raise :class:`~ratatosk._http.TransportError`; ``request_sent`` is false only when the
request certainly never left: an invalid URL or header, DNS failure, connection refused, connect
or TLS handshake timeout or failure, no free connection before the timeout. A pooled keep-alive
connection found closed before writing is replaced by a fresh one transparently. A reused
connection that the server closes before answering is retried once on a fresh connection for an
idempotent request only; for any other request it is ``request_sent=True`` (the server may have
acted on it), as are a read timeout (``timeout=True``) and a connection dropped after writing.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import os
import ssl as _ssl
import zlib
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from attrs import define, field

from ._http import AsyncTransport, HttpRequest, HttpResponse, TransportError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["MAX_RESPONSE_SIZE", "AsyncioTransport", "default_async_transport", "proxied"]

MAX_RESPONSE_SIZE = 10 * 2**20
"""The default cap on a response body (10 MiB): a larger one is a :class:`TransportError`."""

_MAX_HEAD = 64 * 1024  # status line + headers
_MAX_CHUNK_LINE = 4096  # a chunk-size line or a trailer line
_CACHE_LIMIT = 256  # prepared request heads remembered; a connector uses a handful
_NO_BODY_STATUS = frozenset({204, 304})
_LENGTH_METHODS = frozenset({"POST", "PUT", "PATCH"})  # send Content-Length: 0 when empty
_OWN_HEADERS = frozenset({"content-length", "transfer-encoding"})  # computed, never passed on
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SAFE_TARGET = "!#$%&'()*+,/:;=?@[]~"

# response framing
_HEAD, _NONE, _LENGTH, _CHUNKED, _CLOSE = range(5)
# chunked-body parser states
_SIZE, _DATA, _DATA_END, _TRAILER = range(4)

Key = tuple[str, str, int]  # scheme, host, port


class _ProtocolError(Exception):
    """The server's bytes are not a valid HTTP/1.x response."""


class _NoAnswer(TransportError):
    """The connection closed after the request was written and before any byte of an answer."""


def _user_agent() -> str:
    from . import __version__

    return f"ratatosk/{__version__}"


# -- parsing a response ----------------------------------------------------------------------------
@define(slots=True, eq=False, repr=False)
class _Parser:
    """An incremental HTTP/1.x response parser (push bytes in, get the body out), shared by the
    async and the blocking transport. ``reusable`` says whether the connection is still in step
    for another request (keep-alive, nothing extra received)."""

    max_size: int
    head_only: bool = False  # the request was a HEAD: the answer has no body
    reusable: bool = True
    framing: int = _HEAD
    buffer: bytes = b""
    status: int = 0
    headers: dict[str, str] = field(factory=dict)
    remaining: int = 0  # _LENGTH: bytes still expected; _CHUNKED: bytes left in this chunk
    size: int = 0  # body bytes so far
    parts: list[bytes] = field(factory=list)
    chunked: bytearray = field(factory=bytearray)
    chunk_state: int = _SIZE

    def eof(self) -> bytes | None:
        """The connection closed: the body when the close ends it, else None (incomplete)."""
        self.reusable = False
        if self.framing == _CLOSE:
            return b"".join(self.parts)
        return None

    def response(self, body: bytes) -> HttpResponse:
        """The complete response (a gzip/deflate body decoded); the parser is ready for the
        next one. Raises :class:`_ProtocolError` for an undecodable body."""
        status, headers = self.status, self.headers
        self._reset()
        encoding = headers.get("content-encoding")
        if encoding is not None and body:
            body = _decode(body, encoding.strip().lower(), self.max_size)
        return HttpResponse(status, headers, body)

    def _reset(self) -> None:
        self.framing = _HEAD
        self.size = 0
        if self.parts:
            self.parts = []
        if self.chunked:
            self.chunked = bytearray()
        self.chunk_state = _SIZE

    def _too_large(self) -> _ProtocolError:
        self.reusable = False
        return _ProtocolError(f"the response body is larger than {self.max_size} bytes")

    def feed(self, data: bytes) -> bytes | None:
        """Take in bytes; the body once the response is complete, else None."""
        if self.framing == _HEAD:
            buffer = self.buffer + data if self.buffer else data
            while True:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > _MAX_HEAD:
                        raise _ProtocolError("the response head is too large")
                    self.buffer = buffer
                    return None
                final = self._head(buffer[:end])
                buffer = buffer[end + 4:]
                if final:
                    break
            self.buffer = b""
            data = buffer
        framing = self.framing
        if framing == _LENGTH:
            remaining = self.remaining
            if not self.parts and len(data) >= remaining:  # the usual case: all in one read
                if len(data) > remaining:
                    self.reusable = False  # more than one answer: out of step
                return data[:remaining] if len(data) > remaining else data
            if len(data) >= remaining:
                if len(data) > remaining:
                    self.reusable = False
                self.parts.append(data[:remaining])
                return b"".join(self.parts)
            if data:
                self.parts.append(data)
                self.remaining = remaining - len(data)
            return None
        if framing == _NONE:
            if data:
                self.reusable = False
            return b""
        if framing == _CHUNKED:
            return self._feed_chunked(data)
        # _CLOSE: everything until the connection closes
        if data:
            self.size += len(data)
            if self.size > self.max_size:
                raise self._too_large()
            self.parts.append(data)
        return None

    def _head(self, raw: bytes) -> bool:
        """Parse a status line and headers; False for an interim (1xx) response."""
        first, _, rest = raw.decode("latin-1").partition("\r\n")
        version = first[:8]
        code = first[9:12]
        if (version[:7] != "HTTP/1." or first[8:9] != " " or not code.isdigit()
                or not code.isascii() or first[12:13] not in ("", " ")):
            raise _ProtocolError(f"not an HTTP/1.x status line: {first[:40]!r}")
        status = int(code)
        if status < 200:
            if status == 101:
                raise _ProtocolError("unexpected 101 Switching Protocols")
            return False  # 100 Continue, 103 Early Hints, ...: the real answer follows
        headers: dict[str, str] = {}
        if rest:
            last = ""
            for line in rest.split("\r\n"):
                name, colon, value = line.partition(":")
                if not colon or not name or name[0] in " \t" or name[-1] in " \t":
                    if line[:1] in (" ", "\t") and last:  # obsolete line folding
                        headers[last] = f"{headers[last]} {line.strip()}"
                        continue
                    raise _ProtocolError("malformed header line")
                last = name = name.lower()
                if name in headers:
                    headers[name] = f"{headers[name]}, {value.strip()}"
                else:
                    headers[name] = value.strip()
        self.status, self.headers = status, headers
        connection = headers.get("connection")
        if connection is not None:
            connection = connection.lower()
            if "close" in connection:
                self.reusable = False
        if version == "HTTP/1.0" and (connection is None or "keep-alive" not in connection):
            self.reusable = False
        transfer = headers.get("transfer-encoding")
        if self.head_only or status in _NO_BODY_STATUS:
            self.framing = _NONE
        elif transfer is not None:
            if transfer.lower().rpartition(",")[2].strip() == "chunked":
                self.framing = _CHUNKED
                if "content-length" in headers:  # both: the length is ignored (RFC 9112 6.3)
                    self.reusable = False
            else:
                self.framing = _CLOSE
                self.reusable = False
        elif "content-length" in headers:
            self.framing = _LENGTH
            self.remaining = _content_length(headers["content-length"])
            if self.remaining > self.max_size:
                raise self._too_large()
        else:
            self.framing = _CLOSE
            self.reusable = False
        return True

    def _feed_chunked(self, data: bytes) -> bytes | None:
        buffer = self.chunked
        buffer += data
        while True:
            state = self.chunk_state
            if state == _DATA:
                if not buffer:
                    return None
                take = min(self.remaining, len(buffer))
                self.parts.append(bytes(buffer[:take]))
                del buffer[:take]
                self.remaining -= take
                if self.remaining:
                    return None
                self.chunk_state = _DATA_END
            elif state == _DATA_END:
                if len(buffer) < 2:
                    return None
                if buffer[:2] != b"\r\n":
                    raise _ProtocolError("a chunk is not followed by CRLF")
                del buffer[:2]
                self.chunk_state = _SIZE
            else:  # _SIZE or _TRAILER: a line
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > _MAX_CHUNK_LINE:
                        raise _ProtocolError("a chunk-size or trailer line is too long")
                    return None
                line = bytes(buffer[:end])
                del buffer[:end + 2]
                if state == _TRAILER:
                    if not line:  # the end of the body
                        if buffer:
                            self.reusable = False
                        return b"".join(self.parts)
                    continue  # trailer fields are dropped
                size_text = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16) if size_text.isalnum() else -1
                except ValueError:
                    size = -1
                if size < 0:
                    raise _ProtocolError(f"invalid chunk size {size_text[:20]!r}")
                if size == 0:
                    self.chunk_state = _TRAILER
                    continue
                self.size += size
                if self.size > self.max_size:
                    raise self._too_large()
                self.remaining = size
                self.chunk_state = _DATA




# -- one connection --------------------------------------------------------------------------------
@define(slots=True, eq=False, repr=False)
class _Connection(asyncio.Protocol):
    """One keep-alive connection and its response parser; at most one request at a time."""

    registry: set[_Connection]
    parser: _Parser
    transport: asyncio.Transport | None = None
    waiter: asyncio.Future[HttpResponse] | None = None
    closed: bool = False  # closing or closed: never to be used again
    lost: bool = False  # connection_lost has run
    received: bool = False  # any byte of the current answer arrived
    idle_since: float = 0.0
    lost_waiter: asyncio.Future[None] | None = None

    @property
    def reusable(self) -> bool:
        return self.parser.reusable and not self.closed

    # -- asyncio callbacks ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.registry.add(self)

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():  # unsolicited bytes: out of step, never reuse
            self.abort()
            return
        self.received = True
        try:
            body = self.parser.feed(data)
            if body is None:
                return
            response = self.parser.response(body)
        except (_ProtocolError, ValueError, UnicodeError) as exc:
            self.fail(TransportError(f"invalid HTTP response: {exc}", request_sent=True))
            self.abort()
            return
        self.waiter = None
        waiter.set_result(response)

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
        body = self.parser.eof() if exc is None else None
        if body is not None:  # the close ends the body
            try:
                response = self.parser.response(body)
            except _ProtocolError as error:
                self.fail(TransportError(f"invalid HTTP response: {error}", request_sent=True))
                return
            self.waiter = None
            waiter.set_result(response)
            return
        self.fail(_lost(exc, self.received))

    # -- request / response --------------------------------------------------------------------
    def start(self, payload: bytes, head_only: bool,
              loop: asyncio.AbstractEventLoop) -> asyncio.Future[HttpResponse]:
        """Write a request; the future resolves with its response (or a TransportError)."""
        assert self.transport is not None
        self.waiter = waiter = loop.create_future()
        self.parser.head_only = head_only
        self.received = False
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


def _after_retry(error: TransportError, retrying: bool = True) -> TransportError:
    """``error`` as the outcome of a retry: the first attempt was written, so the request may
    have reached the server even when the retry itself never left."""
    if not retrying or error.request_sent:
        return error
    return TransportError(f"{error} (retrying; the first attempt may have reached the server)",
                          request_sent=True, timeout=error.timeout)


def _lost(exc: BaseException | None, received: bool) -> TransportError:
    """The error for a connection lost while waiting for an answer (a :class:`_NoAnswer` when
    no byte of it arrived)."""
    reason = f"{type(exc).__name__}: {exc}" if exc else "the server closed the connection"
    if not received:
        return _NoAnswer(f"{reason} before answering", request_sent=True)
    return TransportError(f"{reason} in the middle of the response", request_sent=True)


def _content_length(value: str) -> int:
    if value.isdigit() and value.isascii():
        return int(value)
    values = {v.strip() for v in value.split(",")}  # repeated headers were joined with ", "
    if len(values) != 1:
        raise _ProtocolError("conflicting Content-Length values")
    [text] = values
    if not (text.isdigit() and text.isascii()):
        raise _ProtocolError(f"invalid Content-Length {text[:20]!r}")
    return int(text)


def _decode(body: bytes, encoding: str, limit: int) -> bytes:
    """A gzip/deflate body decoded (within ``limit``); any other coding is left as it is."""
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS
    else:
        return body
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(body, limit + 1)
    except zlib.error as exc:
        raise _ProtocolError(f"cannot decode the {encoding} body: {exc}") from None
    if len(out) > limit:
        raise _ProtocolError(f"the decoded response body is larger than {limit} bytes")
    return out


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


@define(slots=True, frozen=True)
class _Prepared:
    """What a request needs on the wire, computed once per (method, URL, headers)."""

    key: Key
    head: bytes  # request line and headers, without Content-Length and the blank line
    with_length: bool  # Content-Length even for an empty body
    head_only: bool  # a HEAD request: the answer has no body
    keep_alive: bool  # the caller did not ask for Connection: close

    def payload(self, content: bytes) -> bytes:
        """The request on the wire: head, Content-Length (when needed), blank line, body."""
        if content or self.with_length:
            return b"%sContent-Length: %d\r\n\r\n%s" % (self.head, len(content), content)
        return self.head + b"\r\n"


_default_context: _ssl.SSLContext | None = None


def _default_ssl_context() -> _ssl.SSLContext:
    """A verifying client context with certifi's CA bundle when installed (else the system's)."""
    global _default_context
    if _default_context is None:
        try:
            import certifi
        except ImportError:  # pragma: no cover - httpx depends on certifi
            cafile = None
        else:
            cafile = certifi.where()
        context = _ssl.create_default_context(cafile=cafile)
        context.set_alpn_protocols(["http/1.1"])
        _default_context = context
    return _default_context


@define(slots=True, eq=False)
class AsyncioTransport:
    """The default async transport: HTTP/1.1 keep-alive on asyncio, standard library only.

    ``max_connections``: connections open at once to each (scheme, host, port); further requests
    wait for a free one (within their timeout). Size it at or above the highest ``send_batch``
    concurrency you use. ``keepalive_expiry``: seconds an idle connection is kept. ``ssl``: the
    context for ``https`` (default: verifying, with certifi's CA bundle when installed).
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
    _prepared: dict[tuple[str, str, tuple[tuple[str, str], ...]], _Prepared] = field(
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
        self._factory = lambda: _Connection(self._open, _Parser(self.max_response_size))

    # -- sending -------------------------------------------------------------------------------
    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        """Send ``request`` and read the whole response; failures raise :class:`TransportError`."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        prepared = self._prepared.get((request.method, request.url, request.headers))
        if prepared is None:
            prepared = self._prepare(request)
        payload = prepared.payload(request.content)
        deadline = None if timeout is None else loop.time() + timeout
        pool = self._pools.get(prepared.key)
        if pool is None:
            pool = self._pools[prepared.key] = _Pool(self.max_connections)
        if pool.active < pool.limit and not pool.waiters:
            pool.active += 1
        else:
            await self._wait_for_slot(pool, loop, deadline)
        try:
            return await self._exchange(pool, prepared, payload, request, loop, deadline)
        finally:
            self._release(pool)

    async def _exchange(self, pool: _Pool, prepared: _Prepared, payload: bytes,
                        request: HttpRequest, loop: asyncio.AbstractEventLoop,
                        deadline: float | None) -> HttpResponse:
        fresh = False  # True: the retry of an idempotent request, on a new connection
        while True:
            connection = None if fresh else self._idle(pool, loop.time())
            reused = connection is not None
            if connection is None:
                try:
                    connection = await self._connect(prepared.key, loop, deadline)
                except TransportError as exc:
                    raise _after_retry(exc, fresh) from exc.__cause__
                if connection.closed:  # the server hung up at once: nothing was written
                    connection.abort()
                    raise _after_retry(TransportError(
                        "the server closed the new connection at once", request_sent=False),
                        fresh)
            waiter = connection.start(payload, prepared.head_only, loop)
            handle = None if deadline is None else loop.call_at(deadline, _expire, connection,
                                                                waiter)
            try:
                response = await waiter
            except _NoAnswer as exc:
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
            transport = connection.transport
            if connection.closed or transport is None or transport.is_closing():
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
            context = self.ssl or _default_ssl_context()
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
    def _prepare(self, request: HttpRequest) -> _Prepared:
        prepared = prepare(request)
        if len(self._prepared) >= _CACHE_LIMIT:
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
        lost: list[asyncio.Future[None]] = []
        for connection in list(self._open):
            connection.fail(TransportError("the transport was closed during the request",
                                           request_sent=True))
            if usable and not connection.lost:
                connection.lost_waiter = running.create_future()
                lost.append(connection.lost_waiter)
            with contextlib.suppress(RuntimeError):  # a closed loop: nothing left to close
                connection.abort()
        if lost:  # the sockets close in connection_lost, on the next turn of the loop
            await asyncio.wait(lost, timeout=5.0)


def prepare(request: HttpRequest) -> _Prepared:
    """Validate a request's method, URL and headers and build its head (callers cache it).

    Raises :class:`TransportError` (``request_sent=False``) for what cannot be sent: a scheme
    other than http/https, no host, a bad port, a method or header name that is not a token,
    CR/LF/NUL in a header value, a header that is not Latin-1."""
    method = request.method.upper()
    if not method or not set(method) <= _TOKEN:
        raise TransportError(f"invalid HTTP method {request.method[:20]!r}",
                             request_sent=False)
    try:
        parts = urlsplit(request.url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise TransportError(f"invalid URL: {exc}", request_sent=False) from None
    if scheme not in ("http", "https") or not host:
        raise TransportError(f"unsupported URL {_url_for_message(request.url)!r} (http or "
                             "https with a host)", request_sent=False)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    if not target.isascii() or any(c <= " " or c == "\x7f" for c in target):
        target = quote(target, safe=_SAFE_TARGET)
    userinfo, _, netloc = parts.netloc.rpartition("@")
    names = {name.lower() for name, _ in request.headers}
    lines = [f"{method} {target} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {netloc}")
    keep_alive = True
    for name, value in request.headers:
        lowered = name.lower()
        if not name or not set(name) <= _TOKEN:
            raise TransportError(f"invalid header name {name[:40]!r}", request_sent=False)
        if "\r" in value or "\n" in value or "\0" in value:
            raise TransportError(f"invalid value for header {name!r}", request_sent=False)
        if lowered in _OWN_HEADERS:
            continue
        if lowered == "connection" and "close" in value.lower():
            keep_alive = False
        lines.append(f"{name}: {value}")
    if userinfo and "authorization" not in names:
        user, _, password = userinfo.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        lines.append(f"Authorization: Basic {token}")
    if "user-agent" not in names:
        lines.append(f"User-Agent: {_user_agent()}")
    try:
        head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise TransportError("a header is not Latin-1 text", request_sent=False) from None
    return _Prepared((scheme, host, port), head, method in _LENGTH_METHODS,
                     method == "HEAD", keep_alive)


def _url_for_message(url: str) -> str:
    """A URL without its userinfo (no credentials in error messages)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url[:80]
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"[:200]


# -- proxies ---------------------------------------------------------------------------------------
def _env_proxies(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{scheme: proxy URL, "no": NO_PROXY}`` from ``*_proxy`` variables (lower case wins),
    as :func:`urllib.request.getproxies_environment` reads them."""
    if environ is None:
        environ = os.environ
    proxies: dict[str, str] = {}
    for name, value in environ.items():  # any case first, then lower case overrides
        if value and name.lower().endswith("_proxy"):
            proxies[name.lower()[:-6]] = value
    for name, value in environ.items():
        if name.islower() and name.endswith("_proxy"):
            if value:
                proxies[name[:-6]] = value
            else:
                proxies.pop(name[:-6], None)
    if "REQUEST_METHOD" in environ:  # CGI: HTTP_PROXY is a request header (httpoxy)
        proxies.pop("http", None)
    return proxies


def proxied(url: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the proxy environment variables send ``url`` through a proxy.

    True when ``HTTP_PROXY`` / ``HTTPS_PROXY`` (for the URL's scheme) or ``ALL_PROXY`` is set,
    in upper or lower case, and ``NO_PROXY`` does not exclude the URL's host (the standard
    library's matching, as requests applies it). ``environ``: default ``os.environ``.
    """
    proxies = _env_proxies(environ)
    if not proxies:
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if not (proxies.get(scheme) or proxies.get("all")):
        return False
    target = host if port is None else f"{host}:{port}"
    import urllib.request

    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return not bypass(target, proxies)


@define(slots=True, eq=False)
class _ProxyRouter:
    """Direct (:class:`AsyncioTransport`) to hosts no proxy applies to, through httpx (which
    reads the proxy variables itself) to the others; decided once per scheme and host."""

    direct: AsyncTransport
    make_proxied: Callable[[], AsyncTransport]
    environ: Mapping[str, str] | None = None
    _proxied: AsyncTransport | None = field(init=False, default=None)
    _routes: dict[str, bool] = field(init=False, factory=dict)

    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        url = request.url
        scheme, _, rest = url.partition("://")
        origin = f"{scheme}://{rest.split('/', 1)[0]}"
        route = self._routes.get(origin)
        if route is None:
            if len(self._routes) >= _CACHE_LIMIT:
                self._routes.clear()
            route = self._routes[origin] = proxied(url, self.environ)
        if not route:
            return await self.direct.send(request, timeout=timeout)
        if self._proxied is None:
            self._proxied = self.make_proxied()
        return await self._proxied.send(request, timeout=timeout)

    async def aclose(self) -> None:
        try:
            await self.direct.aclose()
        finally:
            if self._proxied is not None:
                await self._proxied.aclose()


def default_async_transport(environ: Mapping[str, str] | None = None) -> AsyncTransport:
    """The async transport a connector creates when it is given none.

    An :class:`AsyncioTransport`; when proxy environment variables are set (``environ``,
    default ``os.environ``), requests to the hosts they apply to go through
    :class:`~ratatosk.HttpxAsyncTransport` instead, which supports proxies.
    """
    if not _env_proxies(environ):
        return AsyncioTransport()

    def through_httpx() -> AsyncTransport:
        from ._http import HttpxAsyncTransport

        return HttpxAsyncTransport()

    return _ProxyRouter(AsyncioTransport(), through_httpx, environ)
