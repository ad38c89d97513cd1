"""The connector base class every provider connector extends.

A provider implements small ``_do_*`` methods (see ``docs/connectors.md``); remote operations are
*flows* (generators that yield :class:`~ratatosk.HttpRequest` and return a ``Result``). The base
does everything else, once, for every provider: the lifecycle, lazy initialization, settings
resolution, capability gating, message validation, plugin hooks, client-side rate limiting,
timeouts, retries with backoff, bounded-concurrency batches, and the blocking twin that drives the
very same flows over a blocking transport without an event loop.

Order of a send: state check (shut down? initialize lazily) -> capability ->
``schema.validate_message`` (every issue -> ``MESSAGE_VALIDATION_FAILED``) ->
``ratatosk_before_send`` hook -> rate limiter -> flow with retries -> ``ratatosk_after_send`` hook.
"""

from __future__ import annotations

import concurrent.futures
import enum
import logging
import math
import random as _random
import threading
import time
import traceback
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sized,
)
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from attrs import define, evolve, field

from ._errors import (
    ConnectorErrorCodes,
    ErrorInfo,
    MessagingErrorCodes,
    ValidationIssue,
    connector_error,
    messaging_error,
)
from ._http import AsyncTransport, Flow, HttpRequest, SyncTransport, TransportError
from ._models import Message
from ._ratelimit import TokenBucket
from ._results import (
    BatchSendResult,
    ConnectorHealth,
    ReceiveResult,
    Result,
    SendResult,
    StatusInfo,
    StatusUpdate,
)
from ._retry import RetryPolicy
from ._schema import ChannelCapability, ChannelSchema
from ._settings import MASK, ConnectionSettings, SettingsParseError
from ._source import MessageSource
from ._webhooks import WebhookKind, WebhookReply

if TYPE_CHECKING:
    import asyncio

    import httpx
    import pluggy

T = TypeVar("T")
C = TypeVar("C", bound="Connector")
B = TypeVar("B", bound="BlockingConnector")

_log = logging.getLogger("ratatosk.connector")

SettingsLike = ConnectionSettings | Mapping[str, Any] | str


class ConnectorState(str, enum.Enum):
    """Where a connector is in its lifecycle."""

    UNINITIALIZED = "uninitialized"
    INITIALIZING = "initializing"
    READY = "ready"
    ERROR = "error"
    SHUTTING_DOWN = "shutting_down"
    SHUTDOWN = "shutdown"

    def __str__(self) -> str:
        return self.name


_READY = ConnectorState.READY
_CLOSED = frozenset({ConnectorState.SHUTTING_DOWN, ConnectorState.SHUTDOWN})

CAPABILITY_METHODS: Mapping[ChannelCapability, str] = MappingProxyType({
    ChannelCapability.HEALTH_CHECK: "_do_test_connection",
    ChannelCapability.SEND_MESSAGES: "_do_send_message",
    ChannelCapability.MESSAGE_STATUS_QUERY: "_do_get_message_status",
    ChannelCapability.RECEIVE_MESSAGES: "_do_receive_messages",
    ChannelCapability.HANDLE_MESSAGE_STATE: "_do_receive_message_status",
})
"""The capability each ``_do_*`` method implements (what :meth:`Connector.implemented_capabilities`
reports). ``BULK_MESSAGING`` has no method of its own: the base implements ``send_batch`` on top
of ``_do_send_message``."""

OPERATION_CAPABILITIES: Mapping[str, ChannelCapability] = MappingProxyType({
    "test_connection": ChannelCapability.HEALTH_CHECK,
    "send_message": ChannelCapability.SEND_MESSAGES,
    "send_batch": ChannelCapability.BULK_MESSAGING,
    "get_message_status": ChannelCapability.MESSAGE_STATUS_QUERY,
    "receive_messages": ChannelCapability.RECEIVE_MESSAGES,
    "receive_message_status": ChannelCapability.HANDLE_MESSAGE_STATE,
})
"""The capability that gates each public operation (the others are never gated)."""

COMMON_DEFAULTS: Mapping[str, float | int] = MappingProxyType({
    "Timeout": 30.0,
    "MaxRetries": 3,
    "RetryBaseDelay": 0.5,
    "RetryMaxDelay": 30.0,
    "MessagesPerSecond": 0.0,
})
"""The common parameters the base reads, and their defaults when a schema does not declare them."""

_CONNECTOR_CODES = frozenset(ConnectorErrorCodes.all_codes())


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def _to_settings(settings: SettingsLike | None) -> tuple[ConnectionSettings, str | None]:
    """A private copy of the settings, and a parse problem (never quoting a value) if any."""
    if settings is None:
        return ConnectionSettings(), None
    if isinstance(settings, ConnectionSettings):
        return settings.copy(), None
    if isinstance(settings, str):
        try:
            return ConnectionSettings.parse(settings), None
        except SettingsParseError as exc:
            return ConnectionSettings(), f"the settings string is malformed: {exc}"
    if isinstance(settings, Mapping):
        return ConnectionSettings(settings), None
    raise TypeError("settings must be ConnectionSettings, a mapping or a 'K=V;...' string, "
                    f"not {type(settings).__name__}")


def _number(
    name: str, value: Any, issues: list[ValidationIssue], *, integer: bool = False,
    positive: bool = False,
) -> float | None:
    """``value`` as a finite non-negative (or positive) number, or None after an issue."""
    kind = "a whole number" if integer else "a number"
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number = float(value)
        if integer and not number.is_integer():
            raise ValueError(value)
    except (TypeError, ValueError, OverflowError):
        issues.append(ValidationIssue(name, f"must be {kind}", "type"))
        return None
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        issues.append(ValidationIssue(name, f"must be {kind} {'>' if positive else '>='} 0",
                                      "range"))
        return None
    return number


async def _asyncio_sleep(seconds: float) -> None:
    """``asyncio.sleep``, imported on first use (``import ratatosk`` and the CLI skip asyncio)."""
    import asyncio

    await asyncio.sleep(seconds)


def _flow_result(value: object, start: Callable[..., Any]) -> Result[Any]:
    if isinstance(value, Result):
        return value
    raise TypeError(f"{getattr(start, '__qualname__', start)!r} returned "
                    f"{type(value).__name__}, not a Result")


