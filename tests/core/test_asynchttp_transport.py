"""The default transports against real loopback servers on 127.0.0.1: AsyncioTransport (async)
and StdlibSyncTransport (blocking; driven from these async tests through a thread).

Every server here is an asyncio server started by the test, answering with the framing, timing
or failure the test needs: Content-Length, chunked and close-delimited bodies, slow and hanging
answers, abrupt closes, keep-alive followed by a close, huge bodies, TLS. The TLS certificate is
a self-signed one for 127.0.0.1/localhost (valid 2000-2100) made for these tests with the
``openssl`` CLI (``openssl ca -selfsign -startdate 20000101000000Z ...``) and embedded below, so
the tests need neither ``openssl`` nor ``cryptography`` at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import socket
import ssl
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ratatosk import (
    AsyncioTransport,
    AsyncTransport,
    ConnectionSettings,
    HttpRequest,
    HttpResponse,
    HttpxAsyncTransport,
    HttpxSyncTransport,
    MessageBuilder,
    MessageStatus,
    StdlibSyncTransport,
    SyncTransport,
    TransportError,
)
from ratatosk.transports._asyncio import (
    MAX_RESPONSE_SIZE,
    _ProxyRouter,
    default_async_transport,
    proxied,
)
from ratatosk.transports._stdlib import _SyncProxyRouter, default_sync_transport

CERT = """-----BEGIN CERTIFICATE-----
MIIBrzCCAVWgAwIBAgIBATAKBggqhkjOPQQDAjAUMRIwEAYDVQQDDAlsb2NhbGhv
c3QwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBQxEjAQBgNVBAMM
CWxvY2FsaG9zdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABN3bd9l6FJFxxxyf
hu2LH9nIu2xBIhD+PkcxoMKEapX6HDiUBRuFBhPlvSLoNF8wnrhE506r+scfElbf
mQPTaGWjgZUwgZIwGgYDVR0RBBMwEYcEfwAAAYIJbG9jYWxob3N0MA8GA1UdEwEB
/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgKEMBMGA1UdJQQMMAoGCCsGAQUFBwMBMB0G
A1UdDgQWBBRWATGQcN27PNz7t8TrY3sCuFbniDAfBgNVHSMEGDAWgBRWATGQcN27
PNz7t8TrY3sCuFbniDAKBggqhkjOPQQDAgNIADBFAiEAwEG94RWyA6JWzrXwQNRx
ioCAUus1G24XPdiOSlpJxzACIHS9GVLP1gtNFjkmxihI3wq8v70JWveijfuvt2z4
tIRq
-----END CERTIFICATE-----
"""
KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQglouVv9R1o0/8dUdl
X0jOc3+m/4f3+BebngJ+vTIGxjihRANCAATd23fZehSRccccn4btix/ZyLtsQSIQ
/j5HMaDChGqV+hw4lAUbhQYT5b0i6DRfMJ64ROdOq/rHHxJW35kD02hl
-----END PRIVATE KEY-----
"""

BODY = b'{"sid": "SM123", "status": "queued"}'
Handler = Callable[["Conn"], Awaitable[None]]


# -- loopback servers ------------------------------------------------------------------------------
class Conn:
    """One accepted connection: its index (0, 1, ...), reader and writer."""

    def __init__(self, index: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.index, self.reader, self.writer = index, reader, writer

    async def request(self) -> dict[str, Any] | None:
        """The next request (method, target, headers, body), or None at EOF."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return {"method": method, "target": target, "version": version, "headers": headers,
                "body": body, "raw_head": head}

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


def answer(status: int = 201, body: bytes = BODY, *extra: str, reason: str = "OK") -> bytes:
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Server:
    """``async with Server(handler) as base_url``: an asyncio server on 127.0.0.1 that runs
    ``handler`` for every connection, and counts connections and requests in flight."""

    def __init__(self, handler: Handler, *, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.connections = 0
        self.open = 0
        self.requests: list[dict[str, Any]] = []
        self.release = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Conn(self.connections, reader, writer)
        self.connections += 1
        self.open += 1
        self._writers.add(writer)
        try:
            await self.handler(conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        await asyncio.sleep(0.01)


def keep_alive(respond: Callable[[dict[str, Any]], bytes] | None = None,
               server: list[Server] | None = None) -> Handler:
    """A handler answering every request on the connection (201 + BODY unless ``respond``)."""

    async def handle(conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            if server:
                server[0].requests.append(request)
            await conn.send(respond(request) if respond else answer())

    return handle


@pytest.fixture
async def echo() -> AsyncIterator[tuple[Server, str]]:
    """A keep-alive server that records requests and answers 201 + BODY."""
    box: list[Server] = []
    server = Server(keep_alive(server=box))
    box.append(server)
    async with server as base:
        yield server, base


def post(base: str, body: bytes = b"To=%2B15558675310&Body=Hi", path: str = "/Messages.json",
         *headers: tuple[str, str]) -> HttpRequest:
    return HttpRequest("POST", f"{base}{path}",
                       (("Authorization", "Basic QUMxOnRva2Vu"),
                        ("Content-Type", "application/x-www-form-urlencoded"), *headers), body)


def get(base: str, path: str = "/Messages/SM1.json") -> HttpRequest:
    return HttpRequest("GET", f"{base}{path}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Client:
    """A transport under test, driven from async tests: ``AsyncioTransport`` directly,
    ``StdlibSyncTransport`` in a thread of its own per request."""

    def __init__(self, kind: str, **options: Any) -> None:
        self.kind = kind
        self.transport: AsyncioTransport | StdlibSyncTransport = (
            AsyncioTransport(**options) if kind == "asyncio" else StdlibSyncTransport(**options))

    async def send(self, request: HttpRequest, timeout: float | None) -> HttpResponse:
        t = self.transport
        if isinstance(t, AsyncioTransport):
            return await t.send(request, timeout=timeout)
        # a thread per request (not asyncio.to_thread, whose pool would cap the concurrency)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[HttpResponse] = loop.create_future()

        def settle(result: HttpResponse | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                assert result is not None
                done.set_result(result)

        def run() -> None:
            try:
                result = t.send(request, timeout=timeout)
            except BaseException as exc:
                loop.call_soon_threadsafe(settle, None, exc)
            else:
                loop.call_soon_threadsafe(settle, result, None)

        threading.Thread(target=run, daemon=True).start()
        return await done

    @property
    def pools(self) -> dict[Any, Any]:
        return self.transport._pools

    async def close(self) -> None:
        t = self.transport
        if isinstance(t, AsyncioTransport):
            await t.aclose()
        else:
            t.close()


KINDS = ["asyncio", "stdlib"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make(kind: str) -> AsyncIterator[Callable[..., Client]]:
    """A factory of clients of this test's kind (closed at the end)."""
    made: list[Client] = []

    def factory(**options: Any) -> Client:
        made.append(Client(kind, **options))
        return made[-1]

    yield factory
    for client in made:
        await client.close()


@pytest.fixture
async def client(make: Callable[..., Client]) -> Client:
    return make()


@pytest.fixture
async def transport() -> AsyncIterator[AsyncioTransport]:
    t = AsyncioTransport()
    yield t
    await t.aclose()


async def wait_until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not condition():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.005)


