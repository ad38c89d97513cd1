"""A minimal asyncio HTTP/1.1 server: request line, headers, Content-Length bodies, keep-alive.

Just what the sandbox needs, kept small so that a create costs little besides the API's own work.
Chunked request bodies are not supported (411); malformed requests get a plain-text 4xx answer and
the connection is closed. Requests on one connection are answered in order: while a handler's
answer is pending (an awaitable), further pipelined requests wait in the buffer.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

__all__ = ["HttpServer", "Request", "Response"]

_log = logging.getLogger("ratatosk_twilio.sandbox")

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
# While an answer is pending, stop reading once this much is buffered.
_HIGH_WATER = 1024 * 1024

_REASONS = {s.value: s.phrase for s in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Request:
    """One parsed request. ``headers`` has lower-case names."""

    __slots__ = ("body", "headers", "method", "path", "query", "target", "version")

    def __init__(
        self, method: str, target: str, version: str, headers: dict[str, str], body: bytes
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        path, _, query = target.partition("?")
        self.path = path
        self.query = query


class Response:
    __slots__ = ("body", "close", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "application/json",
        headers: tuple[tuple[str, str], ...] = (),
        *,
        close: bool = False,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers
        self.close = close


Handler = Callable[[Request], "Response | Awaitable[Response]"]


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _encode(response: Response, keep_alive: bool) -> bytes:
    status = response.status
    parts = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
    if response.content_type is not None:
        parts.append(f"Content-Type: {response.content_type}\r\n")
    for name, value in response.headers:
        parts.append(f"{name}: {value}\r\n")
    if status != 204 and status >= 200:
        parts.append(f"Content-Length: {len(response.body)}\r\n")
    if not keep_alive:
        parts.append("Connection: close\r\n")
    parts.append("\r\n")
    head = "".join(parts).encode("latin-1")
    return head + response.body if status != 204 else head


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise _BadRequest(400, "malformed request line")
    method, target, version = parts
    if not method.isalpha() or not method.isupper():
        raise _BadRequest(400, "malformed method")
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        if version.startswith("HTTP/"):
            raise _BadRequest(505, "HTTP version not supported")
        raise _BadRequest(400, "malformed request line")
    if not target.startswith("/"):
        raise _BadRequest(400, "request target must be an absolute path")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t" or line[0] in " \t":
            raise _BadRequest(400, "malformed header line")
        key = name.lower()
        value = value.strip(" \t")
        old = headers.get(key)
        if old is None:
            headers[key] = value
        elif key == "content-length":
            if old != value:
                raise _BadRequest(400, "conflicting Content-Length headers")
        else:
            headers[key] = f"{old}, {value}"
    return method, target, version, headers


class _Connection(asyncio.Protocol):
    __slots__ = (
        "_buf",
        "_busy",
        "_closed",
        "_eof",
        "_head_scan",
        "_paused",
        "_pending",
        "_server",
        "_transport",
    )

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._busy = False
        self._closed = False
        self._paused = False
        self._eof = False
        self._head_scan = 0
        # A request whose head is parsed but whose body has not fully arrived.
        self._pending: tuple[str, str, str, dict[str, str], int] | None = None

    # asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server._connections.add(self)
        if self._server._closing:  # accepted while the server shuts down
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._server._connections.discard(self)
        self._transport = None
        self._buf.clear()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._busy:
            if len(self._buf) > _HIGH_WATER and not self._paused and self._transport is not None:
                self._paused = True
                self._transport.pause_reading()
            return
        self._process()

    def eof_received(self) -> bool | None:
        if self._busy:  # the client half-closed: keep the socket to send the pending answer
            self._eof = True
            return True
        return None

    # internals --------------------------------------------------------------------------------

    def close(self) -> None:
        if self._transport is not None and not self._closed:
            self._closed = True
            self._transport.close()

    def _fail(self, status: int, reason: str) -> None:
        transport = self._transport
        if transport is None or self._closed:
            return
        body = f"{status} {_REASONS.get(status, 'Error')}: {reason}\n".encode()
        transport.write(_encode(Response(status, body, "text/plain; charset=utf-8"), False))
        self.close()

    def _process(self) -> None:
        buf = self._buf
        while not self._busy and not self._closed:
            if self._pending is None:
                # Skip empty lines before a request line (RFC 9112, 2.2).
                while buf[:2] == b"\r\n":
                    del buf[:2]
                end = buf.find(b"\r\n\r\n", self._head_scan)
                if end < 0:
                    if len(buf) > MAX_HEAD:
                        self._fail(431, "request head too large")
                    else:
                        self._head_scan = max(0, len(buf) - 3)
                    return
                self._head_scan = 0
                if end > MAX_HEAD:
                    self._fail(431, "request head too large")
                    return
                head = bytes(buf[:end])
                del buf[: end + 4]
                try:
                    method, target, version, headers = _parse_head(head)
                except _BadRequest as exc:
                    self._fail(exc.status, exc.reason)
                    return
                if "transfer-encoding" in headers:
                    self._fail(411, "chunked request bodies are not supported; send Content-Length")
                    return
                length_text = headers.get("content-length", "0")
                if not length_text.isdigit() or not length_text.isascii():
                    self._fail(400, "invalid Content-Length")
                    return
                length = int(length_text)
                if length > MAX_BODY:
                    self._fail(413, "request body too large")
                    return
                self._pending = (method, target, version, headers, length)
                if (
                    len(buf) < length
                    and headers.get("expect", "").lower() == "100-continue"
                    and self._transport is not None
                ):
                    self._transport.write(_CONTINUE)
            method, target, version, headers, length = self._pending
            if len(buf) < length:
                return
            body = bytes(buf[:length])
            del buf[:length]
            self._pending = None
            self._dispatch(Request(method, target, version, headers, body))

    def _keep_alive(self, request: Request) -> bool:
        connection = request.headers.get("connection", "").lower()
        if request.version == "HTTP/1.1":
            return "close" not in connection
        return "keep-alive" in connection

    def _dispatch(self, request: Request) -> None:
        try:
            result = self._server._handler(request)
        except Exception:
            _log.exception("sandbox handler failed")
            result = Response(500, b"500 Internal Server Error\n", "text/plain; charset=utf-8")
        if isinstance(result, Response):
            self._write(request, result)
            return
        self._busy = True
        task = asyncio.ensure_future(result)
        self._server._tasks.add(task)
        task.add_done_callback(lambda t: self._finish(request, t))

    def _finish(self, request: Request, task: asyncio.Future[Response]) -> None:
        self._server._tasks.discard(task)
        self._busy = False
        if task.cancelled():
            self.close()
            return
        exc = task.exception()
        if exc is not None:
            _log.error("sandbox handler failed", exc_info=exc)
            response = Response(500, b"500 Internal Server Error\n", "text/plain; charset=utf-8")
        else:
            response = task.result()
        self._write(request, response)
        if self._eof:
            self.close()
            return
        if self._paused and self._transport is not None and not self._closed:
            self._paused = False
            self._transport.resume_reading()
        if self._buf and not self._closed:
            self._process()

    def _write(self, request: Request, response: Response) -> None:
        transport = self._transport
        if transport is None or self._closed:
            return
        keep_alive = not response.close and self._keep_alive(request)
        transport.write(_encode(response, keep_alive))
        if not keep_alive:
            self.close()


class HttpServer:
    """Serves ``handler`` on a TCP socket of the running loop.

    It accepts connections itself rather than through ``loop.create_server``: asyncio's Server
    (3.10/3.11) leaks the transport of a connection accepted just before ``Server.close()``,
    and a sandbox stops and starts often in tests.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._sock: socket.socket | None = None
        self._closing = False
        self._connections: set[_Connection] = set()
        self._accepting: set[asyncio.Future[Any]] = set()
        self._tasks: set[asyncio.Future[Response]] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(1024)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        loop.add_reader(sock.fileno(), self._accept, loop, sock)
        sockname = sock.getsockname()
        return str(sockname[0]), int(sockname[1])

    def _accept(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        for _ in range(128):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. aborted before accept, or out of descriptors
                _log.warning("sandbox could not accept a connection", exc_info=True)
                return
            conn.setblocking(False)
            future = asyncio.ensure_future(
                loop.connect_accepted_socket(lambda: _Connection(self), conn)
            )
            self._accepting.add(future)
            future.add_done_callback(self._accepted)

    def _accepted(self, future: asyncio.Future[Any]) -> None:
        self._accepting.discard(future)
        if not future.cancelled() and future.exception() is not None:
            _log.debug("sandbox connection setup failed", exc_info=future.exception())

    async def close(self) -> None:
        """Stop listening, drop every connection and wait until their sockets are closed."""
        self._closing = True
        sock, self._sock = self._sock, None
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()
        if self._accepting:  # their connection_made closes them (see _closing)
            await asyncio.gather(*list(self._accepting), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._connections):
            conn.close()
        for _ in range(1000):
            if not self._connections:
                break
            await asyncio.sleep(0.001)