def _unimplemented(error: ErrorInfo) -> Flow[Any]:
    """A flow that ends at once with ``error`` (the default ``_do_*`` flows)."""
    return Result(error=error)
    yield  # a generator function: the unreachable yield makes this a flow


def _item_id(item: object) -> str:
    return item.id if isinstance(item, Message) else ""


# ---------------------------------------------------------------------------------------------
# the base class
# ---------------------------------------------------------------------------------------------


class Connector:
    """The base class of every provider connector.

    Subclasses set the class variables ``provider``, ``connector_type``, ``default_schema`` and
    ``presets`` and implement the ``_do_*`` methods for the capabilities their schema declares
    (see ``docs/connectors.md``). Users construct a connector with a schema (default:
    ``default_schema``; a preset's name also works) and settings (``ConnectionSettings``, a
    mapping or a ``"K=V;..."`` string), then ``await`` its operations, or call them on
    :meth:`blocking`'s view. Every operation returns a :class:`~ratatosk.Result`; settings are
    checked by :meth:`initialize` (a malformed settings string included). Only programming
    errors raise: an unknown preset name (``MessagingError``, ``INVALID_CONFIGURATION``) or
    arguments of the wrong type (``TypeError``).

    Transports: ``http_transport`` (an httpx transport such as ``httpx.MockTransport``) is used
    by the default httpx clients of both paths; ``async_transport`` / ``sync_transport`` replace
    those clients with any object implementing :class:`~ratatosk.AsyncTransport` /
    :class:`~ratatosk.SyncTransport`. Transports the connector creates are created on first use,
    reused and closed by :meth:`shutdown`; transports passed in are never closed by it.
    ``plugin_manager`` defaults to :func:`ratatosk.get_plugin_manager` (loaded on first use).
    """

    provider: ClassVar[str] = ""
    connector_type: ClassVar[str] = ""
    default_schema: ClassVar[ChannelSchema]
    presets: ClassVar[Mapping[str, ChannelSchema]] = MappingProxyType({})

    def __init__(
        self,
        schema: ChannelSchema | str | None = None,
        settings: SettingsLike | None = None,
        *,
        http_transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        async_transport: AsyncTransport | None = None,
        sync_transport: SyncTransport | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
    ) -> None:
        self._schema: ChannelSchema = self._choose_schema(schema)
        self._settings, self._settings_problem = _to_settings(settings)
        sensitive = [p.name for p in self._schema.parameters if p.sensitive]
        self._settings.mark_sensitive(*sensitive)
        self._secrets = self._secret_values()
        self._parameters: dict[str, Any] = {}
        self._state = ConnectorState.UNINITIALIZED
        self._init_error: ErrorInfo | None = None
        self._lock = threading.RLock()
        supported = {cap: self._schema.has_capability(cap) for cap in ChannelCapability}
        self._supports: dict[ChannelCapability, bool] = supported
        # transports
        self._http_transport = http_transport
        self._async_transport: AsyncTransport | None = async_transport
        self._sync_transport: SyncTransport | None = sync_transport
        self._owns_async = False
        self._owns_sync = False
        # plugins
        self._pm: pluggy.PluginManager | None = plugin_manager
        self._hook_callers: dict[str, pluggy.HookCaller | None] = {}
        # per-connector policies (set from the parameters by initialize)
        self._timeout: float | None = COMMON_DEFAULTS["Timeout"]
        self._retry = RetryPolicy()
        self._limiter: TokenBucket | None = None
        # timing (injectable: configure_timing)
        self._sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep
        self._blocking_sleep: Callable[[float], None] = time.sleep
        self._random: Callable[[], float] = _random.random
        self._clock: Callable[[], float] = time.monotonic
        self._blocking_view: BlockingConnector | None = None

    # -- construction helpers ----------------------------------------------------------------
    @classmethod
    def _choose_schema(cls, schema: ChannelSchema | str | None) -> ChannelSchema:
        if isinstance(schema, ChannelSchema):
            return schema
        if schema is None and not isinstance(getattr(cls, "default_schema", None), ChannelSchema):
            raise TypeError(f"{cls.__qualname__} defines no default_schema; pass a schema")
        from ._connect import resolve_schema

        return resolve_schema(cls, schema)

    def _secret_values(self) -> tuple[str, ...]:
        values = {str(self._settings.get_parameter(name))
                  for name in self._settings.sensitive_names}
        return tuple(sorted((v for v in values if len(v) >= 4), key=len, reverse=True))

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    # -- introspection -----------------------------------------------------------------------
    @property
    def schema(self) -> ChannelSchema:
        """The schema this connector was built with (the default schema or a preset)."""
        return self._schema

    @property
    def settings(self) -> ConnectionSettings:
        """The settings as given (a private copy; secrets are masked in its repr)."""
        return self._settings

    @property
    def parameters(self) -> dict[str, Any]:
        """The validated parameters: converted to their declared types, defaults applied.

        Empty until the connector is initialized; ``_do_initialize`` may rely on it.
        """
        return self._parameters

    @property
    def state(self) -> ConnectorState:
        """The lifecycle state."""
        return self._state

    @classmethod
    def implemented_capabilities(cls) -> ChannelCapability:
        """The capabilities whose ``_do_*`` method this class overrides (see CAPABILITY_METHODS).

        The conformance kit compares these with the capabilities the default schema declares.
        ``BULK_MESSAGING`` is never included: the base implements it on top of sending.
        """
        implemented = ChannelCapability.NONE
        for capability, name in CAPABILITY_METHODS.items():
            if getattr(cls, name) is not getattr(Connector, name):
                implemented |= capability
        return implemented

    def __repr__(self) -> str:
        schema = self._schema
        label = schema.name or schema.identity
        name = type(self).__qualname__
        return f"<{name} {schema.connector_id} schema={label} state={self._state}>"

    def configure_timing(
        self: C,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        blocking_sleep: Callable[[float], None] | None = None,
        random: Callable[[], float] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> C:
        """Replace how the connector waits and draws jitter (for tests and simulations).

        ``sleep`` is awaited by the async path (retry backoff, rate limiter), ``blocking_sleep``
        is called by the blocking path, ``random`` returns floats in ``[0, 1)`` for backoff
        jitter, ``clock`` is the rate limiter's monotonic clock. Returns self.
        """
        if sleep is not None:
            self._sleep = sleep
        if blocking_sleep is not None:
            self._blocking_sleep = blocking_sleep
        if random is not None:
            self._random = random
        if clock is not None:
            self._clock = clock
            if self._limiter is not None:
                self._limiter.set_clock(clock)
        return self

    # -- what providers implement ------------------------------------------------------------
    def _do_initialize(self) -> Result[None]:
        """Local set-up from ``self.parameters`` (no I/O). The default does nothing."""
        return Result(data=None)

    def _do_test_connection(self) -> Flow[ConnectorHealth]:
        """HEALTH_CHECK: a flow checking the provider can be reached and the credentials work."""
        return _unimplemented(self._not_implemented("test_connection"))

    def _do_send_message(self, message: Message) -> Flow[SendResult]:
        """SEND_MESSAGES: a flow sending one (already validated) message."""
        return _unimplemented(self._not_implemented("send_message"))

    def _do_get_message_status(self, remote_id: str) -> Flow[StatusUpdate]:
        """MESSAGE_STATUS_QUERY: a flow fetching a sent message's status."""
        return _unimplemented(self._not_implemented("get_message_status"))

    def _do_receive_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        """RECEIVE_MESSAGES: parse an inbound-message webhook (no I/O)."""
        return Result(error=self._not_implemented("receive_messages"))

    def _do_receive_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        """HANDLE_MESSAGE_STATE: parse a status-callback webhook (no I/O)."""
        return Result(error=self._not_implemented("receive_message_status"))

    def _do_shutdown(self) -> None:
        """Release what ``_do_initialize`` set up (the base closes its transports itself)."""

    # -- errors ------------------------------------------------------------------------------
    def _not_implemented(self, operation: str) -> ErrorInfo:
        return connector_error(
            ConnectorErrorCodes.CAPABILITY_NOT_SUPPORTED,
            f"{type(self).__qualname__} does not implement {operation}",
            details={"operation": operation},
        )

    def _unsupported(self, capability: ChannelCapability, operation: str) -> ErrorInfo:
        schema = self._schema
        return connector_error(
            ConnectorErrorCodes.CAPABILITY_NOT_SUPPORTED,
            f"{operation} needs the {capability.name} capability, which the schema "
            f"{schema.name or schema.identity} does not declare",
            details={"operation": operation, "capability": capability.name},
        )

    def _shut_down_error(self, operation: str) -> ErrorInfo:
        return connector_error(
            ConnectorErrorCodes.CONNECTOR_SHUT_DOWN,
            f"{operation} was called on a connector that is shut down",
            details={"operation": operation},
        )

    def _unexpected(self, code: str, operation: str, exc: Exception) -> Result[Any]:
        """An error result for an exception raised by provider or plugin code."""
        text = self._scrub(f"{type(exc).__name__}: {exc}")
        _log.error("%s on %r raised %s", operation, self, text)
        self._log_traceback(exc)
        make = connector_error if code in _CONNECTOR_CODES else messaging_error
        return Result(error=make(code, f"{operation} failed unexpectedly: {text}",
                                 details={"exception": type(exc).__name__}))

    def _log_traceback(self, exc: BaseException) -> None:
        """The traceback at DEBUG, with secrets masked (exception messages may quote them)."""
        if _log.isEnabledFor(logging.DEBUG):
            lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
            _log.debug("%s", self._scrub("".join(lines)))

    def _validation_failed(self, issues: Iterable[ValidationIssue]) -> ErrorInfo:
        issues = tuple(issues)
        count = len(issues)
        return connector_error(
            ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED,
            f"the message is not valid for {self._schema.name or self._schema.identity}: "
            f"{count} problem{'s' if count != 1 else ''} found",
            issues=issues,
        )

    def _transport_error(self, exc: TransportError, request: HttpRequest) -> ErrorInfo:
        sent = exc.request_sent
        idempotent = request.is_idempotent
        code = (MessagingErrorCodes.TIMEOUT if exc.timeout and sent
                else MessagingErrorCodes.CONNECTION_FAILED)
        if not sent:
            summary = "the request could not be sent"
        elif idempotent:
            summary = "no response came back (the request is safe to repeat)"
        else:
            summary = "no response came back; the provider may have received the request"
        return messaging_error(
            code,
            f"{request.method} request failed: {summary} ({self._scrub(str(exc))})",
            retryable=(not sent) or idempotent,
            outcome_unknown=sent and not idempotent,
            details={"request_sent": sent, "timeout": exc.timeout},
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def _initialize(self, *, lazy: bool) -> Result[None]:
        with self._lock:
            state = self._state
            if state is _READY:
                if lazy:
                    return Result(data=None)
                return Result(error=connector_error(ConnectorErrorCodes.ALREADY_INITIALIZED,
                                                    "the connector is already initialized"))
            if state in _CLOSED:
                return Result(error=self._shut_down_error("initialize"))
            if state is ConnectorState.INITIALIZING:  # re-entered from _do_initialize
                return Result(error=connector_error(
                    ConnectorErrorCodes.INITIALIZATION_ERROR,
                    "an operation was called while the connector was initializing"))
            if state is ConnectorState.ERROR and lazy:
                assert self._init_error is not None
                return Result(error=self._init_error)
            self._state = ConnectorState.INITIALIZING
            error = self._resolve_parameters()
            if error is None:
                try:
                    result = self._do_initialize()
                    if result is not None and not isinstance(result, Result):
                        raise TypeError("_do_initialize returned "
                                        f"{type(result).__name__}, not a Result")
                    error = None if result is None else result.error
                except Exception as exc:
                    error = self._unexpected(ConnectorErrorCodes.INITIALIZATION_ERROR,
                                             "initialize", exc).error
            if error is not None:
                self._init_error = error
                self._state = ConnectorState.ERROR
                return Result(error=error)
            self._init_error = None
            self._state = _READY
            return Result(data=None)

    def _resolve_parameters(self) -> ErrorInfo | None:
        if self._settings_problem is not None:
            return messaging_error(
                MessagingErrorCodes.INVALID_CONFIGURATION, self._settings_problem,
                issues=(ValidationIssue("settings", self._settings_problem, "syntax"),))
        resolved = self._schema.resolve_settings(self._settings)
        if resolved.error is not None:
            return resolved.error
        parameters = dict(resolved.data or {})
        issues: list[ValidationIssue] = []
        values: dict[str, float | None] = {}
        for name, default in COMMON_DEFAULTS.items():
            value = parameters.get(name)
            if value is None:
                value = self._settings.get_parameter(name)
            if value is None or value == "":
                value = default
            values[name] = _number(name, value, issues, integer=name == "MaxRetries",
                                   positive=name == "Timeout")
            number = values[name]
            if number is not None:
                parameters.setdefault(name, int(number) if name == "MaxRetries" else number)
        if issues:
            return messaging_error(
                MessagingErrorCodes.INVALID_CONFIGURATION,
                f"{len(issues)} connection setting{'s are' if len(issues) != 1 else ' is'} "
                "not valid",
                issues=tuple(issues),
            )
        self._timeout = values["Timeout"]
        self._retry = RetryPolicy(int(values["MaxRetries"] or 0), values["RetryBaseDelay"] or 0.0,
                                  values["RetryMaxDelay"] or 0.0)
        rate = values["MessagesPerSecond"]
        self._limiter = TokenBucket(rate, clock=self._clock) if rate else None
        self._parameters = parameters
        return None

    def _ensure_ready(self, operation: str) -> ErrorInfo | None:
        """None when READY (initializing lazily when needed), else the error to return."""
        state = self._state
        if state is _READY:
            return None
        if state in _CLOSED:
            return self._shut_down_error(operation)
        return self._initialize(lazy=True).error

    def _precheck(self, capability: ChannelCapability, operation: str) -> ErrorInfo | None:
        """State (shut down?) -> capability -> lazy initialization."""
        state = self._state
        if state is not _READY and state in _CLOSED:
            return self._shut_down_error(operation)
        if not self._supports[capability]:
            return self._unsupported(capability, operation)
        if state is _READY:
            return None
        return self._initialize(lazy=True).error

    async def initialize(self) -> Result[None]:
        """Resolve and validate the settings against the schema, then set up the connector.

        Every settings problem is reported at once (``INVALID_CONFIGURATION``). A second call
        returns ``ALREADY_INITIALIZED``; after a failure (state ERROR) calling it again retries.
        Operations initialize lazily when this was not called.
        """
        return self._initialize(lazy=False)

    def _begin_shutdown(self) -> tuple[bool, bool]:
        """(already shut down, was initialized)."""
        with self._lock:
            if self._state in _CLOSED:
                return True, False
            was_initialized = self._state in (_READY, ConnectorState.ERROR)
            self._state = ConnectorState.SHUTTING_DOWN
            return False, was_initialized

    def _shutdown_provider(self, was_initialized: bool, problems: list[str]) -> None:
        if was_initialized:
            try:
                self._do_shutdown()
            except Exception as exc:
                problems.append(self._scrub(f"_do_shutdown raised {type(exc).__name__}: {exc}"))

    def _close_sync_transport(self, problems: list[str]) -> None:
        transport, self._sync_transport = self._sync_transport, None
        if transport is not None and self._owns_sync:
            try:
                transport.close()
            except Exception as exc:
                problems.append(self._scrub(f"closing the blocking transport raised {exc!r}"))

    def _end_shutdown(self, problems: list[str]) -> Result[None]:
        self._state = ConnectorState.SHUTDOWN
        if problems:
            return Result(error=messaging_error(
                MessagingErrorCodes.MESSAGING_ERROR,
                "the connector shut down, with problems: " + "; ".join(problems)))
        return Result(data=None)

    async def shutdown(self) -> Result[None]:
        """Release everything: provider resources, then the transports this connector created.

        Idempotent; afterwards operations return ``CONNECTOR_SHUT_DOWN`` (``get_status`` and
        ``get_health`` still report the state).
        """
        done, was_initialized = self._begin_shutdown()
        if done:
            return Result(data=None)
        problems: list[str] = []
        self._shutdown_provider(was_initialized, problems)
        transport, self._async_transport = self._async_transport, None
        if transport is not None and self._owns_async:
            try:
                await transport.aclose()
            except Exception as exc:
                problems.append(self._scrub(f"closing the async transport raised {exc!r}"))
        self._close_sync_transport(problems)
        return self._end_shutdown(problems)

    async def __aenter__(self: C) -> C:
        if self._state is ConnectorState.UNINITIALIZED:
            await self.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    def blocking(self) -> BlockingConnector:
        """The synchronous view of this connector (same operations, same state, no event loop)."""
        view = self._blocking_view
        if view is None:
            view = self._blocking_view = BlockingConnector(self)
        return view

    # -- transports --------------------------------------------------------------------------
    def _create_async_transport(self) -> AsyncTransport:
        """The async transport of this connector, created on first use: an httpx client around
        ``http_transport`` when one was given, else ``AsyncioTransport`` (hosts that proxy
        environment variables apply to go through httpx, which supports proxies)."""
        with self._lock:
            if self._async_transport is None:
                given = self._http_transport
                if given is not None:
                    import httpx

                    from ._http import HttpxAsyncTransport

                    if not isinstance(given, httpx.AsyncBaseTransport):
                        raise TypeError(
                            "http_transport cannot serve the async path "
                            f"({type(given).__name__} is not an httpx.AsyncBaseTransport)")
                    self._async_transport = HttpxAsyncTransport(transport=given)
                else:
                    from ._asynchttp import default_async_transport

                    self._async_transport = default_async_transport()
                self._owns_async = True
            return self._async_transport

    def _create_sync_transport(self) -> SyncTransport:
        """The blocking transport of this connector, created on first use: an httpx client
        around ``http_transport`` when one was given, else ``StdlibSyncTransport`` (hosts that
        proxy environment variables apply to go through httpx, which supports proxies)."""
        with self._lock:
            if self._sync_transport is None:
                given = self._http_transport
                if given is not None:
                    import httpx

                    from ._http import HttpxSyncTransport

                    if not isinstance(given, httpx.BaseTransport):
                        raise TypeError(
                            "http_transport cannot serve the blocking path "
                            f"({type(given).__name__} is not an httpx.BaseTransport)")
                    self._sync_transport = HttpxSyncTransport(transport=given)
                else:
                    from ._synchttp import default_sync_transport

                    self._sync_transport = default_sync_transport()
                self._owns_sync = True
            return self._sync_transport

    # -- flow drivers ------------------------------------------------------------------------
    def _finish_error(self, result: Result[T], error: ErrorInfo, attempts: int) -> Result[T]:
        if attempts > 1 or (error.retryable and not error.outcome_unknown):
            details = dict(error.details)
            details["attempts"] = attempts
            return Result(error=evolve(error, details=details))
        return result

    async def _run_async(
        self, limited: bool, start: Callable[..., Flow[T]], *args: Any
    ) -> Result[T]:
        """Drive a flow over the async transport, with rate limiting (sends) and retries."""
        transport = self._async_transport or self._create_async_transport()
        timeout = self._timeout
        limiter = self._limiter if limited else None
        attempts = 0
        while True:
            attempts += 1
            if limiter is not None:
                await limiter.acquire(self._sleep)
            flow = start(*args)
            result: Result[T]
            try:
                request = next(flow)
                while True:
                    try:
                        response = await transport.send(request, timeout=timeout)
                    except TransportError as exc:
                        result = Result(error=self._transport_error(exc, request))
                        break
                    request = flow.send(response)
            except StopIteration as stop:
                result = _flow_result(stop.value, start)
            finally:
                flow.close()
            error = result.error
            if error is None:
                return result
            if not self._retry.should_retry(error, attempts):
                return self._finish_error(result, error, attempts)
            await self._sleep(self._retry.delay(error, attempts, self._random))

    def _run_blocking(
        self, limited: bool, start: Callable[..., Flow[T]], *args: Any
    ) -> Result[T]:
        """The blocking twin of :meth:`_run_async`: the same flow over the blocking transport."""
        transport = self._sync_transport or self._create_sync_transport()
        timeout = self._timeout
        limiter = self._limiter if limited else None
        attempts = 0
        while True:
            attempts += 1
            if limiter is not None:
                limiter.acquire_blocking(self._blocking_sleep)
            flow = start(*args)
            result: Result[T]
            try:
                request = next(flow)
                while True:
                    try:
                        response = transport.send(request, timeout=timeout)
                    except TransportError as exc:
                        result = Result(error=self._transport_error(exc, request))
                        break
                    request = flow.send(response)
            except StopIteration as stop:
                result = _flow_result(stop.value, start)
            finally:
                flow.close()
            error = result.error
            if error is None:
                return result
            if not self._retry.should_retry(error, attempts):
                return self._finish_error(result, error, attempts)
            self._blocking_sleep(self._retry.delay(error, attempts, self._random))

    # -- hooks -------------------------------------------------------------------------------
    def _hook(self, name: str) -> pluggy.HookCaller | None:
        """The hook caller when at least one plugin implements ``name``, else None (cheap)."""
        try:
            caller = self._hook_callers[name]
        except KeyError:
            pm = self._pm
            if pm is None:
                from ._plugins import get_plugin_manager

                pm = self._pm = get_plugin_manager()
            caller = self._hook_callers[name] = getattr(pm.hook, name, None)
        if caller is None or not caller.get_hookimpls():
            return None
        return caller

    def _observe(self, name: str, **kwargs: Any) -> None:
        """Call an observation hook; a plugin's exception is logged, never changes a result."""
        caller = self._hook(name)
        if caller is None:
            return
        try:
            caller(connector=self, **kwargs)
        except Exception as exc:
            text = self._scrub(f"{type(exc).__name__}: {exc}")
            _log.error("a %s plugin hook raised %s (the result is unchanged)", name, text)
            self._log_traceback(exc)

    # -- sending (shared steps) --------------------------------------------------------------
    def _check_send(self, message: Message, operation: str) -> Result[SendResult] | None:
        error = self._precheck(ChannelCapability.SEND_MESSAGES, operation)
        if error is not None:
            return Result(error=error)
        issues = self._schema.validate_message(message)
        if issues:
            return Result(error=self._validation_failed(issues))
        return None

    def _before_send(self, message: Message) -> Message | Result[SendResult]:
        """Run ``ratatosk_before_send``: the first replacement returned wins (re-validated)."""
        caller = self._hook("ratatosk_before_send")
        if caller is None:
            return message
        replacements = caller(connector=self, message=message)
        if not replacements:
            return message
        replacement = replacements[0]
        if not isinstance(replacement, Message):
            raise TypeError("a ratatosk_before_send hook returned "
                            f"{type(replacement).__name__}, not a Message or None")
        if replacement is not message:
            issues = self._schema.validate_message(replacement)
            if issues:
                return Result(error=self._validation_failed(issues))
        return replacement

    def _after_send(self, message: Message, result: Result[SendResult]) -> None:
        self._observe("ratatosk_after_send", message=message, result=result)

    async def _send(self, message: Message, failure_code: str) -> Result[SendResult]:
        try:
            early = self._check_send(message, "send_message")
        except Exception as exc:
            return self._unexpected(failure_code, "send_message", exc)
        if early is not None:
            return early
        sent = message
        try:
            prepared = self._before_send(message)
            if isinstance(prepared, Result):
                result = prepared
            else:
                sent = prepared
                result = await self._run_async(True, self._do_send_message, sent)
        except Exception as exc:
            result = self._unexpected(failure_code, "send_message", exc)
        self._after_send(sent, result)
        return result

    def _send_blocking(self, message: Message, failure_code: str) -> Result[SendResult]:
        try:
            early = self._check_send(message, "send_message")
        except Exception as exc:
            return self._unexpected(failure_code, "send_message", exc)
        if early is not None:
            return early
        sent = message
        try:
            prepared = self._before_send(message)
            if isinstance(prepared, Result):
                result = prepared
            else:
                sent = prepared
                result = self._run_blocking(True, self._do_send_message, sent)
        except Exception as exc:
            result = self._unexpected(failure_code, "send_message", exc)
        self._after_send(sent, result)
        return result

    def _batch_item_error(self, index: int, item: object) -> BatchSendResult:
        return BatchSendResult(index, "", Result(error=connector_error(
            ConnectorErrorCodes.SEND_BATCH_ERROR,
            f"batch item {index} is a {type(item).__name__}, not a Message")))

    # -- public async operations -------------------------------------------------------------
    async def test_connection(self) -> Result[ConnectorHealth]:
        """Check the provider can be reached and the credentials work (HEALTH_CHECK)."""
        error = self._precheck(ChannelCapability.HEALTH_CHECK, "test_connection")
        if error is not None:
            return Result(error=error)
        started = time.perf_counter()
        try:
            result = await self._run_async(False, self._do_test_connection)
        except Exception as exc:
            return self._unexpected(MessagingErrorCodes.CONNECTION_FAILED, "test_connection", exc)
        return self._timed_health(result, started)

    async def send_message(self, message: Message) -> Result[SendResult]:
        """Validate and send one message (SEND_MESSAGES)."""
        if not isinstance(message, Message):
            raise TypeError(f"send_message takes a Message, not {type(message).__name__}")
        return await self._send(message, MessagingErrorCodes.SEND_MESSAGE_FAILED)

    async def send_batch(
        self,
        messages: Iterable[Message] | AsyncIterable[Message],
        *,
        concurrency: int = 16,
    ) -> AsyncGenerator[BatchSendResult, None]:
        """Send many messages, at most ``concurrency`` at a time (BULK_MESSAGING).

        ``messages`` is any iterable or async iterable; it is read lazily. Yields exactly one
        :class:`~ratatosk.BatchSendResult` per input item, in completion order; memory stays
        bounded by ``concurrency``. A message whose hook or flow raises gets a
        ``SEND_BATCH_ERROR`` result; an item that is not a Message too. When the input itself
        raises, the messages already taken are finished and yielded, then the exception is
        re-raised. Closing the iterator early (``aclose()``, or leaving an
        ``async with contextlib.aclosing(...)`` block) cancels the sends in flight.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError("concurrency must be a positive integer")
        source = _BatchSource(messages)
        error = self._precheck(ChannelCapability.BULK_MESSAGING, "send_batch")
        if error is not None:
            while (pulled := await source.next()) is not None:
                yield BatchSendResult(pulled[0], _item_id(pulled[1]), Result(error=error))
            source.raise_error()
            return
        workers_count = concurrency
        if isinstance(messages, Sized):
            workers_count = max(1, min(concurrency, len(messages)))
        import asyncio  # here, not at import: the blocking path and the CLI never need it

        queue: asyncio.Queue[BatchSendResult | None] = asyncio.Queue(workers_count)

        async def worker() -> None:
            try:
                while (pulled := await source.next()) is not None:
                    index, item = pulled
                    if isinstance(item, Message):
                        sent = await self._send(item, ConnectorErrorCodes.SEND_BATCH_ERROR)
                        result = BatchSendResult(index, item.id, sent)
                    else:
                        result = self._batch_item_error(index, item)
                    await queue.put(result)
            except Exception as exc:  # a bug in the machinery itself: surface it
                source.fail(exc)
            await queue.put(None)

        workers = [asyncio.ensure_future(worker()) for _ in range(workers_count)]
        running = workers_count
        try:
            while running:
                item = await queue.get()
                if item is None:
                    running -= 1
                else:
                    yield item
        finally:
            pending = [w for w in workers if not w.done()]
            for w in pending:
                w.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        source.raise_error()

    async def get_message_status(self, remote_id: str) -> Result[StatusUpdate]:
        """Fetch a sent message's status by the provider's id (MESSAGE_STATUS_QUERY)."""
        early = self._check_status_query(remote_id)
        if early is not None:
            return early
        try:
            return await self._run_async(False, self._do_get_message_status, remote_id)
        except Exception as exc:
            return self._unexpected(ConnectorErrorCodes.GET_STATUS_ERROR, "get_message_status", exc)

    def classify_webhook(self, source: MessageSource) -> WebhookKind | None:
        """Whether a webhook request is an inbound message or a status update; None when the
        connector cannot tell (then the endpoint's route must say which it receives).

        The default: the only one of RECEIVE_MESSAGES / HANDLE_MESSAGE_STATE the schema declares.
        Providers whose messages and status updates share one URL override it (no I/O, no
        signature check: ``receive_*`` does that).
        """
        messages = self.schema.has_capability(ChannelCapability.RECEIVE_MESSAGES)
        statuses = self.schema.has_capability(ChannelCapability.HANDLE_MESSAGE_STATE)
        if messages and not statuses:
            return WebhookKind.MESSAGE
        if statuses and not messages:
            return WebhookKind.STATUS
        return None

    def webhook_reply(self, kind: WebhookKind, reply: object | None = None) -> WebhookReply:
        """The HTTP answer to a webhook of this kind that was received (or was a duplicate);
        ``reply`` is what the application's handler returned (None when it was not called).

        The default: a :class:`~ratatosk.WebhookReply` the handler returned, else (None or any
        other value) 200 with an empty body. Providers that expect a body (Twilio: TwiML)
        override it; an override raises TypeError for a reply it cannot send (endpoints then
        answer 500).
        """
        if isinstance(reply, WebhookReply):
            return reply
        return WebhookReply.empty()

    async def receive_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        """Parse the messages of an inbound webhook (RECEIVE_MESSAGES).

        ``ratatosk_message_received`` is called for each message parsed.
        """
        return self._receive_messages(source)

    async def receive_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        """Parse a status-callback webhook (HANDLE_MESSAGE_STATE).

        ``ratatosk_status_received`` is called with the update parsed.
        """
        return self._receive_message_status(source)

    async def get_status(self) -> Result[StatusInfo]:
        """The connector's state, a description and details (never initializes, never fails)."""
        return Result(data=self._status_info())

    async def get_health(self) -> Result[ConnectorHealth]:
        """Whether the connector can work now.

        With HEALTH_CHECK declared this runs :meth:`test_connection`; otherwise it is decided by
        the state (initializing lazily). An unhealthy connector is a successful result with
        ``is_healthy`` false and the problem in ``issues``.
        """
        if self._state in _CLOSED or not self._supports[ChannelCapability.HEALTH_CHECK]:
            return self._state_health()
        return self._health_of(await self.test_connection())

    # -- shared non-flow operations ----------------------------------------------------------
    def _check_status_query(self, remote_id: str) -> Result[StatusUpdate] | None:
        if not isinstance(remote_id, str):
            raise TypeError(f"remote_id must be a string, not {type(remote_id).__name__}")
        error = self._precheck(ChannelCapability.MESSAGE_STATUS_QUERY, "get_message_status")
        if error is not None:
            return Result(error=error)
        if not remote_id.strip():
            return Result(error=self._validation_failed(
                [ValidationIssue("remote_id", "must not be empty", "required")]))
        return None

    def _receive_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        if not isinstance(source, MessageSource):
            raise TypeError(f"receive_messages takes a MessageSource, not {type(source).__name__}")
        error = self._precheck(ChannelCapability.RECEIVE_MESSAGES, "receive_messages")
        if error is not None:
            return Result(error=error)
        try:
            result = _flow_result(self._do_receive_messages(source), self._do_receive_messages)
        except Exception as exc:
            return self._unexpected(ConnectorErrorCodes.RECEIVE_MESSAGES_ERROR,
                                    "receive_messages", exc)
        data = result.data
        if data is not None and data.messages and self._hook("ratatosk_message_received"):
            for message in data.messages:
                self._observe("ratatosk_message_received", message=message)
        return result

    def _receive_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        if not isinstance(source, MessageSource):
            raise TypeError("receive_message_status takes a MessageSource, "
                            f"not {type(source).__name__}")
        error = self._precheck(ChannelCapability.HANDLE_MESSAGE_STATE, "receive_message_status")
        if error is not None:
            return Result(error=error)
        try:
            result = _flow_result(self._do_receive_message_status(source),
                                  self._do_receive_message_status)
        except Exception as exc:
            return self._unexpected(ConnectorErrorCodes.RECEIVE_STATUS_ERROR,
                                    "receive_message_status", exc)
        # a retried callback (flagged duplicate by the provider) was observed the first time
        if result.data is not None and result.data.additional_data.get("duplicate") is not True:
            self._observe("ratatosk_status_received", update=result.data)
        return result

    def _status_info(self) -> StatusInfo:
        state = self._state
        schema = self._schema
        descriptions = {
            ConnectorState.UNINITIALIZED: "not initialized yet (initializes on first use)",
            ConnectorState.INITIALIZING: "initializing",
            ConnectorState.READY: "ready",
            ConnectorState.SHUTTING_DOWN: "shutting down",
            ConnectorState.SHUTDOWN: "shut down",
        }
        details: dict[str, Any] = {
            "provider": schema.provider,
            "connector_type": schema.type,
            "schema": schema.identity,
            "preset": schema.name,
            "capabilities": [c.name for c in ChannelCapability
                             if c is not ChannelCapability.NONE and self._supports[c]],
        }
        if state is ConnectorState.ERROR and self._init_error is not None:
            description = f"initialization failed: {self._init_error.message}"
            details["error_code"] = self._init_error.code
        else:
            description = descriptions.get(state, state.value)
        return StatusInfo(state=state.value, description=description, details=details)

    def _state_health(self) -> Result[ConnectorHealth]:
        state = self._state
        if state not in _CLOSED:
            self._ensure_ready("get_health")
            state = self._state
        issues: tuple[str, ...] = ()
        if state is ConnectorState.ERROR and self._init_error is not None:
            issues = (str(self._init_error),)
        elif state is not _READY:
            issues = (f"the connector is {state.value.replace('_', ' ')}",)
        return Result(data=ConnectorHealth(is_healthy=state is _READY, state=state.value,
                                           issues=issues))

    def _health_of(self, result: Result[ConnectorHealth]) -> Result[ConnectorHealth]:
        error = result.error
        if error is None:
            return result
        return Result(data=ConnectorHealth(
            is_healthy=False, state=self._state.value, issues=(str(error),),
            details={"error_code": error.code}))

    @staticmethod
    def _timed_health(result: Result[ConnectorHealth], started: float) -> Result[ConnectorHealth]:
        data = result.data
        if data is not None and data.latency_ms is None:
            latency = (time.perf_counter() - started) * 1000.0
            return Result(data=evolve(data, latency_ms=latency))
        return result

    # -- blocking implementations (used by BlockingConnector) --------------------------------
    def _test_connection_blocking(self) -> Result[ConnectorHealth]:
        error = self._precheck(ChannelCapability.HEALTH_CHECK, "test_connection")
        if error is not None:
            return Result(error=error)
        started = time.perf_counter()
        try:
            result = self._run_blocking(False, self._do_test_connection)
        except Exception as exc:
            return self._unexpected(MessagingErrorCodes.CONNECTION_FAILED, "test_connection", exc)
        return self._timed_health(result, started)

    def _get_message_status_blocking(self, remote_id: str) -> Result[StatusUpdate]:
        early = self._check_status_query(remote_id)
        if early is not None:
            return early
        try:
            return self._run_blocking(False, self._do_get_message_status, remote_id)
        except Exception as exc:
            return self._unexpected(ConnectorErrorCodes.GET_STATUS_ERROR, "get_message_status", exc)

    def _send_batch_blocking(
        self, messages: Iterable[Message], concurrency: int
    ) -> Generator[BatchSendResult, None, None]:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError("concurrency must be a positive integer")
        if isinstance(messages, AsyncIterable) and not isinstance(messages, Iterable):
            raise TypeError("the blocking send_batch takes an iterable, not an async iterable")
        error = self._precheck(ChannelCapability.BULK_MESSAGING, "send_batch")
        if error is not None:
            for index, item in enumerate(messages):
                yield BatchSendResult(index, _item_id(item), Result(error=error))
            return
        if concurrency == 1:
            for index, item in enumerate(messages):
                yield self._batch_one_blocking(index, item)
            return
        yield from self._send_batch_threads(messages, concurrency)

    def _batch_one_blocking(self, index: int, item: object) -> BatchSendResult:
        if not isinstance(item, Message):
            return self._batch_item_error(index, item)
        return BatchSendResult(index, item.id,
                               self._send_blocking(item, ConnectorErrorCodes.SEND_BATCH_ERROR))

    def _send_batch_threads(
        self, messages: Iterable[Message], concurrency: int
    ) -> Iterator[BatchSendResult]:
        futures = concurrent.futures
        pool = futures.ThreadPoolExecutor(concurrency, thread_name_prefix="ratatosk-batch")
        pending: set[concurrent.futures.Future[BatchSendResult]] = set()
        input_error: Exception | None = None
        try:
            iterator = enumerate(messages)
            while True:
                try:
                    index, item = next(iterator)
                except StopIteration:
                    break
                except Exception as exc:
                    input_error = exc
                    break
                pending.add(pool.submit(self._batch_one_blocking, index, item))
                if len(pending) >= concurrency:
                    done, pending = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            while pending:
                done, pending = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)
        if input_error is not None:
            raise input_error

    def _shutdown_blocking(self) -> Result[None]:
        done, was_initialized = self._begin_shutdown()
        if done:
            return Result(data=None)
        problems: list[str] = []
        self._shutdown_provider(was_initialized, problems)
        if self._async_transport is not None and self._owns_async:
            # an httpx.AsyncClient can only be closed from an event loop; it holds no
            # connections once its loop is gone. Use `await connector.shutdown()` to close it.
            _log.debug("blocking shutdown leaves the async transport of %r to the GC", self)
        self._async_transport = None
        self._close_sync_transport(problems)
        return self._end_shutdown(problems)


@define(eq=False)
class _BatchSource:
    """Pulls ``(index, item)`` pairs from an iterable or async iterable, one at a time."""

    items: Iterable[Any] | AsyncIterable[Any]
    _iterator: Iterator[Any] | None = field(init=False, default=None)
    _aiterator: AsyncIterator[Any] | None = field(init=False, default=None)
    _lock: asyncio.Lock | None = field(init=False, default=None)
    _index: int = field(init=False, default=0)
    _done: bool = field(init=False, default=False)
    _error: BaseException | None = field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        items = self.items
        if isinstance(items, AsyncIterable):
            import asyncio

            self._aiterator = items.__aiter__()
            self._lock = asyncio.Lock()
        elif isinstance(items, Iterable):
            self._iterator = iter(items)
        else:
            raise TypeError("send_batch takes an iterable or async iterable of messages, "
                            f"not {type(items).__name__}")

    async def next(self) -> tuple[int, Any] | None:
        """The next item and its index, or None when the input is exhausted (or failed)."""
        if self._done:
            return None
        if self._iterator is not None:
            try:
                item = next(self._iterator)
            except StopIteration:
                self._done = True
                return None
            except Exception as exc:
                self.fail(exc)
                return None
        else:
            assert self._lock is not None and self._aiterator is not None
            async with self._lock:
                if self._done:
                    return None
                try:
                    item = await self._aiterator.__anext__()
                except StopAsyncIteration:
                    self._done = True
                    return None
                except Exception as exc:
                    self.fail(exc)
                    return None
        index = self._index
        self._index = index + 1
        return index, item

    def fail(self, exc: BaseException) -> None:
        self._done = True
        if self._error is None:
            self._error = exc

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error


@define(eq=False, repr=False)
class BlockingConnector:
    """The synchronous view of a :class:`Connector`: the same operations, blocking.

    It shares the connector's state, settings, schema, transports and rate limiter, and drives
    the same provider flows over a blocking transport (``StdlibSyncTransport`` by default). It never
    starts an event loop. ``send_batch`` returns an iterator; with ``concurrency > 1`` it sends
    from a pool of worker threads (plugins' hooks then run in those threads), with
    ``concurrency=1`` it sends one after the other in the calling thread.
    """

    connector: Connector

    @property
    def schema(self) -> ChannelSchema:
        return self.connector.schema

    @property
    def settings(self) -> ConnectionSettings:
        return self.connector.settings

    @property
    def parameters(self) -> dict[str, Any]:
        return self.connector.parameters

    @property
    def state(self) -> ConnectorState:
        return self.connector.state

    def __repr__(self) -> str:
        return f"<blocking view of {self.connector!r}>"

    def initialize(self) -> Result[None]:
        """See :meth:`Connector.initialize`."""
        return self.connector._initialize(lazy=False)

    def test_connection(self) -> Result[ConnectorHealth]:
        """See :meth:`Connector.test_connection`."""
        return self.connector._test_connection_blocking()

    def send_message(self, message: Message) -> Result[SendResult]:
        """See :meth:`Connector.send_message`."""
        if not isinstance(message, Message):
            raise TypeError(f"send_message takes a Message, not {type(message).__name__}")
        return self.connector._send_blocking(message, MessagingErrorCodes.SEND_MESSAGE_FAILED)

    def send_batch(
        self, messages: Iterable[Message], *, concurrency: int = 16
    ) -> Generator[BatchSendResult, None, None]:
        """See :meth:`Connector.send_batch`; returns an iterator (close it to stop early:
        sends not started are cancelled, those already running are finished)."""
        return self.connector._send_batch_blocking(messages, concurrency)

    def get_message_status(self, remote_id: str) -> Result[StatusUpdate]:
        """See :meth:`Connector.get_message_status`."""
        return self.connector._get_message_status_blocking(remote_id)

    def receive_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        """See :meth:`Connector.receive_messages`."""
        return self.connector._receive_messages(source)

    def receive_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        """See :meth:`Connector.receive_message_status`."""
        return self.connector._receive_message_status(source)

    def get_status(self) -> Result[StatusInfo]:
        """See :meth:`Connector.get_status`."""
        return Result(data=self.connector._status_info())

    def get_health(self) -> Result[ConnectorHealth]:
        """See :meth:`Connector.get_health`."""
        connector = self.connector
        if connector._state in _CLOSED or not connector._supports[ChannelCapability.HEALTH_CHECK]:
            return connector._state_health()
        return connector._health_of(connector._test_connection_blocking())

    def shutdown(self) -> Result[None]:
        """See :meth:`Connector.shutdown` (an async transport, if one was created, is left to
        ``await connector.shutdown()``)."""
        return self.connector._shutdown_blocking()

    def __enter__(self: B) -> B:
        if self.connector._state is ConnectorState.UNINITIALIZED:
            self.initialize()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
