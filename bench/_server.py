"""A minimal loopback HTTP/1.1 server answering Twilio-shaped 201s, as fast as asyncio allows.

Not the sandbox: it keeps no state and checks nothing beyond what a benchmark needs, so the server
is never the bottleneck. It answers

* ``POST .../Accounts/{AccountSid}/Messages.json`` with an ``Authorization`` header: **201** and a
  Twilio-shaped Message resource (a fresh ``SM...`` sid per request);
* the same without ``Authorization``: **401** (Twilio error 20003);
* anything else: **404** (Twilio error 20404).

Keep-alive, pipelining and requests split across reads are handled; bodies are read by
``Content-Length`` (chunked request bodies are refused with 400 and the connection is closed, no
client measured here sends them).

Run it in its own process so it does not share the GIL with the client under test::

    python bench/_server.py [--port 0] [--workers 1]

It prints ``LISTENING <port>`` on stdout once it accepts connections, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
import sys

_MESSAGE_TEMPLATE = (
    '{{"account_sid": "{account}", "api_version": "2010-04-01", '
    '"body": "Hello from the benchmark", "date_created": "Thu, 01 Jan 2026 00:00:00 +0000", '
    '"date_sent": null, "date_updated": "Thu, 01 Jan 2026 00:00:00 +0000", '
    '"direction": "outbound-api", "error_code": null, "error_message": null, '
    '"from": "+15005550006", "messaging_service_sid": null, "num_media": "0", '
    '"num_segments": "1", "price": null, "price_unit": "USD", "sid": "{sid}", '
    '"status": "queued", "subresource_uris": {{"media": '
    '"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"}}, '
    '"to": "+15558675310", "uri": "/2010-04-01/Accounts/{account}/Messages/{sid}.json"}}'
)
_ERROR_TEMPLATE = (
    '{{"code": {code}, "message": "{message}", '
    '"more_info": "https://www.twilio.com/docs/errors/{code}", "status": {status}}}'
)
_REASONS = {201: b"Created", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found"}


def _response(status: int, body: bytes, *, close: bool = False) -> bytes:
    head = (
        b"HTTP/1.1 %d %s\r\n"
        b"Content-Type: application/json; charset=utf-8\r\n"
        b"Content-Length: %d\r\n"
        b"Twilio-Request-Id: RQ00000000000000000000000000000000\r\n"
        b"Connection: %s\r\n\r\n"
        % (status, _REASONS[status], len(body), b"close" if close else b"keep-alive")
    )
    return head + body


def _error(status: int, code: int, message: str, *, close: bool = False) -> bytes:
    body = _ERROR_TEMPLATE.format(code=code, message=message, status=status).encode()
    return _response(status, body, close=close)


_NOT_FOUND = _error(404, 20404, "The requested resource was not found")
_UNAUTHORIZED = _error(401, 20003, "Authenticate")
_BAD_REQUEST = _error(400, 20001, "Unsupported request framing", close=True)
_SIDS = itertools.count(1)


def _created(path: bytes) -> bytes:
    start = path.find(b"/Accounts/")
    end = path.find(b"/", start + 10) if start >= 0 else -1
    account = path[start + 10 : end].decode("latin-1") if end > 0 else "AC"
    sid = f"SM{next(_SIDS):032x}"
    return _response(201, _MESSAGE_TEMPLATE.format(account=account, sid=sid).encode())


class _HttpProtocol(asyncio.Protocol):
    """One connection: parse as many complete requests as arrived, answer them in one write."""

    __slots__ = ("_buffer", "_transport")

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        out: list[bytes] = []
        close = False
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end].lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                eol = head.find(b"\r\n", at + 17)
                length = int(head[at + 17 : eol if eol >= 0 else len(head)])
            if b"\r\ntransfer-encoding:" in head:
                out.append(_BAD_REQUEST)
                close = True
                buffer = b""
                break
            total = end + 4 + length
            if len(buffer) < total:
                break
            line_end = head.find(b"\r\n")
            request_line = buffer[: line_end if line_end >= 0 else end]
            buffer = buffer[total:]
            method, _, rest = request_line.partition(b" ")
            path = rest.rpartition(b" ")[0]
            if method == b"POST" and path.endswith(b"/Messages.json"):
                out.append(_created(path) if b"\r\nauthorization:" in head else _UNAUTHORIZED)
            else:
                out.append(_NOT_FOUND)
            if b"\r\nconnection: close" in head:
                close = True
                buffer = b""
                break
        self._buffer = buffer
        if out and self._transport is not None:
            self._transport.write(b"".join(out) if len(out) > 1 else out[0])
            if close:
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


async def _serve(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_HttpProtocol, sock=sock, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def _listen(port: int, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _raise_file_limit() -> None:
    """Allow as many open connections as the hard limit does (every sweep keeps hundreds)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ImportError, OSError, ValueError):  # not POSIX, or not allowed: keep the limit
        pass


def main(argv: list[str] | None = None) -> int:
    _raise_file_limit()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes sharing the port (SO_REUSEPORT); default 1")
    args = parser.parse_args(argv)
    workers = max(1, args.workers)
    sock = _listen(args.port, reuse_port=workers > 1)
    port = sock.getsockname()[1]
    children: list[int] = []
    for _ in range(workers - 1):
        pid = os.fork()
        if pid == 0:  # a worker: its own socket on the same port, its own loop
            sock.close()
            asyncio.run(_serve(_listen(port, reuse_port=True)))
            os._exit(0)
        children.append(pid)
    print(f"LISTENING {port}", flush=True)
    try:
        asyncio.run(_serve(sock))
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
