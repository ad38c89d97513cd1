"""AiohttpTransport against real loopback servers on 127.0.0.1.

The transport contract tests (what is sent, what comes back, how failures map to
``TransportError``) also run against ``AsyncioTransport``, the default async transport (its own,
finer tests are in ``test_asynchttp_transport.py``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ratatosk.transports._aiohttp import AiohttpTransport
from ratatosk.transports._asyncio import AsyncioTransport
from ratatosk.transports._http import AsyncTransport, HttpRequest, TransportError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Factory = Callable[..., Any]



def _load(path: Path) -> Any:
    """A module from a file, without putting its folder on sys.path."""
    spec = importlib.util.spec_from_file_location(f"_loaded_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_HERE = Path(__file__).resolve()
_example: Any = _load(_HERE.parent / "example_connector.py")  # the Kestrel SMS connector


@pytest.fixture(params=["aiohttp", "asyncio"])
def make(request: pytest.FixtureRequest) -> Factory:
    """A transport factory taking ``max_connections=``: AiohttpTransport, AsyncioTransport."""
    if request.param == "aiohttp":
        return AiohttpTransport
    return AsyncioTransport


# -- servers ---------------------------------------------------------------------------------------
class Recorder:
    """An aiohttp app that records what it receives and answers what the test asks for."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.peers: set[Any] = set()
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = await request.read()
            self.peers.add(request.transport.get_extra_info("peername")
                           if request.transport else None)
            self.requests.append({
                "method": request.method,
                "path_qs": request.path_qs,
                "headers": dict(request.headers),
                "body": body,
            })
            if self.delay:
                await asyncio.sleep(self.delay)
            if request.path == "/v1/messages":  # the example Kestrel connector's send
                return web.json_response({"id": "k-42", "status": "queued"}, status=201)
            if request.path.endswith("/Messages.json"):
                return web.json_response({"sid": "SM123", "status": "queued"}, status=201,
                                         headers={"X-Custom-Header": "custom value"})
            return web.json_response({"code": 20404, "status": 404}, status=404)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    rec = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield rec, str(server.make_url("")).rstrip("/")