# -- requests and responses ------------------------------------------------------------------------
async def test_is_an_async_transport_with_sane_defaults() -> None:
    t = AsyncioTransport()
    assert isinstance(t, AsyncTransport)
    assert t.max_connections == 256
    assert t.max_response_size == MAX_RESPONSE_SIZE == 10 * 2**20
    for bad in ({"max_connections": 0}, {"keepalive_expiry": -1.0},
                {"max_response_size": -1}):
        with pytest.raises(ValueError):
            AsyncioTransport(**bad)
    await t.aclose()


async def test_sends_a_post_with_content_length_and_reads_the_answer(
    echo: tuple[Server, str], client: Client,
) -> None:
    server, base = echo
    response = await client.send(post(base, path="/2010-04-01/Messages.json?a=1%202"), 5.0)
    assert response.status_code == 201
    assert response.json() == {"sid": "SM123", "status": "queued"}
    assert response.headers["content-type"] == "application/json"
    assert all(name == name.lower() for name, _ in response.headers)
    [seen] = server.requests
    assert (seen["method"], seen["target"], seen["version"]) == (
        "POST", "/2010-04-01/Messages.json?a=1%202", "HTTP/1.1")
    assert seen["headers"]["host"] == f"127.0.0.1:{server.port}"
    assert seen["headers"]["content-length"] == str(len(seen["body"]))
    assert seen["headers"]["authorization"] == "Basic QUMxOnRva2Vu"
    assert seen["headers"]["user-agent"].startswith("ratatosk/")
    assert seen["body"] == b"To=%2B15558675310&Body=Hi"


async def test_get_sends_no_body_and_an_empty_post_sends_length_zero(
    echo: tuple[Server, str], client: Client,
) -> None:
    server, base = echo
    await client.send(get(base), 5.0)
    await client.send(post(base, b""), 5.0)
    first, second = server.requests
    assert "content-length" not in first["headers"] and first["body"] == b""
    assert second["headers"]["content-length"] == "0"


async def test_computed_headers_replace_the_callers_and_a_host_header_is_kept(
    echo: tuple[Server, str], client: Client,
) -> None:
    server, base = echo
    request = post(base, b"abc", "/x", ("Content-Length", "999"), ("Host", "api.example.test"),
                   ("User-Agent", "mine/1"))
    await client.send(request, 5.0)
    [seen] = server.requests
    assert seen["headers"]["content-length"] == "3"
    assert seen["headers"]["host"] == "api.example.test"
    assert seen["headers"]["user-agent"] == "mine/1"
    assert seen["raw_head"].count(b"Content-Length") == 1


async def test_chunked_response_split_across_reads(client: Client) -> None:
    async def handle(conn: Conn) -> None:
        while await conn.request() is not None:
            wire = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
                    b"5;ext=1\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n")
            for i in range(0, len(wire), 7):  # the answer arrives in small pieces
                await conn.send(wire[i:i + 7])
                await asyncio.sleep(0)

    server = Server(handle)
    async with server as base:
        for _ in range(2):
            response = await client.send(get(base), 5.0)
            assert response.status_code == 200
            assert response.content == b"hello world!"
            assert response.headers["x-a"] == "1"
    assert server.connections == 1  # a chunked answer leaves the connection reusable


async def test_close_delimited_response(client: Client) -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ")
        await asyncio.sleep(0.02)
        await conn.send(b"part two")
        conn.writer.close()

    server = Server(handle)
    async with server as base:
        for _ in range(2):
            response = await client.send(get(base), 5.0)
            assert response.content == b"part one, part two"
    assert server.connections == 2  # the close ended the body: never reused


