"""Operations are written once: one generator, run by the async driver and the blocking driver."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ratatosk import (
    COMMON_PARAMETERS,
    ChannelCapability,
    ChannelSchema,
    ConnectorErrorCodes,
    Err,
    Flow,
    HttpRequest,
    HttpResponse,
    MessagingErrorCodes,
    Ok,
    TransportError,
)
from ratatosk.connector import BlockingConnector, drive_async, drive_blocking, operations_of
from ratatosk.provider import Connector, ErrorInfo, Operation, Sleep, operation

SCHEMA = ChannelSchema("ops", "test", "1.0", capabilities=ChannelCapability.SEND_MESSAGES,
                       parameters=COMMON_PARAMETERS)


class Transport:
    """Answers every request with the next queued response (or raises the queued error)."""

    def __init__(self, *answers: HttpResponse | TransportError) -> None:
        self.answers = list(answers)
        self.requests: list[HttpRequest] = []

    def _next(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, TransportError):
            raise answer
        return answer

    def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        return self._next(request)

    def close(self) -> None:
        pass


class AsyncTransport:
    """The async face of a :class:`Transport` (same queue, same record)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
        return self.inner.send(request, timeout=timeout)

    async def aclose(self) -> None:
        pass


class Ops(Connector):
    """A provider with one extra operation, declared once."""

    default_schema = SCHEMA

    @operation
    def echo(self, text: str, *, times: int = 1) -> Operation[str]:
        """Wait, then ask the server to echo ``text``."""
        error = self.check_ready(ChannelCapability.SEND_MESSAGES, "echo")
        if error is not None:
            return Err(error)
        yield Sleep(0.25)
        return (yield from self.run_flow(self.echo_flow, text * times, operation="echo"))

    @operation
    def limited_echo(self, text: str) -> Operation[str]:
        """``echo`` through the rate limiter (``MessagesPerSecond``)."""
        error = self.check_ready(ChannelCapability.SEND_MESSAGES, "limited_echo")
        if error is not None:
            return Err(error)
        return (yield from self.run_flow(self.echo_flow, text, operation="echo", limited=True))

    def echo_flow(self, text: str) -> Flow[str]:
        response = yield HttpRequest("POST", "http://ops.test/echo", content=text.encode())
        if response.status_code == 503:
            return Err(ErrorInfo(MessagingErrorCodes.CONNECTION_FAILED, "busy", retryable=True))
        return Ok(response.content.decode())

    async def only_async(self) -> int:
        return 1


def make(*answers: HttpResponse | TransportError) -> tuple[Ops, Transport, list[float]]:
    transport = Transport(*answers)
    connector = Ops(settings={"RetryBaseDelay": "1", "MaxRetries": "2"},
                    async_transport=AsyncTransport(transport), sync_transport=transport)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    connector.configure_timing(sleep=sleep, blocking_sleep=slept.append, random=lambda: 0.5)
    return connector, transport, slept


def test_an_extra_operation_runs_async_and_blocking_from_one_definition() -> None:
    assert "echo" in operations_of(Ops)
    assert {"send_message", "get_message_status", "shutdown"} <= set(operations_of(Ops))
    async_connector, async_transport, async_slept = make(HttpResponse(200, content=b"hihi"))
    result = asyncio.run(async_connector.echo("hi", times=2))
    blocking_connector, blocking_transport, blocking_slept = make(
        HttpResponse(200, content=b"hihi"))
    view = blocking_connector.blocking()
    assert isinstance(view, BlockingConnector)
    same = view.echo("hi", times=2)
    assert result == same == Ok("hihi")
    assert async_slept == blocking_slept == [0.25]
    assert [r.content for r in async_transport.requests] == [b"hihi"]
    assert [r.content for r in blocking_transport.requests] == [b"hihi"]
    assert view.echo.__doc__ == Ops.echo.__doc__


def test_retries_and_their_waits_are_effects_of_the_one_generator() -> None:
    busy = HttpResponse(503)
    connector, transport, slept = make(busy, busy, HttpResponse(200, content=b"ok"))
    assert connector.blocking().echo("ok") == Ok("ok")
    assert len(transport.requests) == 3
    assert slept == [0.25, 0.5, 1.0]  # the operation's own wait, then backoff 1 * 0.5, 2 * 0.5


def test_a_transport_error_is_thrown_into_the_operation_with_its_request() -> None:
    failure = TransportError("reset", request_sent=True)
    connector, transport, _ = make(failure)
    result = asyncio.run(connector.echo("x"))
    assert isinstance(result, Err)
    assert result.error.code == MessagingErrorCodes.CONNECTION_FAILED
    assert result.error.outcome_unknown  # a POST that may have arrived: never retried
    assert failure.request is transport.requests[0]


def test_the_drivers_run_any_generator_of_effects() -> None:
    connector, transport, slept = make(HttpResponse(201, content=b"a"))

    def steps() -> Any:
        yield Sleep(1.5)
        response = yield HttpRequest("GET", "http://ops.test/")
        return response.status_code

    assert drive_blocking(connector, steps()) == 201
    transport.answers.append(HttpResponse(202))
    assert asyncio.run(drive_async(connector, steps())) == 202
    assert slept == [1.5, 1.5]


def test_the_blocking_view_refuses_an_async_only_method() -> None:
    connector, _, _ = make()
    with pytest.raises(AttributeError, match="async-only"):
        connector.blocking().only_async  # noqa: B018


def test_an_operation_gated_by_state_needs_no_request() -> None:
    connector, transport, _ = make()
    assert connector.blocking().shutdown() == Ok(None)
    result = connector.blocking().echo("x")
    assert isinstance(result, Err)
    assert result.error.code == ConnectorErrorCodes.CONNECTOR_SHUT_DOWN
    assert transport.requests == []


def test_rate_limit_waits_are_effects_and_a_cancelled_wait_gives_its_slot_back() -> None:
    transport = Transport(*[HttpResponse(200, content=b"x")] * 3)
    connector = Ops(settings={"MessagesPerSecond": "1"}, async_transport=AsyncTransport(transport))
    slept: list[float] = []

    async def hang(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.Event().wait()

    connector.configure_timing(sleep=hang, clock=lambda: 100.0)  # a frozen clock

    async def scenario() -> None:
        assert await connector.limited_echo("x") == Ok("x")  # the burst's token: no wait
        waiting = asyncio.ensure_future(connector.limited_echo("x"))
        await asyncio.sleep(0)
        assert slept == [1.0]
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        again = asyncio.ensure_future(connector.limited_echo("x"))
        await asyncio.sleep(0)
        assert slept == [1.0, 1.0]  # not 2.0: the cancelled wait's slot was given back
        again.cancel()
        with pytest.raises(asyncio.CancelledError):
            await again

    asyncio.run(scenario())
    assert len(transport.requests) == 1
