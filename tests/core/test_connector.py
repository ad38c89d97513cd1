"""The connector base: lifecycle, gating, validation, hooks, errors, webhooks, loopback HTTP."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Awaitable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pluggy
import pytest
from example_connector import KESTREL_SMS, SIMPLE_SMS, KestrelSmsConnector

import ratatosk
import ratatosk.hookspecs
from ratatosk import (
    COMMON_PARAMETERS,
    ChannelCapability,
    ChannelEndpoint,
    ChannelParameter,
    ChannelSchema,
    ConnectionSettings,
    Connector,
    ConnectorErrorCodes,
    ConnectorHealth,
    ConnectorState,
    EndpointType,
    Err,
    ErrorInfo,
    Flow,
    HttpRequest,
    HttpResponse,
    Message,
    MessageBuilder,
    MessageContentType,
    MessageSource,
    MessageStatus,
    MessagingError,
    MessagingErrorCodes,
    Ok,
    ParameterType,
    ReceiveResult,
    Result,
    SendResult,
    StatusUpdate,
    hookimpl,
)
from ratatosk.connector import (
    CAPABILITY_METHODS,
    COMMON_DEFAULTS,
    OPERATION_CAPABILITIES,
    BlockingConnector,
)

TOKEN = "tok-very-secret-123"
ALL = (
    ChannelCapability.SEND_MESSAGES
    | ChannelCapability.MESSAGE_STATUS_QUERY
    | ChannelCapability.RECEIVE_MESSAGES
    | ChannelCapability.HANDLE_MESSAGE_STATE
    | ChannelCapability.HEALTH_CHECK
    | ChannelCapability.BULK_MESSAGING
)
PROBE = ChannelSchema(
    "probe", "sms", "1.0",
    capabilities=ALL,
    content_types=(MessageContentType.PLAIN_TEXT,),
    endpoints=(ChannelEndpoint(EndpointType.PHONE_NUMBER, can_send=True, can_receive=True),),
    parameters=(
        ChannelParameter("Token", required=True, sensitive=True),
        ChannelParameter("BaseUrl", ParameterType.URL, default="http://probe.test"),
        *COMMON_PARAMETERS,
    ),
)
SEND_ONLY = PROBE.derive(name="SendOnly").remove_capabilities(
    ChannelCapability.MESSAGE_STATUS_QUERY, ChannelCapability.RECEIVE_MESSAGES,
    ChannelCapability.HANDLE_MESSAGE_STATE, ChannelCapability.HEALTH_CHECK,
    ChannelCapability.BULK_MESSAGING)


class Probe(Connector):
    """A throwaway connector speaking a tiny JSON API; it records what the base asks of it."""

    provider = "probe"
    connector_type = "sms"
    default_schema = PROBE
    presets = {"SendOnly": SEND_ONLY}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []
        self.seen_states: list[ConnectorState] = []
        self.init_result: Result[None] | None = None
        self.raise_in: str | None = None

    def _maybe_raise(self, where: str) -> None:
        if self.raise_in == where:
            raise RuntimeError(f"boom in {where} with {TOKEN}")

    def setup(self) -> Result[None]:
        self.calls.append("initialize")
        self.seen_states.append(self.state)
        self._maybe_raise("initialize")
        self.base = self.parameters["BaseUrl"]
        return self.init_result or Ok(None)

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        self._maybe_raise("send")
        assert message.receiver is not None
        body = json.dumps({"to": message.receiver.address, "text": message.text}).encode()
        response = yield HttpRequest("POST", f"{self.base}/messages",
                                     (("Authorization", self.parameters["Token"]),), body)
        self._maybe_raise("send-response")
        if response.status_code != 201:
            return Err(ErrorInfo(MessagingErrorCodes.SEND_MESSAGE_FAILED,
                                         f"HTTP {response.status_code}",
                                         retryable=response.status_code in (429, 503)))
        data = response.json()
        return Ok(SendResult(message.id, data["id"], MessageStatus.QUEUED))

    def get_message_status_flow(self, remote_id: str) -> Flow[StatusUpdate]:
        self._maybe_raise("status")
        response = yield HttpRequest("GET", f"{self.base}/messages/{remote_id}")
        return Ok(StatusUpdate(remote_id, MessageStatus(response.json()["status"])))

    def test_connection_flow(self) -> Flow[ConnectorHealth]:
        response = yield HttpRequest("GET", f"{self.base}/health")
        if response.status_code != 200:
            return Err(ErrorInfo(MessagingErrorCodes.CONNECTION_FAILED, "unhealthy"))
        return Ok(ConnectorHealth(True, "ready"))

    def parse_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        self._maybe_raise("receive")
        items = source.json_body()
        return Ok(ReceiveResult(tuple(
            MessageBuilder().with_id(i["id"]).from_phone(i["from"]).to_phone(i["to"])
            .with_text(i["text"]).build() for i in items)))

    def parse_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        self._maybe_raise("receive-status")
        data = source.json_body()
        return Ok(StatusUpdate(data["id"], MessageStatus(data["status"])))

    def teardown(self) -> None:
        self.calls.append("shutdown")
        self.seen_states.append(self.state)


class Api:
    """An httpx.MockTransport handler for the probe API that counts requests."""

    def __init__(self, status: int = 201) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/health":
            return httpx.Response(200 if self.status < 400 else self.status)
        if request.method == "GET":
            return httpx.Response(200, json={"status": "delivered"})
        if self.status != 201:
            return httpx.Response(self.status)
        return httpx.Response(201, json={"id": f"R{len(self.requests)}"})


def fresh_pm() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("ratatosk")
    pm.add_hookspecs(ratatosk.hookspecs)
    return pm


def probe(api: Api | None = None, settings: Any = None, **kwargs: Any) -> Probe:
    transport = httpx.MockTransport(api or Api())
    kwargs.setdefault("plugin_manager", fresh_pm())
    return Probe(kwargs.pop("schema", None),
                 {"Token": TOKEN} if settings is None else settings,
                 http_transport=transport, **kwargs)


def state_of(connector: Connector | BlockingConnector) -> ConnectorState:
    """The state, read through a call (so type checkers do not narrow it across awaits)."""
    return connector.state


def msg(text: str = "hi", to: str = "+15550002222") -> Message:
    return MessageBuilder().from_phone("+15550001111").to_phone(to).with_text(text).build()


# -- lifecycle ----------------------------------------------------------------------------------


async def test_initialize_resolves_parameters_once_and_moves_to_ready() -> None:
    c = probe(settings={"Token": TOKEN, "Timeout": "7.5", "MaxRetries": "1"})
    assert state_of(c) is ConnectorState.UNINITIALIZED
    assert c.parameters == {}
    result = await c.initialize()
    assert result.is_success
    assert state_of(c) is ConnectorState.READY
    assert c.seen_states == [ConnectorState.INITIALIZING]
    assert c.parameters["Timeout"] == 7.5
    assert c.parameters["MaxRetries"] == 1
    assert c.parameters["RetryBaseDelay"] == COMMON_DEFAULTS["RetryBaseDelay"]
    assert c.parameters["BaseUrl"] == "http://probe.test"

    again = await c.initialize()
    assert again.error is not None
    assert again.error.code == ConnectorErrorCodes.ALREADY_INITIALIZED
    assert again.error.domain == ConnectorErrorCodes.DOMAIN
    assert c.calls == ["initialize"]


def test_common_defaults_match_the_declared_common_parameters() -> None:
    declared = {p.name: p.default for p in COMMON_PARAMETERS}
    assert declared == dict(COMMON_DEFAULTS)


async def test_every_settings_problem_is_reported_and_the_state_is_error() -> None:
    api = Api()
    c = probe(api, settings={"Timeout": "soon", "Bogus": "1", "MaxRetries": "-2"})
    result = await c.initialize()
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    fields = {issue.field for issue in result.error.issues}
    assert {"Token", "Timeout", "Bogus", "MaxRetries"} <= fields
    assert state_of(c) is ConnectorState.ERROR
    assert c.calls == []  # setup never ran
    # operations return the initialization error, without I/O
    sent = await c.send_message(msg())
    assert sent.error == result.error
    assert api.requests == []
    status = (await c.get_status()).unwrap()
    assert status.state == "error"
    assert status.details["error_code"] == MessagingErrorCodes.INVALID_CONFIGURATION


async def test_a_malformed_settings_string_is_an_error_result_without_the_secret() -> None:
    c = probe(settings=f'Token="{TOKEN}')  # unterminated quote
    result = await c.initialize()
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
    assert TOKEN not in str(result.error)


async def test_settings_may_be_a_string_a_mapping_or_connection_settings() -> None:
    given = ConnectionSettings().set_parameter("Token", TOKEN)
    for settings in (f"Token={TOKEN};MessagesPerSecond=5", {"Token": TOKEN}, given):
        c = probe(settings=settings)
        assert (await c.initialize()).is_success
        assert c.parameters["Token"] == TOKEN
    # the connector keeps its own copy
    c = probe(settings=given)
    given.set_parameter("Token", "changed")
    assert c.settings.get_parameter("Token") == TOKEN
    with pytest.raises(TypeError):
        Probe(None, 42)


async def test_do_initialize_failures_leave_the_state_error_and_can_be_retried() -> None:
    c = probe()
    c.init_result = Err(ErrorInfo(MessagingErrorCodes.MISSING_CREDENTIALS, "no key"))
    result = await c.initialize()
    assert result.error is not None and result.error.code == MessagingErrorCodes.MISSING_CREDENTIALS
    assert state_of(c) is ConnectorState.ERROR
    # a lazy operation does not retry: it returns the stored error
    assert (await c.send_message(msg())).error == result.error
    assert c.calls == ["initialize"]
    # an explicit initialize() retries
    c.init_result = None
    assert (await c.initialize()).is_success
    assert state_of(c) is ConnectorState.READY


async def test_do_initialize_raising_is_initialization_error_with_secrets_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = probe()
    c.raise_in = "initialize"
    with caplog.at_level(logging.DEBUG, logger="ratatosk"):
        result = await c.initialize()
    assert "Traceback" in caplog.text and "boom in initialize" in caplog.text
    assert TOKEN not in caplog.text
    assert result.error is not None
    assert result.error.code == ConnectorErrorCodes.INITIALIZATION_ERROR
    assert result.error.domain == ConnectorErrorCodes.DOMAIN
    assert "RuntimeError" in result.error.message
    assert TOKEN not in result.error.message
    assert "********" in result.error.message
    assert state_of(c) is ConnectorState.ERROR


async def test_the_first_operation_initializes_lazily() -> None:
    api = Api()
    c = probe(api)
    result = await c.send_message(msg())
    assert result.is_success
    assert state_of(c) is ConnectorState.READY
    assert c.calls == ["initialize"]
    await c.send_message(msg())
    assert c.calls == ["initialize"]


async def test_shutdown_is_idempotent_and_closes_only_what_it_created() -> None:
    c = probe()
    assert (await c.send_message(msg())).is_success
    created = c.runtime.async_transport()
    assert created is not None
    assert (await c.shutdown()).is_success
    assert state_of(c) is ConnectorState.SHUTDOWN
    assert c.seen_states[-1] is ConnectorState.SHUTTING_DOWN
    assert created._client.is_closed  # type: ignore[attr-defined]
    assert (await c.shutdown()).is_success
    assert c.calls == ["initialize", "shutdown"]

    class Given:
        closed = 0

        async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
            return HttpResponse(201, {}, b'{"id": "R"}')

        async def aclose(self) -> None:
            self.closed += 1

    given = Given()
    d = Probe(None, {"Token": TOKEN}, async_transport=given, plugin_manager=fresh_pm())
    assert (await d.send_message(msg())).is_success
    await d.shutdown()
    assert given.closed == 0


async def test_shutdown_before_initialize_skips_do_shutdown() -> None:
    c = probe()
    assert (await c.shutdown()).is_success
    assert state_of(c) is ConnectorState.SHUTDOWN
    assert c.calls == []


async def test_every_operation_after_shutdown_is_connector_shut_down() -> None:
    api = Api()
    c = probe(api)
    await c.initialize()
    await c.shutdown()
    results: list[Result[Any]] = [
        await c.initialize(),
        await c.send_message(msg()),
        await c.get_message_status("R1"),
        await c.test_connection(),
        await c.receive_messages(MessageSource.json([])),
        await c.receive_message_status(MessageSource.json({})),
        c.blocking().send_message(msg()),
    ]
    results += [item.result async for item in c.send_batch([msg(), msg()])]
    assert len(results) == 9
    for result in results:
        assert result.error is not None
        assert result.error.code == ConnectorErrorCodes.CONNECTOR_SHUT_DOWN
    assert api.requests == []
    assert (await c.get_status()).unwrap().state == "shutdown"
    health = (await c.get_health()).unwrap()
    assert not health.is_healthy and health.state == "shutdown"


async def test_async_with_initializes_and_shuts_down() -> None:
    async with probe() as c:
        assert state_of(c) is ConnectorState.READY
        assert (await c.send_message(msg())).is_success
    assert state_of(c) is ConnectorState.SHUTDOWN


def test_reentrant_initialize_from_do_initialize_is_an_error() -> None:
    class Reentrant(Probe):
        def setup(self) -> Result[None]:
            self.inner = self.blocking().send_message(msg())
            return Ok(None)

    c = Reentrant(None, {"Token": TOKEN}, http_transport=httpx.MockTransport(Api()),
                  plugin_manager=fresh_pm())
    assert c.blocking().initialize().is_success
    assert c.inner.error is not None
    assert c.inner.error.code == ConnectorErrorCodes.INITIALIZATION_ERROR


# -- schema, presets, capabilities ---------------------------------------------------------------


def test_schema_selection_by_object_preset_name_or_default() -> None:
    assert Probe().schema is PROBE
    assert Probe("SendOnly").schema is SEND_ONLY
    assert Probe(SEND_ONLY).schema is SEND_ONLY
    with pytest.raises(MessagingError) as info:
        Probe("Nope")
    assert info.value.code == MessagingErrorCodes.INVALID_CONFIGURATION

    class NoSchema(Connector):
        provider = "none"
        connector_type = "x"

    with pytest.raises(TypeError):
        NoSchema()


async def test_operations_the_schema_lacks_are_gated_without_io() -> None:
    api = Api()
    c = probe(api, schema="SendOnly")
    gated: list[Result[Any]] = [
        await c.get_message_status("R1"),
        await c.test_connection(),
        await c.receive_messages(MessageSource.json([])),
        await c.receive_message_status(MessageSource.json({})),
        c.blocking().get_message_status("R1"),
        c.blocking().test_connection(),
    ]
    gated += [item.result async for item in c.send_batch([msg()])]
    gated += [item.result for item in c.blocking().send_batch([msg()])]
    for result in gated:
        assert result.error is not None
        assert result.error.code == ConnectorErrorCodes.CAPABILITY_NOT_SUPPORTED
        names = {capability.name for capability in OPERATION_CAPABILITIES.values()}
        assert result.error.details["capability"] in names
    assert api.requests == []
    # without HEALTH_CHECK, health is decided by the state (no I/O)
    health = (await c.get_health()).unwrap()
    assert health.is_healthy and health.state == "ready"
    assert api.requests == []
    assert (await c.send_message(msg())).is_success


def test_implemented_capabilities_reports_the_overridden_do_methods() -> None:
    assert Connector.implemented_capabilities() == ChannelCapability.NONE
    assert Probe.implemented_capabilities() == ALL & ~ChannelCapability.BULK_MESSAGING

    class SendOnly(Connector):
        default_schema = PROBE

        def send_message_flow(self, message: Message) -> Flow[SendResult]:
            return Ok(SendResult(message.id, None, MessageStatus.SENT))
            yield

    assert SendOnly.implemented_capabilities() == ChannelCapability.SEND_MESSAGES
    assert set(CAPABILITY_METHODS) | {ChannelCapability.BULK_MESSAGING} == set(
        OPERATION_CAPABILITIES.values())


async def test_a_declared_but_unimplemented_capability_is_an_error_result() -> None:
    class Lazy(Connector):
        default_schema = PROBE

    c = Lazy(None, {"Token": TOKEN}, plugin_manager=fresh_pm())
    results: list[Result[Any]] = [
        await c.send_message(msg()),
        await c.get_message_status("R1"),
        await c.test_connection(),
        await c.receive_messages(MessageSource.json([])),
        await c.receive_message_status(MessageSource.json({})),
    ]
    for result in results:
        assert result.error is not None
        assert result.error.code == ConnectorErrorCodes.CAPABILITY_NOT_SUPPORTED
        assert "does not implement" in result.error.message


# -- validation, timeouts, programming errors ---------------------------------------------------


async def test_an_invalid_message_fails_with_every_issue_before_any_io_or_hook() -> None:
    api = Api()
    calls: list[str] = []

    class Spy:
        @hookimpl
        def ratatosk_before_send(self, connector: Connector, message: Message) -> None:
            calls.append("before")

    pm = fresh_pm()
    pm.register(Spy())
    c = probe(api, plugin_manager=pm)
    bad = Message(content=None, receiver=None, properties={"Unknown": 1})
    result = await c.send_message(bad)
    assert result.error is not None
    assert result.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
    fields = {issue.field for issue in result.error.issues}
    assert {"content", "receiver", "properties.Unknown"} <= fields
    blocking = c.blocking().send_message(bad)
    assert blocking.error == result.error
    assert api.requests == []
    assert calls == []

    empty_id = await c.get_message_status("  ")
    assert empty_id.error is not None
    assert empty_id.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
    assert api.requests == []


async def test_wrong_argument_types_raise() -> None:
    c = probe()
    with pytest.raises(TypeError):
        await c.send_message("hello")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await c.get_message_status(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await c.receive_messages(b"body")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        async for _ in c.send_batch([], concurrency=0):
            pass


async def test_the_timeout_parameter_reaches_the_transport_for_every_request() -> None:
    seen: list[float | None] = []

    class Recording:
        async def send(self, request: HttpRequest, *, timeout: float | None) -> HttpResponse:
            seen.append(timeout)
            if request.method == "GET":
                return HttpResponse(200, {}, b'{"status": "sent"}')
            return HttpResponse(201, {}, b'{"id": "R"}')

        async def aclose(self) -> None:
            pass

    c = Probe(None, {"Token": TOKEN, "Timeout": "2.5"}, async_transport=Recording(),
              plugin_manager=fresh_pm())
    await c.send_message(msg())
    await c.get_message_status("R")
    await c.test_connection()
    assert seen == [2.5, 2.5, 2.5]
    d = Probe(None, {"Token": TOKEN}, async_transport=Recording(), plugin_manager=fresh_pm())
    await d.send_message(msg())
    assert seen[-1] == 30.0


async def test_exceptions_in_provider_code_become_operation_specific_errors() -> None:
    c = probe()
    expectations: dict[str, tuple[Awaitable[Result[Any]], str]] = {
        "send": (c.send_message(msg()), MessagingErrorCodes.SEND_MESSAGE_FAILED),
        "send-response": (c.send_message(msg()), MessagingErrorCodes.SEND_MESSAGE_FAILED),
        "status": (c.get_message_status("R1"), ConnectorErrorCodes.GET_STATUS_ERROR),
        "receive": (c.receive_messages(MessageSource.json([])),
                    ConnectorErrorCodes.RECEIVE_MESSAGES_ERROR),
        "receive-status": (c.receive_message_status(MessageSource.json({})),
                           ConnectorErrorCodes.RECEIVE_STATUS_ERROR),
    }
    for where, (operation, code) in expectations.items():
        c.raise_in = where
        result = await operation
        assert result.error is not None, where
        assert result.error.code == code, where
        assert TOKEN not in str(result.error)
        assert result.error.details["exception"] == "RuntimeError"
    c.raise_in = "status"
    blocking = c.blocking().get_message_status("R1")
    assert blocking.error is not None
    assert blocking.error.code == ConnectorErrorCodes.GET_STATUS_ERROR


async def test_a_flow_that_returns_something_else_than_a_result_is_an_error() -> None:
    class Sloppy(Probe):
        def send_message_flow(self, message: Message) -> Flow[SendResult]:
            yield HttpRequest("POST", "http://probe.test/messages")
            return "ok"  # type: ignore[return-value]

    c = Sloppy(None, {"Token": TOKEN}, http_transport=httpx.MockTransport(Api()),
               plugin_manager=fresh_pm())
    result = await c.send_message(msg())
    assert result.error is not None
    assert result.error.code == MessagingErrorCodes.SEND_MESSAGE_FAILED
    assert "not a Result" in result.error.message


async def test_settings_are_resolved_once_not_per_message(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    original = ChannelSchema.resolve_settings

    def counting(self: ChannelSchema, settings: Any) -> Result[dict[str, Any]]:
        nonlocal calls
        calls += 1
        return original(self, settings)

    monkeypatch.setattr(ChannelSchema, "resolve_settings", counting)
    c = probe()
    for _ in range(50):
        assert (await c.send_message(msg())).is_success
    assert calls == 1


async def test_successful_sends_log_nothing_at_info(caplog: pytest.LogCaptureFixture) -> None:
    c = probe()
    with caplog.at_level(logging.DEBUG, logger="ratatosk"):
        for _ in range(20):
            await c.send_message(msg())
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []


def test_repr_and_str_never_show_secrets() -> None:
    c = probe()
    c.blocking().initialize()
    for text in (repr(c), str(c), repr(c.blocking()), repr(c.settings), str(c.settings)):
        assert TOKEN not in text
    assert "probe/sms" in repr(c) and "READY" in repr(c)


# -- status and health ---------------------------------------------------------------------------


async def test_get_status_describes_without_initializing() -> None:
    c = probe()
    info = (await c.get_status()).unwrap()
    assert info.state == "uninitialized"
    assert state_of(c) is ConnectorState.UNINITIALIZED
    assert info.details["schema"] == "probe/sms/1.0"
    assert "SEND_MESSAGES" in info.details["capabilities"]
    await c.initialize()
    assert (await c.get_status()).unwrap().state == "ready"


async def test_get_health_uses_test_connection_when_health_check_is_declared() -> None:
    api = Api()
    c = probe(api)
    health = (await c.get_health()).unwrap()
    assert health.is_healthy
    assert health.latency_ms is not None and health.latency_ms >= 0
    assert [r.url.path for r in api.requests] == ["/health"]
    api.status = 503
    sick = await c.get_health()
    assert sick.is_success
    assert sick.data is not None and not sick.data.is_healthy
    assert sick.data.details["error_code"] == MessagingErrorCodes.CONNECTION_FAILED
    assert c.blocking().get_health().unwrap().is_healthy is False
    tested = await c.test_connection()
    assert tested.error is not None and tested.error.code == MessagingErrorCodes.CONNECTION_FAILED


async def test_get_health_without_health_check_reports_initialization_problems() -> None:
    c = probe(settings={}, schema="SendOnly")
    health = (await c.get_health()).unwrap()
    assert not health.is_healthy
    assert health.state == "error"
    assert "Token" in health.issues[0]


# -- hooks ---------------------------------------------------------------------------------------


async def test_before_send_may_rewrite_and_after_send_sees_the_result() -> None:
    api = Api()
    seen: list[tuple[str | None, Result[SendResult]]] = []

    class Rewriter:
        @hookimpl
        def ratatosk_before_send(self, connector: Connector, message: Message) -> Message:
            assert message.sender is not None and message.receiver is not None
            return (MessageBuilder().with_id(message.id).from_endpoint(message.sender)
                    .to_endpoint(message.receiver).with_text(f"[{message.text}]").build())

        @hookimpl
        def ratatosk_after_send(self, connector: Connector, message: Message,
                                result: Result[SendResult]) -> None:
            seen.append((message.text, result))

    pm = fresh_pm()
    plugin = Rewriter()
    pm.register(plugin)
    c = probe(api, plugin_manager=pm)
    result = await c.send_message(msg("hello"))
    assert result.is_success
    assert json.loads(api.requests[0].content)["text"] == "[hello]"
    assert seen == [("[hello]", result)]
    blocking = c.blocking().send_message(msg("again"))
    assert json.loads(api.requests[1].content)["text"] == "[again]"
    assert seen[-1] == ("[again]", blocking)
    pm.unregister(plugin)
    await c.send_message(msg("plain"))
    assert json.loads(api.requests[2].content)["text"] == "plain"
    assert len(seen) == 2


async def test_the_first_replacement_pluggy_returns_wins() -> None:
    api = Api()

    def rewriter(text: str) -> object:
        class Plugin:
            @hookimpl
            def ratatosk_before_send(self, connector: Connector, message: Message) -> Message:
                return msg(text)

        return Plugin()

    class Abstains:
        @hookimpl
        def ratatosk_before_send(self, connector: Connector, message: Message) -> None:
            return None

    pm = fresh_pm()
    pm.register(rewriter("first registered"))
    pm.register(rewriter("last registered"))
    pm.register(Abstains())
    c = probe(api, plugin_manager=pm)
    await c.send_message(msg())
    # pluggy calls the last registered implementation first: its replacement is used
    assert json.loads(api.requests[0].content)["text"] == "last registered"


async def test_a_replacement_is_validated_and_after_send_sees_the_failure() -> None:
    api = Api()
    seen: list[Result[SendResult]] = []

    class Breaker:
        @hookimpl
        def ratatosk_before_send(self, connector: Connector, message: Message) -> Message:
            return Message(id=message.id, receiver=message.receiver, content=None)

        @hookimpl
        def ratatosk_after_send(self, connector: Connector, message: Message,
                                result: Result[SendResult]) -> None:
            seen.append(result)

    pm = fresh_pm()
    pm.register(Breaker())
    result = await probe(api, plugin_manager=pm).send_message(msg())
    assert result.error is not None
    assert result.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
    assert seen == [result]
    assert api.requests == []


async def test_hook_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    api = Api()

    class Bad:
        @hookimpl
        def ratatosk_before_send(self, connector: Connector, message: Message) -> Message:
            if message.text == "explode":
                raise ValueError(f"plugin bug {TOKEN}")
            return "not a message"  # type: ignore[return-value]

    class BadAfter:
        @hookimpl
        def ratatosk_after_send(self, connector: Connector, message: Message,
                                result: Result[SendResult]) -> None:
            raise ValueError("after bug")

    pm = fresh_pm()
    pm.register(Bad())
    c = probe(api, plugin_manager=pm)
    exploded = await c.send_message(msg("explode"))
    assert exploded.error is not None
    assert exploded.error.code == MessagingErrorCodes.SEND_MESSAGE_FAILED
    assert TOKEN not in str(exploded.error)
    wrong_type = await c.send_message(msg("x"))
    assert wrong_type.error is not None and "TypeError" in wrong_type.error.message
    assert api.requests == []

    pm2 = fresh_pm()
    pm2.register(BadAfter())
    d = probe(api, plugin_manager=pm2)
    with caplog.at_level(logging.ERROR, logger="ratatosk.connector"):
        result = await d.send_message(msg())
    assert result.is_success  # the message went out: an observer's bug does not change that
    assert len(api.requests) == 1
    assert any("after bug" in r.getMessage() for r in caplog.records)


async def test_receive_hooks_see_each_message_and_status_update() -> None:
    received: list[str] = []
    updates: list[StatusUpdate] = []

    class Observer:
        @hookimpl
        def ratatosk_message_received(self, connector: Connector, message: Message) -> None:
            received.append(message.id)

        @hookimpl
        def ratatosk_status_received(self, connector: Connector, update: StatusUpdate) -> None:
            updates.append(update)

    pm = fresh_pm()
    pm.register(Observer())
    c = probe(plugin_manager=pm)
    source = MessageSource.json([
        {"id": "m1", "from": "+15550001111", "to": "+15550002222", "text": "a"},
        {"id": "m2", "from": "+15550001111", "to": "+15550002222", "text": "b"},
    ])
    result = await c.receive_messages(source)
    assert [m.id for m in result.unwrap().messages] == ["m1", "m2"]
    assert received == ["m1", "m2"]
    c.blocking().receive_messages(source)
    assert received == ["m1", "m2", "m1", "m2"]
    status = await c.receive_message_status(MessageSource.json({"id": "R1", "status": "delivered"}))
    assert updates == [status.unwrap()]
    assert status.unwrap().status is MessageStatus.DELIVERED


async def test_without_a_plugin_manager_the_global_one_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ratatosk import plugins as _plugins

    monkeypatch.setenv("RATATOSK_DISABLE_PLUGINS", "1")
    _plugins.reset_plugin_manager()
    texts: list[str | None] = []

    class Global:
        @hookimpl
        def ratatosk_after_send(self, connector: Connector, message: Message,
                                result: Result[SendResult]) -> None:
            texts.append(message.text)

    plugin = Global()
    _plugins.register_plugin(plugin, "connector-test-global")
    try:
        c = Probe(None, {"Token": TOKEN}, http_transport=httpx.MockTransport(Api()))
        assert (await c.send_message(msg("global"))).is_success
        assert texts == ["global"]
    finally:
        _plugins.unregister_plugin(plugin)
        _plugins.reset_plugin_manager()


# -- the guide's example connector ----------------------------------------------------------------


def test_the_guide_embeds_the_example_connector_verbatim() -> None:
    root = Path(__file__).resolve().parents[2]
    guide = (root / "docs" / "connectors.md").read_text(encoding="utf-8")
    code = (Path(__file__).with_name("example_connector.py")).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)
    assert code in blocks


def test_the_example_connector_declares_what_it_implements() -> None:
    declared = KESTREL_SMS.capabilities
    implemented = KestrelSmsConnector.implemented_capabilities()
    assert implemented == declared & ChannelCapability(
        sum(c.value for c in CAPABILITY_METHODS))
    assert SIMPLE_SMS.is_restriction_of(KESTREL_SMS)
    for preset in KestrelSmsConnector.presets.values():
        assert preset.is_restriction_of(KestrelSmsConnector.default_schema)


class KestrelServer:
    """A loopback Kestrel API (stdlib http.server in a thread)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.script: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append((self.command, self.path, dict(self.headers), body))
                status: int
                headers: dict[str, str]
                payload: dict[str, Any]
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    status, headers, payload = 401, {}, {"error": {"code": "auth",
                                                                   "message": "bad key"}}
                elif server.script:
                    status, headers, payload = server.script.pop(0)
                elif self.path == "/v1/health":
                    status, headers, payload = 200, {}, {"ok": True}
                elif self.command == "POST":
                    status, headers, payload = 201, {}, {"id": f"K{len(server.requests)}",
                                                         "status": "queued"}
                else:
                    remote_id = self.path.rsplit("/", 1)[-1]
                    status, headers, payload = 200, {}, {"id": remote_id, "status": "delivered"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> KestrelServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def kestrel() -> Iterator[KestrelServer]:
    with KestrelServer() as server:
        yield server


def kestrel_message() -> Message:
    return (MessageBuilder().with_id("k-1").from_phone("+15550001111").to_phone("+15550002222")
            .with_text("Hello over loopback").with_validity_period(300).build())


async def test_example_connector_over_loopback_http_async(kestrel: KestrelServer) -> None:
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    settings = {"ApiKey": TOKEN, "BaseUrl": kestrel.base_url}
    async with KestrelSmsConnector(settings=settings, plugin_manager=fresh_pm()) as c:
        c.configure_timing(sleep=fake_sleep)
        sent = (await c.send_message(kestrel_message())).unwrap()
        assert sent.message_id == "k-1" and sent.status is MessageStatus.QUEUED
        method, path, _, body = kestrel.requests[-1]
        assert (method, path) == ("POST", "/v1/messages")
        assert json.loads(body) == {"to": "+15550002222", "from": "+15550001111",
                                    "text": "Hello over loopback", "validity": 300}
        status = (await c.get_message_status(sent.remote_message_id or "")).unwrap()
        assert status.status is MessageStatus.DELIVERED
        assert (await c.test_connection()).unwrap().is_healthy
        # a 429 with Retry-After is retried after that long, over the real socket
        kestrel.script.append((429, {"Retry-After": "2"},
                               {"error": {"code": "slow", "message": "slow down"}}))
        assert (await c.send_message(kestrel_message())).is_success
        # Retry-After 2 plus its random extra (up to RetryBaseDelay, 0.5 s)
        assert len(sleeps) == 1 and 2.0 <= sleeps[0] <= 2.5
        # a rejected recipient is mapped, not retried
        kestrel.script.append((400, {}, {"error": {"code": "bad_recipient", "message": "no"}}))
        rejected = await c.send_message(kestrel_message())
        assert rejected.error is not None
        assert rejected.error.code == MessagingErrorCodes.INVALID_RECIPIENT
        assert rejected.error.provider_code == "bad_recipient"
    assert state_of(c) is ConnectorState.SHUTDOWN


def test_example_connector_over_loopback_http_blocking(kestrel: KestrelServer) -> None:
    settings = f"ApiKey={TOKEN};BaseUrl={kestrel.base_url}"
    with KestrelSmsConnector(settings=settings, plugin_manager=fresh_pm()).blocking() as c:
        sent = c.send_message(kestrel_message()).unwrap()
        assert sent.remote_message_id is not None
        assert c.get_message_status(sent.remote_message_id).unwrap().status is (
            MessageStatus.DELIVERED)
        assert c.get_health().unwrap().is_healthy
        results = list(c.send_batch([kestrel_message() for _ in range(6)], concurrency=3))
        assert len(results) == 6 and all(r.is_success for r in results)
    assert state_of(c) is ConnectorState.SHUTDOWN
    posts = [r for r in kestrel.requests if r[0] == "POST"]
    assert len(posts) == 7


async def test_example_connector_maps_bad_credentials(kestrel: KestrelServer) -> None:
    settings = {"ApiKey": "wrong-key", "BaseUrl": kestrel.base_url}
    c = KestrelSmsConnector(settings=settings, plugin_manager=fresh_pm())
    result = await c.send_message(kestrel_message())
    assert result.error is not None
    assert result.error.code == ConnectorErrorCodes.AUTHENTICATION_FAILED
    health = (await c.get_health()).unwrap()
    assert not health.is_healthy
    assert health.details["error_code"] == ConnectorErrorCodes.AUTHENTICATION_FAILED
    await c.shutdown()


async def test_example_connector_webhooks() -> None:
    c = KestrelSmsConnector(settings={"ApiKey": TOKEN}, plugin_manager=fresh_pm())
    inbound = MessageSource.json({"id": "in-1", "from": "+15550002222", "to": "+15550001111",
                                  "text": "Hi back"})
    received = (await c.receive_messages(inbound)).unwrap()
    assert received.messages[0].text == "Hi back"
    bad = await c.receive_messages(MessageSource.json({"nope": 1}))
    assert bad.error is not None and bad.error.code == MessagingErrorCodes.INVALID_WEBHOOK_DATA
    update = (await c.receive_message_status(
        MessageSource.json({"id": "K1", "status": "failed"}))).unwrap()
    assert update.status is MessageStatus.DELIVERY_FAILED


def test_public_names_are_exported_lazily() -> None:
    assert ratatosk.Connector is Connector
    assert ratatosk.ConnectorState is ConnectorState
    assert ratatosk.BlockingConnector is type(probe().blocking())


def test_every_lifecycle_code_the_base_raises_is_asserted_by_these_tests() -> None:
    here = Path(__file__).resolve()
    package = here.parents[2] / "core" / "src" / "ratatosk" / "connector"
    source = "".join(p.read_text() for p in package.glob("*.py"))
    raised = set(re.findall(r"ConnectorErrorCodes\.([A-Z_]+)", source))
    assert raised <= set(ConnectorErrorCodes.all_codes())
    tests = "".join(p.read_text() for p in here.parent.glob("test_connector*.py"))
    tests += here.with_name("test_retry_ratelimit.py").read_text()
    asserted = set(re.findall(r"ConnectorErrorCodes\.([A-Z_]+)", tests))
    assert raised - asserted == set()
    assert {"ALREADY_INITIALIZED", "INITIALIZATION_ERROR", "CONNECTOR_SHUT_DOWN",
            "CAPABILITY_NOT_SUPPORTED", "MESSAGE_VALIDATION_FAILED", "SEND_BATCH_ERROR",
            "GET_STATUS_ERROR", "RECEIVE_MESSAGES_ERROR", "RECEIVE_STATUS_ERROR"} <= raised