async def test_head_204_and_304_have_no_body_and_keep_the_connection(
    client: Client,
) -> None:
    def respond(request: dict[str, Any]) -> bytes:
        if request["method"] == "HEAD":
            return b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
        status = int(request["target"].strip("/"))
        return f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode() if status == 200 \
            else f"HTTP/1.1 {status} X\r\n\r\n".encode()

    server = Server(keep_alive(respond))
    async with server as base:
        head = await client.send(HttpRequest("HEAD", f"{base}/200"), 5.0)
        assert (head.status_code, head.content, head.headers["content-length"]) == (
            200, b"", "1234")
        for status in (204, 304, 200):
            response = await client.send(get(base, f"/{status}"), 5.0)
            assert (response.status_code, response.content) == (status, b"")
    assert server.connections == 1


async def test_interim_1xx_answers_are_skipped(client: Client) -> None:
    def respond(request: dict[str, Any]) -> bytes:
        return b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n" \
            + answer(201)

    async with Server(keep_alive(respond)) as base:
        response = await client.send(post(base), 5.0)
    assert response.status_code == 201 and response.json()["sid"] == "SM123"


async def test_gzip_bodies_are_decoded(client: Client) -> None:
    packed = gzip.compress(BODY)

    async with Server(keep_alive(lambda r: answer(200, packed, "Content-Encoding: gzip"))) as base:
        response = await client.send(get(base), 5.0)
    assert response.content == BODY
    assert response.headers["content-encoding"] == "gzip"


async def test_keep_alive_reuses_one_connection(
    echo: tuple[Server, str], client: Client,
) -> None:
    server, base = echo
    for _ in range(5):
        assert (await client.send(post(base), 5.0)).status_code == 201
    assert len(server.requests) == 5
    assert server.connections == 1


@pytest.mark.parametrize("close_header", ["Connection: close", "Connection: Close, x"])
async def test_a_connection_close_answer_is_honoured(
    client: Client, close_header: str,
) -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(answer(201, BODY, close_header))
        await conn.reader.read()  # the server does not close it: the client must

    server = Server(handle)
    async with server as base:
        for _ in range(3):
            assert (await client.send(post(base), 5.0)).status_code == 201
        assert server.connections == 3
        await wait_until(lambda: server.open == 0)  # the client closed each one


async def test_a_connection_close_request_header_is_sent_and_honoured(
    echo: tuple[Server, str], client: Client,
) -> None:
    server, base = echo
    for _ in range(2):
        await client.send(post(base, b"x", "/m", ("Connection", "close")), 5.0)
    assert server.connections == 2
    assert server.requests[0]["headers"]["connection"] == "close"


async def test_http_1_0_answers_without_keep_alive_are_not_reused(
    client: Client,
) -> None:
    def respond(request: dict[str, Any]) -> bytes:
        return b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"

    server = Server(keep_alive(respond))
    async with server as base:
        for _ in range(2):
            assert (await client.send(get(base), 5.0)).content == b"ok"
    assert server.connections == 2


async def test_a_large_body_in_many_reads(client: Client) -> None:
    big = bytes(range(256)) * (4 * 2**12)  # 4 MiB

    async with Server(keep_alive(lambda r: answer(200, big))) as base:
        response = await client.send(get(base), 10.0)
    assert response.content == big


@pytest.mark.parametrize("framing", ["length", "chunked", "close", "gzip"])
async def test_a_body_over_the_cap_is_a_transport_error(
    make: Callable[..., Client], framing: str,
) -> None:
    limit = 50_000
    body = b"x" * (limit + 1)

    async def handle(conn: Conn) -> None:
        await conn.request()
        if framing == "length":
            await conn.send(answer(200, body))
        elif framing == "chunked":
            await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(body), 10_000):
                piece = body[i:i + 10_000]
                await conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            await conn.send(b"0\r\n\r\n")
        elif framing == "close":
            await conn.send(b"HTTP/1.1 200 OK\r\n\r\n" + body)
        else:
            await conn.send(answer(200, gzip.compress(body), "Content-Encoding: gzip"))
        await server.release.wait()

    server = Server(handle)
    async with server as base:
        with pytest.raises(TransportError) as caught:
            await make(max_response_size=limit).send(get(base), 5.0)
    assert caught.value.request_sent is True
    assert "larger than 50000 bytes" in str(caught.value)


async def test_the_default_cap_refuses_a_declared_11_mib_body_at_once(
    client: Client,
) -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nabc" % (11 * 2**20))
        await server.release.wait()

    server = Server(handle)
    async with server as base:
        with pytest.raises(TransportError, match="larger than") as caught:
            await client.send(get(base), 5.0)
    assert caught.value.request_sent is True


@pytest.mark.parametrize("wire", [
    b"SPDY/3 200 OK\r\n\r\n",
    b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
])
async def test_invalid_answers_are_transport_errors(
    client: Client, wire: bytes,
) -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(wire)
        await server.release.wait()

    server = Server(handle)
    async with server as base:
        with pytest.raises(TransportError, match="invalid HTTP response") as caught:
            await client.send(get(base), 5.0)
    assert caught.value.request_sent is True and caught.value.timeout is False


# -- failures and their request_sent -------------------------------------------------------------
async def test_connection_refused_was_never_sent(client: Client) -> None:
    with pytest.raises(TransportError) as caught:
        await client.send(post(f"http://127.0.0.1:{free_port()}"), 5.0)
    assert (caught.value.request_sent, caught.value.timeout) == (False, False)
    assert "cannot connect" in str(caught.value)


