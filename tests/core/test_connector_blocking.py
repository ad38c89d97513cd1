"""The blocking twin: same results as the async path, no event loop, shared state."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import pluggy
import pytest

import ratatosk.hookspecs
from ratatosk import (
    COMMON_PARAMETERS,
    BatchSendResult,
    ChannelCapability,
    ChannelEndpoint,
    ChannelParameter,
    ChannelSchema,
    Connector,
    ConnectorErrorCodes,
    ConnectorHealth,
    ConnectorState,
    EndpointType,
    Err,
    ErrorInfo,
    Flow,
    HttpRequest,
    Message,
    MessageBuilder,
    MessageContentType,
    MessageSource,
    MessageStatus,
    MessagingErrorCodes,
    Ok,
    ReceiveResult,
    Result,
    SendResult,
    StatusUpdate,
    hookimpl,
)

TWIN = ChannelSchema(
    "twin", "sms", "1.0",
    capabilities=(ChannelCapability.SEND_MESSAGES | ChannelCapability.MESSAGE_STATUS_QUERY
                  | ChannelCapability.RECEIVE_MESSAGES | ChannelCapability.HANDLE_MESSAGE_STATE
                  | ChannelCapability.HEALTH_CHECK | ChannelCapability.BULK_MESSAGING),
    content_types=(MessageContentType.PLAIN_TEXT,),
    endpoints=(ChannelEndpoint(EndpointType.PHONE_NUMBER, can_send=True, can_receive=True),),
    parameters=(ChannelParameter("Key", required=True, sensitive=True), *COMMON_PARAMETERS),
)


class Twin(Connector):
    """A throwaway connector; counts initializations."""

    default_schema = TWIN
    initializations = 0

    def setup(self) -> Result[None]:
        with _count_lock:
            type(self).initializations += 1
        return Ok(None)

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        assert message.receiver is not None
        body = json.dumps({"to": message.receiver.address, "text": message.text}).encode()
        response = yield HttpRequest("POST", "http://twin.test/messages", content=body)
        if response.status_code != 201:
            header = response.header("retry-after")
            return Err(ErrorInfo(
                MessagingErrorCodes.RATE_LIMITED if response.status_code == 429
                else MessagingErrorCodes.INVALID_RECIPIENT,
                f"HTTP {response.status_code}", provider_code=str(response.status_code),
                retryable=response.status_code == 429,
                retry_after=float(header) if header else None))
        return Ok(SendResult(message.id, response.json()["id"], MessageStatus.QUEUED,
                                    provider_status="queued"))

    def get_message_status_flow(self, remote_id: str) -> Flow[StatusUpdate]:
        response = yield HttpRequest("GET", f"http://twin.test/messages/{remote_id}")
        return Ok(StatusUpdate(remote_id, MessageStatus.SENT, response.json()["status"]))

    def test_connection_flow(self) -> Flow[ConnectorHealth]:
        yield HttpRequest("GET", "http://twin.test/health")
        return Ok(ConnectorHealth(True, "ready", latency_ms=1.0))

    def parse_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        data = source.json_body()
        return Ok(ReceiveResult((MessageBuilder().with_id(data["id"])
                                        .to_phone(data["to"]).with_text(data["text"]).build(),)))

    def parse_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        if source.body == b"bad":
            return Err(ErrorInfo(MessagingErrorCodes.INVALID_WEBHOOK_DATA, "bad"))
        data = source.json_body()
        return Ok(StatusUpdate(data["id"], MessageStatus.DELIVERED, "delivered"))


_count_lock = threading.Lock()


class Api:
    """Deterministic answers; records whether an event loop was running for each request."""

    def __init__(self) -> None:
        self.loop_running: list[bool] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        try:
            asyncio.get_running_loop()
            running = True
        except RuntimeError:
            running = False
        with self.lock:
            self.loop_running.append(running)
        if request.url.path == "/health":
            return httpx.Response(200)
        if request.method == "GET":
            return httpx.Response(200, json={"status": "sent"})
        text = json.loads(request.content)["text"]
        if text == "busy":
            return httpx.Response(429, headers={"Retry-After": "1"})
        if text == "reject":
            return httpx.Response(400)
        return httpx.Response(201, json={"id": f"R-{text}"})


def fresh_pm() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("ratatosk")
    pm.add_hookspecs(ratatosk.hookspecs)
    return pm


async def no_sleep(seconds: float) -> None:
    pass


def twin(api: Api | None = None, pm: pluggy.PluginManager | None = None) -> Twin:
    c = Twin(settings={"Key": "k-123456", "MaxRetries": "1"},
             http_transport=httpx.MockTransport(api or Api()), plugin_manager=pm or fresh_pm())
    return c.configure_timing(sleep=no_sleep, blocking_sleep=lambda seconds: None)


def msg(text: str, index: int = 0) -> Message:
    return (MessageBuilder().with_id(f"id-{text}-{index}").from_phone("+15550001111")
            .to_phone("+15550002222").with_text(text).build())


def normal(value: Any) -> Any:
    """A comparable form of a result: attrs objects as dicts, timestamps and latency dropped."""
    if attrs.has(type(value)):
        return {k: normal(v) for k, v in attrs.asdict(value, recurse=False).items()
                if k not in ("timestamp", "latency_ms")}
    if isinstance(value, (list, tuple)):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    return value


INPUTS = [msg("hello"), msg("busy"), msg("reject"), Message(id="bad", content=None)]
INBOUND = MessageSource.json({"id": "in-1", "to": "+15550001111", "text": "hey"})
STATUS = MessageSource.json({"id": "R-1", "status": "delivered"})


async def run_async(c: Twin) -> list[Any]:
    out: list[Any] = [await c.send_message(m) for m in INPUTS]
    out += [await c.get_message_status("R-hello"), await c.get_message_status(""),
            await c.receive_messages(INBOUND), await c.receive_message_status(STATUS),
            await c.receive_message_status(MessageSource.text("bad")),
            await c.test_connection(), await c.get_health(), await c.get_status()]
    batch = [r async for r in c.send_batch([msg(str(i), i) for i in range(10)] + INPUTS)]
    out.append(sorted(normal(batch), key=lambda r: r["index"]))
    out += [await c.initialize(), await c.shutdown(), await c.send_message(INPUTS[0])]
    return out


def run_blocking(c: Twin) -> list[Any]:
    b = c.blocking()
    out: list[Any] = [b.send_message(m) for m in INPUTS]
    out += [b.get_message_status("R-hello"), b.get_message_status(""),
            b.receive_messages(INBOUND), b.receive_message_status(STATUS),
            b.receive_message_status(MessageSource.text("bad")),
            b.test_connection(), b.get_health(), b.get_status()]
    batch = list(b.send_batch([msg(str(i), i) for i in range(10)] + INPUTS, concurrency=4))
    out.append(sorted(normal(batch), key=lambda r: r["index"]))
    out += [b.initialize(), b.shutdown(), b.send_message(INPUTS[0])]
    return out


async def test_the_blocking_twin_gives_the_same_results_as_the_async_path() -> None:
    expected = normal(await run_async(twin()))
    actual = normal(run_blocking(twin()))
    assert len(actual) == len(expected) == 16
    for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
        assert got == want, index
    # and the results are what they should be, not just equal
    assert expected[0]["data"]["remote_message_id"] == "R-hello"
    assert expected[1]["error"]["code"] == MessagingErrorCodes.RATE_LIMITED
    assert expected[1]["error"]["details"]["attempts"] == 2
    assert expected[2]["error"]["code"] == MessagingErrorCodes.INVALID_RECIPIENT
    assert expected[3]["error"]["code"] == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
    assert expected[-3]["error"]["code"] == ConnectorErrorCodes.ALREADY_INITIALIZED
    assert expected[-1]["error"]["code"] == ConnectorErrorCodes.CONNECTOR_SHUT_DOWN


def test_the_blocking_path_never_runs_or_creates_an_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the blocking path touched asyncio")

    for name in ("new_event_loop", "run", "get_event_loop", "ensure_future"):
        monkeypatch.setattr(asyncio, name, forbidden)
    hook_loops: list[bool] = []

    class Observer:
        @hookimpl
        def ratatosk_after_send(self, connector: Connector, message: Message,
                                result: Result[SendResult]) -> None:
            try:
                asyncio.get_running_loop()
                hook_loops.append(True)
            except RuntimeError:
                hook_loops.append(False)

    pm = fresh_pm()
    pm.register(Observer())
    api = Api()
    out = run_blocking(twin(api, pm))
    assert out[0].is_success
    assert api.loop_running and not any(api.loop_running)
    assert hook_loops and not any(hook_loops)


async def test_the_view_shares_the_connectors_state() -> None:
    c = twin()
    b = c.blocking()
    assert c.blocking() is b
    assert b.state is ConnectorState.UNINITIALIZED
    assert b.initialize().is_success
    assert c.state is ConnectorState.READY
    again = await c.initialize()
    assert again.error is not None and again.error.code == ConnectorErrorCodes.ALREADY_INITIALIZED
    assert b.schema is c.schema and b.settings is c.settings and b.parameters is c.parameters
    assert "k-123456" not in repr(b)


def test_with_initializes_and_closes_the_transport_it_created() -> None:
    c = twin()
    with c.blocking() as b:
        assert b.state is ConnectorState.READY
        assert b.send_message(msg("x")).is_success
        client = c.runtime.sync_transport()._client  # type: ignore[attr-defined]
    assert c.state is ConnectorState.SHUTDOWN
    assert client.is_closed
    assert b.shutdown().is_success  # idempotent


async def test_a_blocking_shutdown_after_async_use_then_async_shutdown_is_a_no_op() -> None:
    c = twin()
    assert (await c.send_message(msg("a"))).is_success
    assert c.blocking().send_message(msg("b")).is_success
    assert c.blocking().shutdown().is_success
    assert c.state is ConnectorState.SHUTDOWN
    assert (await c.shutdown()).is_success


def test_concurrent_first_use_from_threads_initializes_once() -> None:
    Twin.initializations = 0
    c = twin()
    results: list[Result[SendResult]] = []
    barrier = threading.Barrier(8)

    def send() -> None:
        barrier.wait()
        results.append(c.blocking().send_message(msg("t")))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r.is_success for r in results)
    assert Twin.initializations == 1


def test_the_blocking_batch_rejects_async_iterables() -> None:
    class Stream:
        def __aiter__(self) -> AsyncIterator[Message]:
            raise AssertionError("not iterated")

    with pytest.raises(TypeError):
        list(twin().blocking().send_batch(Stream()))  # type: ignore[arg-type]


def test_blocking_batch_results_are_batch_send_results() -> None:
    results = list(twin().blocking().send_batch([msg("a"), msg("b")], concurrency=2))
    assert all(isinstance(r, BatchSendResult) for r in results)
    assert {r.result.unwrap().remote_message_id for r in results} == {"R-a", "R-b"}
