"""The conformance kit: one pytest base class every provider's tests subclass.

In the manner of Symfony Notifier's ``TransportTestCase``: subclass :class:`ConnectorConformance`,
name the connector class and give valid settings and an HTTP transport, and pytest runs the same
checks against every connector::

    import httpx
    from ratatosk import ConnectionSettings
    from ratatosk.testing import ConnectorConformance, StatusCase, WebhookCase

    class TestAcmeConformance(ConnectorConformance):
        connector_class = AcmeSmsConnector

        def valid_settings(self) -> ConnectionSettings:
            return ConnectionSettings({"AccountId": "acc_1", "ApiKey": "key-123"})

        def make_transport(self) -> httpx.MockTransport:
            return httpx.MockTransport(fake_acme_api)

        def inbound_sources(self):
            return [WebhookCase(MessageSource.json({...}), expected_messages=1)]

What it checks: the schema is well-formed (identity, JSON round trip, presets are restrictions of
the default schema); every declared capability is implemented and every implemented one declared;
settings validation rejects each missing required parameter and each wrong-typed or out-of-range
value (cases generated from the schema); every operation that talks HTTP (health check, send,
status query; async and blocking) answers each of HTTP 400, 401, 403, 404, 429, 500 and 503, a
refused connection, a timeout and a dropped connection with an error result (never an exception,
never a crash turned into a result), 429 and 503 as retryable (a send's 503 may be
``outcome_unknown`` instead) and 429 as ``RATE_LIMITED``; secrets (as given or percent-encoded)
never appear in ``repr``/``str``, results, error messages or log records of any operation (health
check, send, status query, both webhook kinds, each failure above); sample messages send (async and
blocking, and in a batch when BULK_MESSAGING is declared); invalid messages fail with
``MESSAGE_VALIDATION_FAILED`` and no request; webhook fixtures parse; and, for the default schema
and every preset, an operation the schema lacks returns ``CAPABILITY_NOT_SUPPORTED`` with no
request.

The kit needs only pytest (no pytest-asyncio): async operations run in ``asyncio.run``.
See ``docs/plugins.md`` for every hook a subclass can override.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import quote, quote_plus

from attrs import define, field, frozen

from .._errors import ConnectorErrorCodes, ErrorInfo, MessagingErrorCodes
from .._models import Message, MessageBuilder
from .._results import BatchSendResult, Err, MessageStatus, Ok, Result, SendResult
from .._settings import ConnectionSettings
from .._source import MessageSource

if TYPE_CHECKING:
    import httpx
    import pytest

    from ..connector import Connector
    from ..schema import ChannelCapability, ChannelParameter, ChannelSchema

__all__ = [
    "DEFAULT_SCHEMA",
    "HTTP_FAILURES",
    "RETRYABLE_STATUSES",
    "BadSetting",
    "ConnectorConformance",
    "RecordingTransport",
    "StatusCase",
    "WebhookCase",
    "bad_values",
    "run",
]

T = TypeVar("T")

DEFAULT_SCHEMA = "<default>"
"""The id the kit's parametrized tests use for the connector's default schema."""

HTTP_FAILURES: tuple[str, ...] = (
    "400", "401", "403", "404", "429", "500", "503", "connect-error", "timeout", "read-error",
)
"""The failures every HTTP operation must turn into an error result: an HTTP status (the answer
comes from :meth:`ConnectorConformance.error_response`) or a transport failure."""

RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 503})
"""HTTP statuses whose error result must be ``retryable`` (429 with code ``RATE_LIMITED``). A send
answered 503 may instead be ``outcome_unknown`` (the provider may have accepted it; such an error
is never retried, so nothing is sent twice)."""


def run(awaitable: Awaitable[T]) -> T:
    """Run a coroutine to completion in a fresh event loop (the kit needs no pytest-asyncio)."""

    async def wrapper() -> T:
        return await awaitable

    return asyncio.run(wrapper())


# ---------------------------------------------------------------------------------------------
# Fixtures' value types
# ---------------------------------------------------------------------------------------------


@frozen
class WebhookCase:
    """An inbound-message webhook and how many messages the connector must parse from it."""

    source: MessageSource
    expected_messages: int = 1


@frozen
class StatusCase:
    """A status-callback webhook and what the update must say (None: not checked)."""

    source: MessageSource
    remote_message_id: str | None = None
    status: MessageStatus | None = None


@frozen
class BadSetting:
    """A generated settings case: ``value`` for parameter ``name`` is invalid because ``why``."""

    name: str
    value: Any
    why: str

    def __str__(self) -> str:
        return f"{self.name}-{self.why}"


_BAD_BY_TYPE: dict[str, str] = {
    "integer": "not-a-number",
    "number": "not-a-number",
    "boolean": "maybe-not",
    "url": "not a url",
    "datetime": "not-a-date",
    "json": "{not json",
}


def bad_values(parameter: ChannelParameter) -> list[BadSetting]:
    """Values ``parameter`` must reject: a wrong type, out of range, not allowed, no match."""
    cases: list[BadSetting] = []
    kind = parameter.data_type.value
    if kind in _BAD_BY_TYPE:
        cases.append(BadSetting(parameter.name, _BAD_BY_TYPE[kind], f"not-{kind}"))
    if kind in ("integer", "number"):
        if parameter.min_value is not None:
            below = parameter.min_value - 1
            cases.append(BadSetting(parameter.name,
                                    int(below) if kind == "integer" else below, "below-min"))
        if parameter.max_value is not None:
            above = parameter.max_value + 1
            cases.append(BadSetting(parameter.name,
                                    int(above) if kind == "integer" else above, "above-max"))
    if kind == "string":
        odd = "\u2603 not an allowed value \u2603"
        if parameter.allowed_values and odd not in parameter.allowed_values:
            cases.append(BadSetting(parameter.name, odd, "not-allowed"))
        elif parameter.pattern is not None and re.fullmatch(parameter.pattern, odd) is None:
            cases.append(BadSetting(parameter.name, odd, "no-pattern-match"))
    return cases


# ---------------------------------------------------------------------------------------------
# A transport that records requests
# ---------------------------------------------------------------------------------------------


def _httpx() -> Any:
    import httpx

    return httpx


@define(eq=False)
class RecordingTransport:
    """An httpx transport for both paths that records every request, then forwards it.

    ``inner`` is the transport to forward to (``httpx.MockTransport`` serves both paths);
    None forwards to real HTTP (``httpx.HTTPTransport`` / ``httpx.AsyncHTTPTransport``).
    Build it with :meth:`create` to get an object httpx accepts on both paths.
    """

    inner: Any = None
    requests: list[httpx.Request] = field(factory=list)
    _sync: Any = field(default=None, init=False)
    _async: Any = field(default=None, init=False)

    @classmethod
    def create(cls, inner: Any = None) -> Any:
        """A recording transport (an instance of an httpx transport subclass) around ``inner``."""
        httpx = _httpx()

        class _Recording(cls, httpx.BaseTransport, httpx.AsyncBaseTransport):  # type: ignore
            pass

        return _Recording(inner)

    @property
    def count(self) -> int:
        """How many requests went through."""
        return len(self.requests)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        hx = _httpx()
        self.requests.append(request)
        target = self.inner
        if target is None:
            if self._sync is None:
                self._sync = hx.HTTPTransport()
            target = self._sync
        if not isinstance(target, hx.BaseTransport):
            raise TypeError(f"{type(target).__name__} cannot serve the blocking path")
        response: httpx.Response = target.handle_request(request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        hx = _httpx()
        self.requests.append(request)
        target = self.inner
        if target is None:
            if self._async is None:
                self._async = hx.AsyncHTTPTransport()
            target = self._async
        if not isinstance(target, hx.AsyncBaseTransport):
            raise TypeError(f"{type(target).__name__} cannot serve the async path")
        response: httpx.Response = await target.handle_async_request(request)
        return response

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()


async def _no_sleep(_seconds: float) -> None:
    return None


def _no_blocking_sleep(_seconds: float) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# The conformance base class
# ---------------------------------------------------------------------------------------------


_GATED: tuple[tuple[str, str], ...] = (
    ("HEALTH_CHECK", "test_connection"),
    ("SEND_MESSAGES", "send_message"),
    ("BULK_MESSAGING", "send_batch"),
    ("MESSAGE_STATUS_QUERY", "get_message_status"),
    ("RECEIVE_MESSAGES", "receive_messages"),
    ("HANDLE_MESSAGE_STATE", "receive_message_status"),
)


def _error_text(error: ErrorInfo) -> str:
    return " ".join([str(error), repr(error)])


class ConnectorConformance:
    """Base class for a provider's conformance tests (pytest collects ``Test*`` subclasses).

    Set :attr:`connector_class` (and optionally :attr:`presets_to_test`) and override the hook
    methods: :meth:`valid_settings` (required), :meth:`make_transport`, :meth:`sample_messages`,
    :meth:`invalid_messages`, :meth:`inbound_sources`, :meth:`status_sources`,
    :meth:`malformed_sources`, :meth:`status_query_ids`, :meth:`preset_settings`.
    """

    connector_class: ClassVar[type[Connector]]
    """The connector class under test."""

    presets_to_test: ClassVar[Sequence[str] | None] = None
    """The presets to run the per-schema tests on; None means every preset."""

    # -- hooks subclasses override -----------------------------------------------------------
    def valid_settings(self) -> ConnectionSettings:
        """Settings the connector accepts (fresh on every call). Required."""
        raise NotImplementedError(f"{type(self).__name__} must override valid_settings()")

    def make_transport(self) -> httpx.BaseTransport | httpx.AsyncBaseTransport | None:
        """The httpx transport the connector talks through (fresh on every call).

        Usually an ``httpx.MockTransport`` imitating the provider; None means real HTTP (point
        ``BaseUrl`` in :meth:`valid_settings` at a local server). The kit wraps it to count
        requests.
        """
        return None

    def sample_messages(self) -> Sequence[Message]:
        """Messages the default schema accepts and that must send successfully."""
        return [
            MessageBuilder().from_phone("+15550001111").to_phone("+15550002222")
            .with_text("conformance check").build()
        ]

    def invalid_messages(self) -> Sequence[Message]:
        """Messages that must fail validation (``MESSAGE_VALIDATION_FAILED``) with no request."""
        return [
            MessageBuilder().from_phone("+15550001111").with_text("no receiver").build(),
            MessageBuilder().from_phone("+15550001111").to_phone("+15550002222").build(),
        ]

    def inbound_sources(self) -> Sequence[WebhookCase]:
        """Inbound-message webhooks that must parse (required with RECEIVE_MESSAGES)."""
        return ()

    def status_sources(self) -> Sequence[StatusCase]:
        """Status-callback webhooks that must parse (required with HANDLE_MESSAGE_STATE)."""
        return ()

    def malformed_sources(self) -> Sequence[MessageSource]:
        """Webhooks every receive operation must refuse with an error result (not a crash)."""
        return [
            MessageSource.url_post(b"\xff\xfe=\x00&&"),
            MessageSource.json("[1, 2"),
            MessageSource.binary(b"\x00\x01\x02"),
        ]

    def preset_settings(self, schema_name: str) -> ConnectionSettings:
        """Settings for the default schema or a preset (its name; :data:`DEFAULT_SCHEMA` for the
        default). The default drops from :meth:`valid_settings` the parameters a strict preset
        does not declare; override it when a preset requires more (e.g. a service id)."""
        settings = self.valid_settings()
        schema = self.schema_for(schema_name)
        if schema.strict:
            for name in list(settings):
                if schema.parameter(name) is None:
                    settings.remove_parameter(name)
        return settings

    def status_query_ids(self) -> Sequence[str] | None:
        """Remote ids whose status query must succeed; None sends the first sample message and
        queries its remote id."""
        return None

    def error_response(self, status: int, request: httpx.Request) -> httpx.Response:
        """The provider's answer with HTTP ``status`` to ``request``, for the failure checks.

        The default is a small JSON error body (with ``Retry-After: 1`` for 429 and 503);
        override it to send the provider's real error format.
        """
        hx = _httpx()
        headers = {"Retry-After": "1"} if status in RETRYABLE_STATUSES else {}
        response: httpx.Response = hx.Response(
            status, headers=headers, json={"message": "failure", "code": status, "status": status})
        return response

    # -- helpers -------------------------------------------------------------------------------
    def recording_transport(self) -> Any:
        """A fresh :class:`RecordingTransport` around :meth:`make_transport`."""
        return RecordingTransport.create(self.make_transport())

    def make_connector(
        self,
        schema: ChannelSchema | str | None = None,
        settings: ConnectionSettings | None = None,
        transport: Any = None,
    ) -> Connector:
        """A connector of :attr:`connector_class` (retry waits disabled)."""
        connector = self.connector_class(
            schema, settings if settings is not None else self.valid_settings(),
            http_transport=transport if transport is not None else self.recording_transport(),
        )
        connector.configure_timing(sleep=_no_sleep, blocking_sleep=_no_blocking_sleep)
        return connector

    def failing_transport(self, failure: str) -> Any:
        """A recording transport on which every request fails as ``failure`` (one of
        :data:`HTTP_FAILURES`)."""
        hx = _httpx()

        def handler(request: httpx.Request) -> httpx.Response:
            if failure.isdigit():
                return self.error_response(int(failure), request)
            if failure == "connect-error":
                raise hx.ConnectError(f"cannot connect to {request.url}", request=request)
            if failure == "timeout":
                raise hx.ReadTimeout(f"no answer from {request.url}", request=request)
            if failure == "read-error":
                raise hx.ReadError("the connection was reset", request=request)
            raise ValueError(f"unknown failure {failure!r}; expected one of {HTTP_FAILURES}")

        return RecordingTransport.create(hx.MockTransport(handler))

    def single_attempt_settings(self) -> ConnectionSettings:
        """:meth:`valid_settings` with retries off (``MaxRetries=0`` when the schema has it), so
        the failure checks see the connector's own answer to one failed request."""
        settings = self.valid_settings()
        if self.connector_class.default_schema.parameter("MaxRetries") is not None:
            settings.set_parameter("MaxRetries", 0)
        return settings

    def _remote_id(self) -> str:
        ids = self.status_query_ids()
        if ids:
            return ids[0]
        sendable = self._sendable(self.connector_class.default_schema)
        if sendable:
            sent = self.make_connector().blocking().send_message(sendable[0])
            if sent.data is not None and sent.data.remote_message_id:
                return sent.data.remote_message_id
        return "conformance-remote-id"

    def http_operations(self) -> list[tuple[str, Callable[[Connector, bool], Result[Any]]]]:
        """The operations the default schema declares that talk HTTP, as ``(name, call)``;
        ``call(connector, blocking)`` runs one on the blocking view or in an event loop."""
        schema = self.connector_class.default_schema
        operations: list[tuple[str, Callable[[Connector, bool], Result[Any]]]] = []
        if schema.has_capability(_capability("HEALTH_CHECK")):
            operations.append(("test_connection", lambda c, blocking: (
                c.blocking().test_connection() if blocking else run(c.test_connection()))))
        sendable = self._sendable(schema)
        if schema.has_capability(_capability("SEND_MESSAGES")) and sendable:
            message = sendable[0]
            operations.append(("send_message", lambda c, blocking: (
                c.blocking().send_message(message) if blocking
                else run(c.send_message(message)))))
        if schema.has_capability(_capability("MESSAGE_STATUS_QUERY")):
            remote_id = self._remote_id()
            operations.append(("get_message_status", lambda c, blocking: (
                c.blocking().get_message_status(remote_id) if blocking
                else run(c.get_message_status(remote_id)))))
        return operations

    def check_http_failure(self, failure: str) -> list[Result[Any]]:
        """Every HTTP operation, async and blocking, against ``failure``; AssertionError naming
        the first operation that raises, succeeds, crashes or misclassifies it. Returns the
        results (the secrets check reads them)."""
        status = int(failure) if failure.isdigit() else None
        label = f"HTTP {status}" if status is not None else f"a {failure}"
        results: list[Result[Any]] = []
        for name, call in self.http_operations():
            for blocking in (True, False):
                mode = "blocking" if blocking else "async"
                connector = self.make_connector(settings=self.single_attempt_settings(),
                                                transport=self.failing_transport(failure))
                try:
                    result = call(connector, blocking)
                except Exception as exc:
                    raise AssertionError(
                        f"{name} ({mode}) raised {type(exc).__name__} on {label}; an operation "
                        "must return an error result") from exc
                assert isinstance(result, (Ok, Err)), f"{name} ({mode}) returned {result!r}"
                error = result.error
                assert error is not None, f"{name} ({mode}) succeeded on {label}"
                assert "exception" not in error.details, (
                    f"{name} ({mode}) crashed on {label}: {error.message}")
                if status == 503 and name == "send_message":
                    # a send may also say "it may have gone out" (never retried, never sent twice)
                    assert error.retryable or error.outcome_unknown, (
                        f"{name} ({mode}) marked {label} neither retryable nor outcome_unknown "
                        f"({error.code})")
                elif status in RETRYABLE_STATUSES:
                    assert error.retryable, (
                        f"{name} ({mode}) did not mark {label} retryable ({error.code})")
                if status == 429:
                    assert error.code == MessagingErrorCodes.RATE_LIMITED, (
                        f"{name} ({mode}) answered {label} with {error.code}, not RATE_LIMITED")
                results.append(result)
        return results

    @classmethod
    def _schemas(cls) -> dict[str, ChannelSchema]:
        presets = dict(cls.connector_class.presets or {})
        chosen = list(presets) if cls.presets_to_test is None else list(cls.presets_to_test)
        unknown = [name for name in chosen if name not in presets]
        if unknown:
            raise ValueError(f"presets_to_test names unknown presets: {', '.join(unknown)}")
        return {DEFAULT_SCHEMA: cls.connector_class.default_schema,
                **{name: presets[name] for name in chosen}}

    @classmethod
    def schema_for(cls, name: str) -> ChannelSchema:
        """The schema the parametrized id ``name`` stands for."""
        return cls._schemas()[name]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrize the kit's tests from the connector's schemas."""
        cls = type(self)
        names = metafunc.fixturenames
        if "schema_name" in names:
            metafunc.parametrize("schema_name", list(cls._schemas()))
        if "preset_name" in names:
            metafunc.parametrize("preset_name",
                                 [n for n in cls._schemas() if n != DEFAULT_SCHEMA])
        schema = cls.connector_class.default_schema
        if "required_parameter" in names:
            required = [p.name for p in schema.parameters if p.required]
            # A schema with no strictly required parameter (credentials that may come in one of two
            # forms, say) still gets one case: empty settings, never a skipped test.
            metafunc.parametrize("required_parameter", required or [""],
                                 ids=required or ["no-settings"])
        if "http_failure" in names:
            metafunc.parametrize("http_failure", list(HTTP_FAILURES))
        if "bad_setting" in names:
            cases = [case for p in schema.parameters for case in bad_values(p)]
            metafunc.parametrize("bad_setting", cases, ids=[str(c) for c in cases])

    def _secrets(self) -> list[str]:
        settings = self.valid_settings()
        schema = self.connector_class.default_schema
        names = set(settings.sensitive_names) | set(schema.sensitive_parameters)
        values = [str(settings.get_parameter(n)) for n in names if settings.has_parameter(n)]
        secrets = [v for v in values if len(v) >= 4]
        # as a URL or a form body would carry them
        return sorted({form for v in secrets for form in (v, quote(v, safe=""), quote_plus(v))})

    def _assert_no_secret(self, text: str, where: str) -> None:
        for secret in self._secrets():
            assert secret not in text, f"a secret value appears in {where}"

    def _assert_no_secret_in_logs(self, records: Sequence[logging.LogRecord]) -> None:
        for record in records:
            self._assert_no_secret(record.getMessage(), "the logs")
            self._assert_no_secret(repr(record.args), "log record arguments")
            if record.exc_info and record.exc_info[1] is not None:
                self._assert_no_secret(repr(record.exc_info[1]), "a logged exception")
            if record.exc_text:
                self._assert_no_secret(record.exc_text, "a logged traceback")

    def _result_texts(self, result: Result[Any]) -> list[str]:
        texts = [repr(result)]
        if result.error is not None:
            texts.append(_error_text(result.error))
        if result.data is not None:
            texts += [repr(result.data), str(result.data)]
        return texts

    def _sendable(self, schema: ChannelSchema) -> list[Message]:
        return [m for m in self.sample_messages() if not schema.validate_message(m)]

    def _assert_sent(self, message: Message, result: Result[SendResult]) -> None:
        assert result.is_success, f"sending {message.id} failed: {result.error}"
        data = result.data
        assert data is not None
        assert data.message_id == message.id
        assert data.remote_message_id, "a sent message needs the provider's id"
        assert isinstance(data.status, MessageStatus)

    def _assert_gated(self, result: Result[Any], operation: str) -> None:
        assert result.error is not None, f"{operation} succeeded without its capability"
        assert result.error.code == ConnectorErrorCodes.CAPABILITY_NOT_SUPPORTED, (
            f"{operation} returned {result.error.code}, not CAPABILITY_NOT_SUPPORTED")

    # -- schema --------------------------------------------------------------------------------
    def test_class_declares_identity(self) -> None:
        cls = self.connector_class
        schema = cls.default_schema
        assert cls.provider and cls.connector_type, "provider and connector_type must be set"
        assert "/" not in cls.provider and "/" not in cls.connector_type
        assert schema.connector_id.lower() == f"{cls.provider}/{cls.connector_type}".lower(), (
            f"default_schema is for {schema.connector_id}, the class for "
            f"{cls.provider}/{cls.connector_type}")
        assert schema.version, "the schema needs a version"
        assert schema.identity == f"{schema.provider}/{schema.type}/{schema.version}"

    def test_schema_json_round_trip(self, schema_name: str) -> None:
        from ..schema import ChannelSchema

        schema = self.schema_for(schema_name)
        text = schema.to_json()
        assert ChannelSchema.from_json(text) == schema
        assert ChannelSchema.from_dict(schema.to_dict()) == schema
        assert schema.to_json() == text, "the JSON export must be stable"

    def test_preset_is_restriction_of_default_schema(self, preset_name: str) -> None:
        preset = self.schema_for(preset_name)
        base = self.connector_class.default_schema
        problems = preset.restriction_problems(base)
        assert not problems, f"preset {preset_name} widens the default schema: {problems}"
        assert preset.is_restriction_of(base)
        assert preset.name == preset_name, (
            f"preset {preset_name!r} carries the name {preset.name!r}")

    def test_capabilities_declared_are_implemented(self) -> None:
        from ..connector import CAPABILITY_METHODS
        from ..schema import ChannelCapability

        cls = self.connector_class
        declared = cls.default_schema.capabilities
        implementable = ChannelCapability.NONE
        for capability in CAPABILITY_METHODS:
            implementable |= capability
        implemented = cls.implemented_capabilities()
        missing = (declared & implementable) & ~implemented
        undeclared = implemented & ~declared
        assert not missing, (
            f"declared but not implemented: {', '.join(missing.names())} "
            f"({', '.join(CAPABILITY_METHODS[c] for c in CAPABILITY_METHODS if c in missing)})")
        assert not undeclared, (
            f"implemented but not declared by the default schema: {', '.join(undeclared.names())}")
        if ChannelCapability.BULK_MESSAGING in declared:
            assert ChannelCapability.SEND_MESSAGES in declared, "BULK_MESSAGING needs SEND_MESSAGES"

    # -- settings ------------------------------------------------------------------------------
    def test_valid_settings_are_valid(self) -> None:
        schema = self.connector_class.default_schema
        assert schema.validate_settings(self.valid_settings()) == []
        connector = self.make_connector()
        result = connector.blocking().initialize()
        assert result.is_success, f"initialize failed with valid settings: {result.error}"

    def test_missing_required_parameter_is_rejected(self, required_parameter: str) -> None:
        if not required_parameter:
            self._check_empty_settings()
            return
        settings = self.valid_settings().remove_parameter(required_parameter)
        schema = self.connector_class.default_schema
        issues = schema.validate_settings(settings)
        assert required_parameter in [i.field for i in issues]
        transport = self.recording_transport()
        result = self.make_connector(settings=settings, transport=transport).blocking().initialize()
        assert result.error is not None
        assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION
        assert required_parameter in [i.field for i in result.error.issues]
        assert transport.count == 0

    def _check_empty_settings(self) -> None:
        """No parameter is strictly required: empty settings either initialize or fail cleanly."""
        transport = self.recording_transport()
        connector = self.make_connector(settings=ConnectionSettings(), transport=transport)
        result = connector.blocking().initialize()
        if result.error is not None:
            assert result.error.code in (MessagingErrorCodes.INVALID_CONFIGURATION,
                                         MessagingErrorCodes.MISSING_CREDENTIALS), result.error
        assert transport.count == 0

    def test_invalid_setting_value_is_rejected(self, bad_setting: BadSetting) -> None:
        settings = self.valid_settings().set_parameter(bad_setting.name, bad_setting.value)
        schema = self.connector_class.default_schema
        issues = schema.validate_settings(settings)
        assert bad_setting.name in [i.field for i in issues], (
            f"{bad_setting.name}={bad_setting.value!r} ({bad_setting.why}) was accepted")
        result = self.make_connector(settings=settings).blocking().initialize()
        assert result.error is not None
        assert result.error.code == MessagingErrorCodes.INVALID_CONFIGURATION

    # -- secrets -------------------------------------------------------------------------------
    def test_secrets_not_in_repr_or_str(self) -> None:
        assert self._secrets(), "valid_settings() holds no sensitive value to check"
        settings = self.valid_settings()
        connector = self.make_connector(settings=settings)
        blocking = connector.blocking()
        blocking.initialize()
        for obj, where in ((connector.settings, "connector.settings"),
                           (connector, "the connector"), (blocking, "the blocking view"),
                           (blocking.get_status(), "get_status()")):
            self._assert_no_secret(repr(obj), f"repr of {where}")
            self._assert_no_secret(str(obj), f"str of {where}")

    def test_secrets_not_in_errors_or_logs(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        schema = self.connector_class.default_schema
        texts: list[tuple[str, str]] = []

        # settings errors: every sensitive parameter given a wrong value
        settings = self.valid_settings()
        for name in schema.sensitive_parameters:
            parameter = schema.parameter(name)
            for case in bad_values(parameter) if parameter is not None else ():
                settings.set_parameter(case.name, case.value)
        result = self.make_connector(settings=settings).blocking().initialize()
        texts += [("initialize", text) for text in self._result_texts(result)]

        # every HTTP operation, answered and failing every way
        for name, call in self.http_operations():
            for blocking in (True, False):
                connector = self.make_connector()
                texts += [(name, text) for text in self._result_texts(call(connector, blocking))]
                texts.append((name, repr(connector)))
        for failure in HTTP_FAILURES:
            for name, call in self.http_operations():
                connector = self.make_connector(settings=self.single_attempt_settings(),
                                                transport=self.failing_transport(failure))
                outcome = call(connector, True)
                texts += [(f"{name} on {failure}", text) for text in self._result_texts(outcome)]

        # webhooks: good and malformed, both kinds
        blocking_connector = self.make_connector().blocking()
        receivers: list[tuple[str, Callable[[MessageSource], Result[Any]], list[MessageSource]]]
        receivers = []
        if schema.has_capability(_capability("RECEIVE_MESSAGES")):
            receivers.append(("receive_messages", blocking_connector.receive_messages,
                              [c.source for c in self.inbound_sources()]))
        if schema.has_capability(_capability("HANDLE_MESSAGE_STATE")):
            receivers.append(("receive_message_status", blocking_connector.receive_message_status,
                              [c.source for c in self.status_sources()]))
        for name, receive, sources in receivers:
            for source in [*sources, *self.malformed_sources()]:
                texts += [(name, text) for text in self._result_texts(receive(source))]
        for where, text in texts:
            self._assert_no_secret(text, f"an error result or result of {where}")
        self._assert_no_secret(caplog.text, "the logs")
        self._assert_no_secret_in_logs(caplog.records)

    def test_http_failures_are_error_results(self, http_failure: str) -> None:
        self.check_http_failure(http_failure)

    # -- sending -------------------------------------------------------------------------------
    def test_sample_messages_send_async(self) -> None:
        messages = self._sendable(self.connector_class.default_schema)
        assert messages, "sample_messages() gives no message the default schema accepts"
        transport = self.recording_transport()
        connector = self.make_connector(transport=transport)

        async def send_all() -> list[Result[SendResult]]:
            async with connector:
                return [await connector.send_message(m) for m in messages]

        for message, result in zip(messages, run(send_all()), strict=True):
            self._assert_sent(message, result)
        assert transport.count >= len(messages)

    def test_sample_messages_send_blocking(self) -> None:
        messages = self._sendable(self.connector_class.default_schema)
        assert messages, "sample_messages() gives no message the default schema accepts"
        transport = self.recording_transport()
        with self.make_connector(transport=transport).blocking() as connector:
            for message in messages:
                self._assert_sent(message, connector.send_message(message))
        assert transport.count >= len(messages)

    def test_batch_sends_every_message(self) -> None:
        schema = self.connector_class.default_schema
        if not schema.has_capability(_capability("BULK_MESSAGING")):
            connector = self.make_connector()
            results = list(connector.blocking().send_batch(self.sample_messages()))
            for item in results:
                self._assert_gated(item.result, "send_batch")
            return
        messages = list(self._sendable(schema)) * 3
        connector = self.make_connector()

        async def collect() -> list[BatchSendResult]:
            batch: AsyncIterator[BatchSendResult] = connector.send_batch(messages, concurrency=4)
            return [item async for item in batch]

        for results in (run(collect()),
                        list(connector.blocking().send_batch(messages, concurrency=2))):
            assert sorted(r.index for r in results) == list(range(len(messages)))
            for item in results:
                self._assert_sent(messages[item.index], item.result)

    def test_invalid_messages_fail_without_io(self) -> None:
        invalid = list(self.invalid_messages())
        assert invalid, "invalid_messages() gives no message"
        schema = self.connector_class.default_schema
        for message in invalid:
            assert schema.validate_message(message), f"{message!r} is valid for the schema"
        transport = self.recording_transport()
        connector = self.make_connector(transport=transport)

        async def send_all() -> list[Result[SendResult]]:
            return [await connector.send_message(m) for m in invalid]

        results = run(send_all()) + [connector.blocking().send_message(m) for m in invalid]
        for result in results:
            assert result.error is not None
            assert result.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
            assert result.error.issues, "a validation failure lists its issues"
        assert transport.count == 0, "an invalid message must not cause a request"

    def test_status_query(self) -> None:
        schema = self.connector_class.default_schema
        connector = self.make_connector().blocking()
        if not schema.has_capability(_capability("MESSAGE_STATUS_QUERY")):
            self._assert_gated(connector.get_message_status("any-id"), "get_message_status")
            return
        ids = self.status_query_ids()
        if ids is None:
            first = self._sendable(schema)[0]
            sent = connector.send_message(first)
            self._assert_sent(first, sent)
            assert sent.data is not None and sent.data.remote_message_id is not None
            ids = [sent.data.remote_message_id]
        for remote_id in ids:
            for result in (connector.get_message_status(remote_id),
                           run(connector.connector.get_message_status(remote_id))):
                assert result.is_success, f"status query for {remote_id} failed: {result.error}"
                assert result.data is not None
                assert result.data.remote_message_id == remote_id
                assert isinstance(result.data.status, MessageStatus)

    def test_health_check(self) -> None:
        schema = self.connector_class.default_schema
        connector = self.make_connector()
        if not schema.has_capability(_capability("HEALTH_CHECK")):
            self._assert_gated(connector.blocking().test_connection(), "test_connection")
            return
        for result in (connector.blocking().test_connection(), run(connector.test_connection())):
            assert result.is_success, f"test_connection failed: {result.error}"
            assert result.data is not None and result.data.is_healthy

    # -- webhooks ------------------------------------------------------------------------------
    def test_inbound_sources_parse(self) -> None:
        schema = self.connector_class.default_schema
        cases = list(self.inbound_sources())
        connector = self.make_connector().blocking()
        if not schema.has_capability(_capability("RECEIVE_MESSAGES")):
            assert not cases, "inbound_sources() given but RECEIVE_MESSAGES is not declared"
            return
        assert cases, "RECEIVE_MESSAGES is declared: inbound_sources() must give fixtures"
        for case in cases:
            result = connector.receive_messages(case.source)
            assert result.is_success, f"inbound webhook failed: {result.error}"
            assert result.data is not None
            assert len(result.data.messages) == case.expected_messages
            for message in result.data.messages:
                assert isinstance(message, Message)

    def test_status_sources_parse(self) -> None:
        schema = self.connector_class.default_schema
        cases = list(self.status_sources())
        connector = self.make_connector().blocking()
        if not schema.has_capability(_capability("HANDLE_MESSAGE_STATE")):
            assert not cases, "status_sources() given but HANDLE_MESSAGE_STATE is not declared"
            return
        assert cases, "HANDLE_MESSAGE_STATE is declared: status_sources() must give fixtures"
        for case in cases:
            result = connector.receive_message_status(case.source)
            assert result.is_success, f"status callback failed: {result.error}"
            assert result.data is not None
            if case.remote_message_id is not None:
                assert result.data.remote_message_id == case.remote_message_id
            if case.status is not None:
                assert result.data.status == case.status

    def test_malformed_webhooks_are_refused(self) -> None:
        schema = self.connector_class.default_schema
        connector = self.make_connector().blocking()
        operations: list[tuple[str, Callable[[MessageSource], Result[Any]]]] = []
        if schema.has_capability(_capability("RECEIVE_MESSAGES")):
            operations.append(("receive_messages", connector.receive_messages))
        if schema.has_capability(_capability("HANDLE_MESSAGE_STATE")):
            operations.append(("receive_message_status", connector.receive_message_status))
        for name, operation in operations:
            for source in self.malformed_sources():
                result = operation(source)
                assert result.error is not None, f"{name} accepted {source!r}"
                assert "exception" not in result.error.details, (
                    f"{name} crashed on {source!r}: {result.error.message}")

    # -- capability gating per schema ----------------------------------------------------------
    def test_capability_gating(self, schema_name: str) -> None:
        schema = self.schema_for(schema_name)
        transport = self.recording_transport()
        connector = self.make_connector(schema=schema, settings=self.preset_settings(schema_name),
                                        transport=transport).blocking()
        initialized = connector.initialize()
        assert initialized.is_success, (
            f"initialize with preset_settings({schema_name!r}) failed: {initialized.error}")
        source = MessageSource.json({})
        samples = list(self.sample_messages())
        calls: dict[str, Callable[[], Any]] = {
            "test_connection": connector.test_connection,
            "send_message": lambda: connector.send_message(samples[0]),
            "send_batch": lambda: next(r.result for r in connector.send_batch(samples[:1])),
            "get_message_status": lambda: connector.get_message_status("remote-id"),
            "receive_messages": lambda: connector.receive_messages(source),
            "receive_message_status": lambda: connector.receive_message_status(source),
        }
        for capability_name, operation in _GATED:
            if schema.has_capability(_capability(capability_name)):
                continue
            before = transport.count
            self._assert_gated(calls[operation](), operation)
            assert transport.count == before, f"{operation} made a request without its capability"
        if schema.has_capability(_capability("SEND_MESSAGES")):
            for message in samples:
                result = connector.send_message(message)
                if schema.validate_message(message):
                    assert result.error is not None
                    assert result.error.code == ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED
                else:
                    self._assert_sent(message, result)

    def test_connect_finds_the_connector(self) -> None:
        from .._connect import connect
        from ..hookspecs import hookimpl
        from ..plugins import get_connector_class, register_plugin, unregister_plugin

        cls = self.connector_class
        connector_id = f"{cls.provider}/{cls.connector_type}"
        plugin: object | None = None
        if get_connector_class(connector_id) is not cls:

            class _Plugin:
                @hookimpl
                def ratatosk_register_connectors(self, register: Callable[[Any], None]) -> None:
                    register(cls)

            plugin = _Plugin()
            register_plugin(plugin, name=f"conformance-{connector_id}")
        try:
            assert get_connector_class(connector_id) is cls, (
                f"{connector_id} resolves to another class: {get_connector_class(connector_id)}")
            connector = connect(connector_id, self.valid_settings(),
                                http_transport=self.recording_transport())
            assert type(connector) is cls
            assert connector.schema == cls.default_schema
        finally:
            if plugin is not None:
                unregister_plugin(plugin)


def _capability(name: str) -> ChannelCapability:
    from ..schema import ChannelCapability

    return ChannelCapability[name]