async def test_a_dns_failure_was_never_sent(
    client: Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_such_host(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)  # both transports resolve with it
    with pytest.raises(TransportError) as caught:
        await client.send(post("http://api.example.invalid"), 5.0)
    assert (caught.value.request_sent, caught.value.timeout) == (False, False)
    assert "gaierror" in str(caught.value)


async def test_a_connect_timeout_was_never_sent(client: Client) -> None:
    # TLS to a server that accepts the TCP connection and then never answers the handshake:
    # connecting (TCP + TLS) does not finish within the timeout, nothing was written.
    async def silent(conn: Conn) -> None:
        await server.release.wait()

    server = Server(silent)
    async with server as base:
        with pytest.raises(TransportError) as caught:
            await client.send(post(base.replace("http://", "https://")), 0.2)
    assert (caught.value.request_sent, caught.value.timeout) == (False, True)
    assert "connecting" in str(caught.value)


async def test_a_read_timeout_may_have_been_sent(client: Client) -> None:
    async def hang(conn: Conn) -> None:
        await conn.request()
        await server.release.wait()

    server = Server(hang)
    async with server as base:
        started = asyncio.get_running_loop().time()
        with pytest.raises(TransportError) as caught:
            await client.send(post(base), 0.2)
        elapsed = asyncio.get_running_loop().time() - started
    assert (caught.value.request_sent, caught.value.timeout) == (True, True)
    assert 0.15 < elapsed < 2.0


async def test_the_timeout_bounds_the_whole_exchange_not_each_read(
    client: Client,
) -> None:
    async def trickle(conn: Conn) -> None:
        await conn.request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):  # a byte every 20 ms: each read is quick, the whole is not
            await conn.send(b"x")
            await asyncio.sleep(0.02)

    async with Server(trickle) as base:
        with pytest.raises(TransportError) as caught:
            await client.send(get(base), 0.3)
    assert (caught.value.request_sent, caught.value.timeout) == (True, True)


async def test_waiting_for_a_free_connection_times_out_unsent(
    make: Callable[..., Client],
) -> None:
    async def hang(conn: Conn) -> None:
        await conn.request()
        await server.release.wait()
        await conn.send(answer())

    server = Server(hang)
    c = make(max_connections=1)
    async with server as base:
        first = asyncio.ensure_future(c.send(post(base), 5.0))
        await wait_until(lambda: server.connections == 1)
        with pytest.raises(TransportError) as caught:
            await c.send(post(base), 0.2)
        server.release.set()
        assert (await first).status_code == 201  # the first one was not disturbed
    assert (caught.value.request_sent, caught.value.timeout) == (False, True)
    assert "free connection" in str(caught.value)
    assert server.connections == 1


async def test_a_connection_dropped_after_writing_may_have_been_sent(
    client: Client,
) -> None:
    async def hang_up(conn: Conn) -> None:
        await conn.request()  # read it, then close without a word

    server = Server(hang_up)
    async with server as base:
        with pytest.raises(TransportError) as caught:
            await client.send(get(base), 5.0)  # idempotent, but a fresh connection
    assert (caught.value.request_sent, caught.value.timeout) == (True, False)
    assert server.connections == 1  # not retried: it was not a reused connection