class RawServer:
    """An asyncio server whose connections run ``handler`` (to hang, or to hang up)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.release = asyncio.Event()
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            await self.handler(reader, writer)
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        assert self.server is not None
        for writer in self.writers:
            writer.close()
        self.server.close()
        await self.server.wait_closed()


async def _read_request_head(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


def _post(base_url: str, body: bytes = b"To=%2B15558675310&Body=Hi") -> HttpRequest:
    return HttpRequest(
        "POST", f"{base_url}/2010-04-01/Accounts/AC1/Messages.json",
        (("Authorization", "Basic QUMxOnRva2Vu"),
         ("Content-Type", "application/x-www-form-urlencoded")),
        body,
    )


# -- behaviour -------------------------------------------------------------------------------------
async def test_is_an_async_transport(make: Factory) -> None:
    transport = make()
    assert isinstance(transport, AsyncTransport)
    await transport.aclose()


async def test_sends_method_url_headers_and_body_and_returns_the_response(
    make: Factory, recorder: tuple[Recorder, str],
) -> None:
    rec, base = recorder
    transport = make()
    try:
        response = await transport.send(_post(base), timeout=5.0)
    finally:
        await transport.aclose()
    assert response.status_code == 201
    assert response.json() == {"sid": "SM123", "status": "queued"}
    assert response.header("X-Custom-Header") == "custom value"
    assert response.headers["x-custom-header"] == "custom value"
    assert all(name == name.lower() for name, _ in response.headers)
    [seen] = rec.requests
    assert seen["method"] == "POST"
    assert seen["path_qs"] == "/2010-04-01/Accounts/AC1/Messages.json"
    assert seen["headers"]["Authorization"] == "Basic QUMxOnRva2Vu"
    assert seen["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen["body"] == b"To=%2B15558675310&Body=Hi"


async def test_error_statuses_are_responses_and_get_sends_no_body(
    make: Factory, recorder: tuple[Recorder, str],
) -> None:
    rec, base = recorder
    transport = make()
    try:
        response = await transport.send(
            HttpRequest("GET", f"{base}/2010-04-01/Accounts/AC1/Messages/SM9.json?x=1%202"),
            timeout=5.0,
        )
    finally:
        await transport.aclose()
    assert response.status_code == 404
    assert not response.is_success
    assert response.json()["code"] == 20404
    [seen] = rec.requests
    assert seen["method"] == "GET"
    assert seen["path_qs"] == "/2010-04-01/Accounts/AC1/Messages/SM9.json?x=1%202"
    assert seen["body"] == b""


async def test_reuses_connections(make: Factory, recorder: tuple[Recorder, str]) -> None:
    rec, base = recorder
    transport = make()
    try:
        for _ in range(5):
            assert (await transport.send(_post(base), timeout=5.0)).status_code == 201
    finally:
        await transport.aclose()
    assert len(rec.requests) == 5
    assert len(rec.peers) == 1


async def test_max_connections_bounds_requests_in_flight(
    make: Factory, recorder: tuple[Recorder, str],
) -> None:
    rec, base = recorder
    rec.delay = 0.05
    transport = make(max_connections=3)
    try:
        responses = await asyncio.gather(
            *(transport.send(_post(base), timeout=5.0) for _ in range(12)))
    finally:
        await transport.aclose()
    assert [r.status_code for r in responses] == [201] * 12
    assert rec.max_in_flight == 3
    assert len(rec.peers) == 3


async def test_connection_refused_was_never_sent(make: Factory) -> None:
    transport = make()
    try:
        with pytest.raises(TransportError) as caught:
            await transport.send(_post(f"http://127.0.0.1:{_free_port()}"), timeout=5.0)
    finally:
        await transport.aclose()
    assert caught.value.request_sent is False
    assert caught.value.timeout is False
    if isinstance(transport, AiohttpTransport):
        assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)


async def test_read_timeout_may_have_been_sent(make: Factory) -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request_head(reader)
        await server.release.wait()

    server = RawServer(hang)
    async with server as base:
        transport = make()
        try:
            with pytest.raises(TransportError) as caught:
                await transport.send(_post(base), timeout=0.2)
        finally:
            await transport.aclose()
    assert caught.value.request_sent is True
    assert caught.value.timeout is True


async def test_waiting_for_a_free_connection_times_out_unsent(make: Factory) -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request_head(reader)
        await server.release.wait()

    server = RawServer(hang)
    async with server as base:
        transport = make(max_connections=1)
        try:
            first = asyncio.ensure_future(transport.send(_post(base), timeout=5.0))
            while server.connections == 0:
                await asyncio.sleep(0.01)
            with pytest.raises(TransportError) as caught:
                await transport.send(_post(base), timeout=0.2)
            first.cancel()
            with pytest.raises(asyncio.CancelledError):
                await first
        finally:
            await transport.aclose()
    assert caught.value.request_sent is False
    assert caught.value.timeout is True
    assert server.connections == 1


async def test_server_hanging_up_mid_request_may_have_been_sent(make: Factory) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request_head(reader)

    async with RawServer(hang_up) as base:
        transport = make()
        try:
            with pytest.raises(TransportError) as caught:
                await transport.send(_post(base), timeout=5.0)
        finally:
            await transport.aclose()
    assert caught.value.request_sent is True
    assert caught.value.timeout is False


async def test_invalid_url_is_never_sent(make: Factory) -> None:
    transport = make()
    try:
        with pytest.raises(TransportError) as caught:
            await transport.send(HttpRequest("GET", "ftp://127.0.0.1/x"), timeout=1.0)
    finally:
        await transport.aclose()
    assert caught.value.request_sent is False


async def test_aclose_closes_its_own_session_but_not_yours(recorder: tuple[Recorder, str]) -> None:
    _, base = recorder
    own = AiohttpTransport()
    assert (await own.send(_post(base), timeout=5.0)).status_code == 201
    session = own._session
    assert session is not None
    await own.aclose()
    assert session.closed
    with pytest.raises(RuntimeError, match="closed"):
        await own.send(_post(base), timeout=5.0)

    async with aiohttp.ClientSession() as mine:
        borrowed = AiohttpTransport(session=mine)
        assert (await borrowed.send(_post(base), timeout=5.0)).status_code == 201
        await borrowed.aclose()
        assert not mine.closed


async def test_is_bound_to_the_event_loop_of_its_first_send(
    recorder: tuple[Recorder, str],
) -> None:
    _, base = recorder
    transport = AiohttpTransport()
    try:
        assert (await transport.send(_post(base), timeout=5.0)).status_code == 201
        errors: list[BaseException] = []

        def other_loop() -> None:
            try:
                asyncio.run(transport.send(_post(base), timeout=5.0))
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_loop)
        thread.start()
        thread.join()
        assert len(errors) == 1
        assert isinstance(errors[0], RuntimeError)
        assert "event loop" in str(errors[0])
    finally:
        await transport.aclose()


def test_rejects_a_pool_without_connections(make: Factory) -> None:
    with pytest.raises(ValueError, match="max_connections"):
        make(max_connections=0)


# -- under a connector -----------------------------------------------------------------------------
def _kestrel(base_url: str, transport: Any) -> Any:
    return _example.KestrelSmsConnector(
        None, {"ApiKey": "kestrel-secret", "BaseUrl": base_url, "MaxRetries": "0"},
        async_transport=transport)


def _sms() -> Any:
    from ratatosk import MessageBuilder

    return (MessageBuilder().from_phone("+15005550006").to_phone("+15558675310")
            .with_text("Hello").build())


async def test_a_connector_sends_through_it_and_its_blocking_view_still_works(
    make: Factory, recorder: tuple[Recorder, str],
) -> None:
    rec, base = recorder
    transport = make()
    connector = _kestrel(base, transport)
    try:
        sent = await connector.send_message(_sms())
        blocking = await asyncio.to_thread(connector.blocking().send_message, _sms())
    finally:
        await connector.shutdown()
        await transport.aclose()
    assert sent.is_success, sent.error
    assert sent.data.remote_message_id == "k-42"
    assert blocking.is_success, blocking.error  # the sync path keeps its own transport
    assert [r["path_qs"] for r in rec.requests] == ["/v1/messages", "/v1/messages"]
    assert rec.requests[0]["headers"]["Authorization"] == "Bearer kestrel-secret"
    assert b'"to": "+15558675310"' in rec.requests[0]["body"]


async def test_a_refused_connection_becomes_a_retryable_error_result(make: Factory) -> None:
    from ratatosk import MessagingErrorCodes

    transport = make()
    connector = _kestrel(f"http://127.0.0.1:{_free_port()}", transport)
    try:
        result = await connector.send_message(_sms())
    finally:
        await connector.shutdown()
        await transport.aclose()
    assert not result.is_success
    assert result.error.code == MessagingErrorCodes.CONNECTION_FAILED
    assert result.error.retryable is True
    assert result.error.outcome_unknown is False
    assert "kestrel-secret" not in str(result.error)