@pytest.mark.parametrize("cut", [b"HTTP/1.1 200 OK\r\nContent-Le",
                                 b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                                 b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"])
async def test_a_connection_dropped_mid_answer_may_have_been_sent(
    client: Client, cut: bytes,
) -> None:
    async def cut_off(conn: Conn) -> None:
        await conn.request()
        await conn.send(cut)

    async with Server(cut_off) as base:
        with pytest.raises(TransportError, match="middle of the response") as caught:
            await client.send(get(base), 5.0)
    assert (caught.value.request_sent, caught.value.timeout) == (True, False)


async def test_a_stale_keep_alive_connection_is_replaced_before_writing(
    client: Client,
) -> None:
    async def one_then_close(conn: Conn) -> None:
        request = await conn.request()
        assert request is not None
        server.requests.append(request)
        await conn.send(answer())  # keep-alive, then the server changes its mind
        await asyncio.sleep(0.05)  # after the client pooled the connection

    server = Server(one_then_close)
    async with server as base:
        assert (await client.send(post(base), 5.0)).status_code == 201
        [pool] = client.pools.values()
        assert len(pool.idle) == 1  # pooled as keep-alive
        await wait_until(lambda: server.open == 0)
        await asyncio.sleep(0.02)  # the client's loop has seen the close
        # a POST (not idempotent) still goes out: the stale connection was never written to
        assert (await client.send(post(base), 5.0)).status_code == 201
    assert server.connections == 2
    assert len(server.requests) == 2


def _closes_the_reused_connection() -> tuple[Server, list[dict[str, Any]]]:
    """Connection 0 answers one request, then reads the next and hangs up without answering;
    later connections answer normally."""
    seen: list[dict[str, Any]] = []

    async def handle(conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            seen.append({**request, "connection": conn.index})
            if conn.index == 0 and len(seen) > 1:
                return  # read the second request, then close: no answer
            await conn.send(answer())

    return Server(handle), seen


async def test_a_reused_connection_closed_mid_request_is_not_retried_for_a_post(
    client: Client,
) -> None:
    server, seen = _closes_the_reused_connection()
    async with server as base:
        assert (await client.send(post(base), 5.0)).status_code == 201
        with pytest.raises(TransportError) as caught:
            await client.send(post(base), 5.0)
    assert (caught.value.request_sent, caught.value.timeout) == (True, False)
    assert [s["connection"] for s in seen] == [0, 0]  # received once, never sent again
    assert server.connections == 1


async def test_a_reused_connection_closed_mid_request_is_retried_once_for_a_get(
    client: Client,
) -> None:
    server, seen = _closes_the_reused_connection()
    async with server as base:
        assert (await client.send(get(base), 5.0)).status_code == 201
        response = await client.send(get(base), 5.0)
    assert response.status_code == 201
    assert [s["connection"] for s in seen] == [0, 0, 1]  # the retry went on a new connection


async def test_a_failed_retry_still_says_the_request_may_have_been_sent(client: Client) -> None:
    async def once_then_gone(conn: Conn) -> None:
        await conn.request()
        await conn.send(answer())
        await conn.request()  # the second request arrives; the server goes away entirely
        assert server._server is not None
        server._server.close()

    server = Server(once_then_gone)
    async with server as base:
        await client.send(get(base), 5.0)
        with pytest.raises(TransportError) as caught:
            await client.send(get(base), 5.0)  # retried on a new connection: refused
    assert caught.value.request_sent is True
    assert "first attempt may have reached the server" in str(caught.value)


async def test_an_explicitly_idempotent_post_is_retried_too(client: Client) -> None:
    server, seen = _closes_the_reused_connection()
    async with server as base:
        await client.send(post(base), 5.0)
        request = HttpRequest("POST", f"{base}/x", (), b"a=1", idempotent=True)
        assert (await client.send(request, 5.0)).status_code == 201
    assert [s["connection"] for s in seen] == [0, 0, 1]


async def test_unsolicited_bytes_on_an_idle_connection_retire_it(
    client: Client,
) -> None:
    async def chatty(conn: Conn) -> None:
        await conn.request()
        await conn.send(answer())
        await asyncio.sleep(0.02)
        await conn.send(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        await conn.reader.read()  # until the client hangs up

    server = Server(chatty)
    async with server as base:
        await client.send(post(base), 5.0)
        if client.kind == "asyncio":
            await wait_until(lambda: server.open == 0)  # the client hung up on it at once
        else:
            await asyncio.sleep(0.05)  # the blocking one notices when it next takes it
        assert (await client.send(post(base), 5.0)).status_code == 201
        await wait_until(lambda: server.open == 1)
    assert server.connections == 2


@pytest.mark.parametrize("request_", [
    HttpRequest("GET", "ftp://127.0.0.1/x"),
    HttpRequest("GET", "http:///no-host"),
    HttpRequest("GET", "http://127.0.0.1:99999/x"),
    HttpRequest("G T", "http://127.0.0.1/x"),
    HttpRequest("GET", "http://127.0.0.1/x", (("X-Evil", "a\r\nInjected: yes"),)),
    HttpRequest("GET", "http://127.0.0.1/x", (("Bad Name", "v"),)),
    HttpRequest("GET", "http://127.0.0.1/x", (("X-Name", "caf\u00e9\u2603"),)),
])
async def test_invalid_requests_are_never_sent(
    client: Client, request_: HttpRequest,
) -> None:
    with pytest.raises(TransportError) as caught:
        await client.send(request_, 1.0)
    assert caught.value.request_sent is False
    assert client.pools == {}  # no connection was even attempted


async def test_credentials_in_the_url_become_basic_auth_and_stay_out_of_errors(
    echo: tuple[Server, str], client: Client,
) -> None:
    server, base = echo
    await client.send(get(base.replace("http://", "http://AC1:s%40cret@")), 5.0)
    assert server.requests[0]["headers"]["authorization"] == "Basic QUMxOnNAY3JldA=="
    with pytest.raises(TransportError) as caught:
        await client.send(HttpRequest("GET", "ftp://AC1:s3cret@host/x"), 1.0)
    assert "s3cret" not in str(caught.value)


async def test_non_ascii_and_spaces_in_the_path_are_percent_encoded(
    echo: tuple[Server, str], client: Client,
) -> None:
    server, base = echo
    await client.send(get(base, "/a b/\u00e9?q=1 2"), 5.0)
    assert server.requests[0]["target"] == "/a%20b/%C3%A9?q=1%202"


# -- the pool --------------------------------------------------------------------------------------
async def test_256_in_flight_over_a_pool_of_64_all_succeed() -> None:
    in_flight = [0, 0]  # now, highest

    async def slow(conn: Conn) -> None:
        while await conn.request() is not None:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
            await asyncio.sleep(0.01)
            in_flight[0] -= 1
            await conn.send(answer())

    server = Server(slow)
    t = AsyncioTransport(max_connections=64)
    async with server as base:
        try:
            responses = await asyncio.gather(
                *(t.send(post(base), timeout=10.0) for _ in range(256)))
            assert [r.status_code for r in responses] == [201] * 256
            assert server.connections == 64
            assert in_flight[1] == 64
            # a second burst reuses the pooled connections: the count stays bounded
            again = await asyncio.gather(*(t.send(post(base), timeout=10.0) for _ in range(256)))
            assert all(r.status_code == 201 for r in again)
            assert server.connections == 64
            [pool] = t._pools.values()
            assert pool.active == 0 and len(pool.idle) == 64 and not pool.waiters
        finally:
            await t.aclose()


async def test_pools_are_per_origin(client: Client) -> None:
    async with Server(keep_alive()) as one, Server(keep_alive()) as two:
        await asyncio.gather(client.send(get(one), 5.0),
                             client.send(get(two), 5.0),
                             client.send(get(one.replace("127.0.0.1", "localhost")), 5.0))
    assert len(client.pools) == 3


async def test_idle_connections_expire(
    echo: tuple[Server, str], make: Callable[..., Client],
) -> None:
    server, base = echo
    c = make(keepalive_expiry=0.1)
    await c.send(get(base), 5.0)
    if c.kind == "asyncio":  # a timer closes it on time
        await wait_until(lambda: server.open == 0)
    else:  # the blocking transport has no timer: the next send finds it expired
        await asyncio.sleep(0.15)
    await c.send(get(base), 5.0)
    assert server.connections == 2
    await wait_until(lambda: server.open == 1)  # the expired one is closed
    assert (await c.send(get(base), 5.0)).status_code == 201  # quickly: reused
    assert server.connections == 2


async def test_a_cancelled_request_frees_its_connection_slot() -> None:
    async def first_hangs(conn: Conn) -> None:
        while await conn.request() is not None:
            if conn.index == 0:
                await server.release.wait()
            await conn.send(answer())

    server = Server(first_hangs)
    t = AsyncioTransport(max_connections=1)
    async with server as base:
        try:
            pending = asyncio.ensure_future(t.send(post(base), timeout=None))
            queued = asyncio.ensure_future(t.send(post(base), timeout=None))
            await wait_until(lambda: server.connections == 1)
            queued.cancel()  # cancelled while waiting for the slot
            pending.cancel()  # cancelled while waiting for its answer
            for task in (pending, queued):
                with pytest.raises(asyncio.CancelledError):
                    await task
            response = await t.send(post(base), timeout=5.0)  # the slot is free again
            assert response.status_code == 201
            assert server.connections == 2  # the cancelled exchange's connection was dropped
        finally:
            await t.aclose()


# -- the event loop and closing --------------------------------------------------------------------
async def test_is_bound_to_the_event_loop_of_its_first_send(echo: tuple[Server, str]) -> None:
    _, base = echo
    t = AsyncioTransport()
    try:
        await t.send(get(base), timeout=5.0)
        errors: list[BaseException] = []

        def other_loop() -> None:
            try:
                asyncio.run(t.send(get(base), timeout=5.0))
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_loop)
        thread.start()
        thread.join()
        [error] = errors
        assert isinstance(error, RuntimeError) and "event loop" in str(error)
    finally:
        await t.aclose()


def test_a_new_loop_takes_over_once_the_first_is_closed() -> None:
    def run_server() -> tuple[threading.Thread, list[str], threading.Event]:
        ready: list[str] = []
        stop = threading.Event()

        async def serve() -> None:
            async with Server(keep_alive()) as base:
                ready.append(base)
                while not stop.is_set():
                    await asyncio.sleep(0.01)

        thread = threading.Thread(target=asyncio.run, args=(serve(),))
        thread.start()
        return thread, ready, stop

    thread, ready, stop = run_server()
    try:
        while not ready:
            threading.Event().wait(0.01)
        t = AsyncioTransport()

        async def once(close: bool) -> int:
            response = await t.send(get(ready[0]), timeout=5.0)
            if close:
                await t.aclose()
            return response.status_code

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)  # the first loop ends unclosed
            assert asyncio.run(once(False)) == 201
            assert asyncio.run(once(True)) == 201
            gc.collect()
    finally:
        stop.set()
        thread.join()


async def test_aclose_closes_every_connection_and_later_sends_raise(
    transport: AsyncioTransport,
) -> None:
    async def second_hangs(conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            server.requests.append(request)
            if request["target"] == "/hang":
                await conn.reader.read()  # no answer; returns when the client hangs up
                return
            await conn.send(answer())

    server = Server(second_hangs)
    async with server as base:
        await asyncio.gather(*(transport.send(get(base), timeout=5.0) for _ in range(2)))
        assert server.connections == 2  # both idle now
        hanging = asyncio.ensure_future(transport.send(get(base, "/hang"), timeout=None))
        await wait_until(lambda: len(server.requests) == 3)  # one busy, one idle
        await transport.aclose()
        with pytest.raises(TransportError, match="closed") as caught:
            await hanging
        assert caught.value.request_sent is True
        await wait_until(lambda: server.open == 0)
        with pytest.raises(RuntimeError, match="closed"):
            await transport.send(get(base), timeout=5.0)
        await transport.aclose()  # idempotent


def test_no_resource_warnings_on_a_normal_life() -> None:
    async def life() -> None:
        async def hang_up(conn: Conn) -> None:
            request = await conn.request()
            if request and request["target"] == "/drop":
                return
            await conn.send(answer())
            await server.release.wait()

        server = Server(hang_up)
        async with server as base:
            t = AsyncioTransport(max_connections=8)
            await asyncio.gather(*(t.send(get(base), timeout=5.0) for _ in range(8)))
            with pytest.raises(TransportError):
                await t.send(get(base, "/drop"), timeout=5.0)
            with pytest.raises(TransportError):
                await t.send(get(f"http://127.0.0.1:{free_port()}"), timeout=5.0)
            await t.aclose()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(life())
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


# -- the blocking transport: threads and closing --------------------------------------------------
def _in_threads(count: int, call: Callable[[], Any]) -> list[Any]:
    """``call()`` in ``count`` threads at once; the results (or exceptions), in order."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = call()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


async def test_the_blocking_transport_shares_its_pool_between_threads() -> None:
    in_flight = [0, 0]

    async def slow(conn: Conn) -> None:
        while await conn.request() is not None:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
            await asyncio.sleep(0.02)
            in_flight[0] -= 1
            await conn.send(answer())

    server = Server(slow)
    t = StdlibSyncTransport(max_connections=16)
    async with server as base:
        try:
            for _ in range(2):  # the second burst reuses the pooled connections
                results = await asyncio.to_thread(
                    _in_threads, 48, lambda: t.send(post(base), timeout=10.0))
                assert [r.status_code for r in results] == [201] * 48
            assert server.connections == 16
            assert in_flight[1] == 16
            [pool] = t._pools.values()
            assert pool.active == 0 and len(pool.idle) == 16
        finally:
            t.close()


async def test_closing_the_blocking_transport_closes_everything() -> None:
    async def second_hangs(conn: Conn) -> None:
        while (request := await conn.request()) is not None:
            server.requests.append(request)
            if request["target"] == "/hang":
                await conn.reader.read()  # no answer; returns when the client hangs up
                return
            await conn.send(answer())

    server = Server(second_hangs)
    t = StdlibSyncTransport()
    async with server as base:
        await asyncio.to_thread(_in_threads, 2, lambda: t.send(get(base), timeout=5.0))
        assert server.connections == 2
        hanging = asyncio.ensure_future(asyncio.to_thread(t.send, get(base, "/hang"),
                                                          timeout=None))
        await wait_until(lambda: len(server.requests) == 3)
        t.close()
        with pytest.raises(TransportError) as caught:
            await hanging
        assert caught.value.request_sent is True
        await wait_until(lambda: server.open == 0)
        with pytest.raises(RuntimeError, match="closed"):
            t.send(get(base), timeout=5.0)
        t.close()  # idempotent
    assert t._open == set()


def test_no_resource_warnings_from_the_blocking_transport() -> None:
    async def life() -> None:
        async def hang_up(conn: Conn) -> None:
            request = await conn.request()
            if request and request["target"] == "/drop":
                return
            await conn.send(answer())
            await conn.reader.read()

        server = Server(hang_up)
        async with server as base:
            t = StdlibSyncTransport(max_connections=4)

            def use() -> None:
                _in_threads(4, lambda: t.send(get(base), timeout=5.0))
                for url in (f"{base}/drop", f"http://127.0.0.1:{free_port()}/x"):
                    with pytest.raises(TransportError):
                        t.send(HttpRequest("GET", url), timeout=5.0)
                t.close()

            await asyncio.to_thread(use)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(life())
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


# -- TLS -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    cert.write_text(CERT)
    key.write_text(KEY)
    yield cert, key


def _server_context(files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*files)
    return context


async def test_https_with_a_trusted_certificate_keeps_the_connection_alive(
    tls_files: tuple[Path, Path], make: Callable[..., Client],
) -> None:
    box: list[Server] = []
    server = Server(keep_alive(server=box), tls=_server_context(tls_files))
    box.append(server)
    c = make(ssl=ssl.create_default_context(cafile=str(tls_files[0])))
    async with server as base:
        assert base.startswith("https://")
        for path in ("/a", "/b"):
            response = await c.send(post(base, b"x=1", path), 5.0)
            assert response.status_code == 201 and response.json()["sid"] == "SM123"
        localhost = base.replace("127.0.0.1", "localhost")  # the DNS name in the cert
        assert (await c.send(get(localhost), 5.0)).status_code == 201
        await c.close()
    assert [r["target"] for r in server.requests] == ["/a", "/b", "/Messages/SM1.json"]
    assert server.connections == 2  # one per origin


async def test_https_verifies_the_certificate_by_default(
    tls_files: tuple[Path, Path], client: Client,
) -> None:
    server = Server(keep_alive(), tls=_server_context(tls_files))
    async with server as base:
        with pytest.raises(TransportError) as caught:
            await client.send(post(base), 5.0)
    assert (caught.value.request_sent, caught.value.timeout) == (False, False)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


# -- proxies ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("environ", "url", "expected"), [
    ({}, "https://api.twilio.com/x", False),
    ({"HTTPS_PROXY": "http://proxy:3128"}, "https://api.twilio.com/x", True),
    ({"https_proxy": "http://proxy:3128"}, "https://api.twilio.com/x", True),
    ({"HTTPS_PROXY": "http://proxy:3128"}, "http://api.twilio.com/x", False),
    ({"HTTP_PROXY": "http://proxy:3128"}, "http://api.twilio.com/x", True),
    ({"ALL_PROXY": "http://proxy:3128"}, "https://api.twilio.com/x", True),
    ({"all_proxy": "socks5://proxy:1080"}, "http://127.0.0.1:8080/x", True),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "twilio.com"}, "https://api.twilio.com/x", False),
    ({"HTTPS_PROXY": "http://p:1", "no_proxy": ".twilio.com"}, "https://api.twilio.com/", False),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https://api.twilio.com/", True),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://api.twilio.com/x", False),
    ({"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1,localhost"},
     "http://127.0.0.1:8080/x", False),
    ({"HTTPS_PROXY": "http://p:1", "https_proxy": ""}, "https://api.twilio.com/x", False),
])
def test_proxied_reads_the_proxy_variables(
    environ: dict[str, str], url: str, expected: bool,
) -> None:
    assert proxied(url, environ) is expected


async def test_the_defaults_are_direct_without_proxy_variables() -> None:
    assert isinstance(default_async_transport({"PATH": "/bin"}), AsyncioTransport)
    assert isinstance(default_sync_transport({"PATH": "/bin"}), StdlibSyncTransport)
    routed = default_async_transport({"https_proxy": "http://proxy:3128"})
    assert isinstance(routed, _ProxyRouter)
    await routed.aclose()
    blocking = default_sync_transport({"ALL_PROXY": "http://proxy:3128"})
    assert isinstance(blocking, _SyncProxyRouter)
    blocking.close()


def _clear_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def test_with_proxy_variables_proxied_hosts_go_through_httpx(
    echo: tuple[Server, str], monkeypatch: pytest.MonkeyPatch, kind: str,
) -> None:
    direct_server, direct_base = echo
    proxy_box: list[Server] = []
    proxy = Server(keep_alive(server=proxy_box))
    proxy_box.append(proxy)
    async with proxy as proxy_base:
        _clear_proxy_variables(monkeypatch)
        monkeypatch.setenv("HTTP_PROXY", proxy_base)
        monkeypatch.setenv("NO_PROXY", f"127.0.0.1:{direct_server.port}")
        if kind == "asyncio":
            routed: Any = default_async_transport()
            try:
                via_proxy = await routed.send(post("http://api.twilio.test"), timeout=5.0)
                direct = await routed.send(post(direct_base), timeout=5.0)
            finally:
                await routed.aclose()
            assert isinstance(routed, _ProxyRouter)
            assert isinstance(routed._proxied, HttpxAsyncTransport)
            assert isinstance(routed.direct, AsyncioTransport)
        else:
            routed = default_sync_transport()
            try:
                via_proxy = await asyncio.to_thread(
                    routed.send, post("http://api.twilio.test"), timeout=5.0)
                direct = await asyncio.to_thread(routed.send, post(direct_base), timeout=5.0)
            finally:
                routed.close()
            assert isinstance(routed, _SyncProxyRouter)
            assert isinstance(routed._proxied, HttpxSyncTransport)
            assert isinstance(routed.direct, StdlibSyncTransport)
    assert via_proxy.status_code == direct.status_code == 201
    [proxied_request] = proxy.requests  # absolute-form: the proxy forwards it
    assert proxied_request["target"] == "http://api.twilio.test/Messages.json"
    assert len(direct_server.requests) == 1


# -- under a connector -----------------------------------------------------------------------------
def _twilio(settings: Any, **kwargs: Any) -> Any:
    from ratatosk_twilio import TwilioSmsConnector

    return TwilioSmsConnector(None, settings, **kwargs)


def _sandbox_settings(sandbox: Any) -> ConnectionSettings:
    return (ConnectionSettings().set_parameter("AccountSid", sandbox.account_sid)
            .set_parameter("AuthToken", sandbox.auth_token)
            .set_parameter("BaseUrl", sandbox.base_url))


def _sms(text: str = "Hello") -> Any:
    return (MessageBuilder().from_phone("+15005550006").to_phone("+15558675310")
            .with_text(text).build())


async def test_the_connector_picks_its_transports(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_proxy_variables(monkeypatch)
    settings = {"AccountSid": "AC" + "0" * 32, "AuthToken": "t"}
    default = _twilio(settings)
    assert isinstance(default.runtime.async_transport(), AsyncioTransport)
    assert isinstance(default.runtime.sync_transport(), StdlibSyncTransport)
    mocked = _twilio(settings, http_transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert isinstance(mocked.runtime.async_transport(), HttpxAsyncTransport)
    assert isinstance(mocked.runtime.sync_transport(), HttpxSyncTransport)
    monkeypatch.setenv("https_proxy", "http://proxy.example.test:3128")
    proxied_connector = _twilio(settings)
    assert isinstance(proxied_connector.runtime.async_transport(), _ProxyRouter)
    assert isinstance(proxied_connector.runtime.sync_transport(), _SyncProxyRouter)
    given, given_sync = AsyncioTransport(), StdlibSyncTransport()
    injected = _twilio(settings, async_transport=given, sync_transport=given_sync)
    assert injected.runtime.async_transport() is given
    assert injected.runtime.sync_transport() is given_sync
    assert isinstance(given_sync, SyncTransport)
    for connector in (default, mocked, proxied_connector, injected):
        await connector.shutdown()
    await given.aclose()
    given_sync.close()


async def test_a_twilio_connector_over_the_default_transport_against_the_sandbox() -> None:
    from ratatosk_twilio.sandbox import TwilioSandbox

    with TwilioSandbox(progression="immediate") as sandbox:
        connector = _twilio(_sandbox_settings(sandbox))
        try:
            sent = await connector.send_message(_sms())
            assert sent.is_success, sent.error
            assert isinstance(connector.runtime.async_transport(), AsyncioTransport)
            status = await connector.get_message_status(sent.data.remote_message_id)
            assert status.is_success, status.error
            assert status.data.status is MessageStatus.DELIVERED

            count = 2_000
            seen: dict[int, Any] = {}
            messages = (_sms(f"batch #{i}") for i in range(count))
            async for item in connector.send_batch(messages, concurrency=64):
                assert item.index not in seen
                seen[item.index] = item
            assert sorted(seen) == list(range(count))
            failures = [item.result.error for item in seen.values() if not item.result.is_success]
            assert failures == []
            sids = {item.result.data.remote_message_id for item in seen.values()}
            assert len(sids) == count
            stored = sandbox.get_message(seen[1999].result.data.remote_message_id)
            assert stored is not None and stored.body == "batch #1999"
            pools = connector.runtime.async_transport()._pools
            assert sum(len(pool.idle) for pool in pools.values()) <= 64
        finally:
            await connector.shutdown()


def test_a_blocking_twilio_connector_over_the_default_transport_against_the_sandbox() -> None:
    from ratatosk_twilio.sandbox import TwilioSandbox

    with TwilioSandbox(progression="immediate") as sandbox:
        connector = _twilio(_sandbox_settings(sandbox)).blocking()
        try:
            sent = connector.send_message(_sms())
            assert sent.is_success, sent.error
            assert isinstance(connector.connector.runtime.sync_transport(), StdlibSyncTransport)
            status = connector.get_message_status(sent.data.remote_message_id)
            assert status.is_success and status.data.status is MessageStatus.DELIVERED
            results = list(connector.send_batch((_sms(f"b{i}") for i in range(300)),
                                                concurrency=8))
            assert sorted(r.index for r in results) == list(range(300))
            assert all(r.result.is_success for r in results), [
                r.result.error for r in results if not r.result.is_success][:3]
            assert len({r.result.data.remote_message_id for r in results}) == 300
        finally:
            connector.shutdown()
