"""The connector base class every provider connector extends.

Every operation is written once, as a generator of effects (see :mod:`._operation`); the async
methods and the blocking view (:meth:`Connector.blocking`) run the very same generators through
two small drivers. A provider implements a few public hooks (``setup``, ``send_message_flow``, ...;
see ``docs/connectors.md``) and may declare extra operations with :class:`~ratatosk.operation`.

Order of a send: state check (shut down? initialize lazily) -> capability ->
``schema.validate_message`` (every issue -> ``MESSAGE_VALIDATION_FAILED``) -> opt-out gate
(``RECIPIENT_OPTED_OUT``, see ``.._optout``) -> ``ratatosk_before_send`` hook -> rate limiter ->
flow with retries -> ``ratatosk_after_send`` hook.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
import time
import traceback
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Mapping,
)
from functools import partial
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from attrs import evolve

from .._dedup import DeduplicationStore, InMemoryDeduplicationStore
from .._errors import (
    ConnectorErrorCodes,
    ErrorCode,
    ErrorInfo,
    MessagingError,
    MessagingErrorCodes,
    ValidationIssue,
)
from .._models import Message
from .._optout import (
    SuppressionStore,
    note_inbound,
    note_send_result,
    note_status,
    refuse_if_suppressed,
)
from .._ratelimit import TokenBucket
from .._results import (
    BatchSendResult,
    ConnectorHealth,
    Err,
    Ok,
    ReceiveResult,
    Result,
    SendResult,
    StatusInfo,
    StatusUpdate,
)
from .._retry import RetryPolicy
from .._settings import (
    MASK,
    ConnectionSettings,
    Parameters,
    Secret,
    SettingsParseError,
    mask_url_passwords,
    secret_forms,
    structure_settings,
    url_passwords,
)
from .._source import MessageSource
from .._status import StatusTracker
from .._values import parse_number
from .._webhooks import WebhookKind, WebhookReply
from ..plugins import get_plugin_manager
from ..schema import (
    COMMON_PARAMETERS,
    AuthenticationFieldRole,
    ChannelCapability,
    ChannelSchema,
)
from ..transports import AsyncTransport, Flow, SyncTransport, TransportError
from ._batch import BatchPacer, BatchSource, item_id, run_paced
from ._operation import CloseTransports, Effect, Operation, Sleep, operation
from ._runtime import Runtime

if TYPE_CHECKING:
    import httpx
    import pluggy

    from ..ratelimit import RateLimiter
    from ._blocking import BlockingConnector

T = TypeVar("T")
C = TypeVar("C", bound="Connector")
if TYPE_CHECKING:  # a default (PEP 696): a bare ``Connector`` is ``Connector[Any]``
    from typing_extensions import TypeVar as _DefaultedTypeVar

    S = _DefaultedTypeVar("S", default=Any)
else:
    S = TypeVar("S")

_log = logging.getLogger(__name__)

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
    ChannelCapability.HEALTH_CHECK: "test_connection_flow",
    ChannelCapability.SEND_MESSAGES: "send_message_flow",
    ChannelCapability.MESSAGE_STATUS_QUERY: "get_message_status_flow",
    ChannelCapability.RECEIVE_MESSAGES: "parse_messages",
    ChannelCapability.HANDLE_MESSAGE_STATE: "parse_message_status",
})
"""The provider hook that implements each capability (reported by
:meth:`Connector.implemented_capabilities`). ``BULK_MESSAGING`` has no hook of its own: the base
implements ``send_batch`` on top of ``send_message_flow``."""

OPERATION_CAPABILITIES: Mapping[str, ChannelCapability] = MappingProxyType({
    "test_connection": ChannelCapability.HEALTH_CHECK,
    "send_message": ChannelCapability.SEND_MESSAGES,
    "send_batch": ChannelCapability.BULK_MESSAGING,
    "get_message_status": ChannelCapability.MESSAGE_STATUS_QUERY,
    "receive_messages": ChannelCapability.RECEIVE_MESSAGES,
    "receive_message_status": ChannelCapability.HANDLE_MESSAGE_STATE,
})
"""The capability that gates each public operation (the others are never gated)."""

COMMON_DEFAULTS: Mapping[str, float | int] = MappingProxyType(
    {parameter.name: parameter.default for parameter in COMMON_PARAMETERS})
"""The common parameters the base reads, and their defaults when a schema does not declare them
(derived from :data:`~ratatosk.COMMON_PARAMETERS`, their one source)."""

_CONNECTOR_CODES = frozenset(ConnectorErrorCodes.all_codes())


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
        number = parse_number(value)  # the framework's one value parser (finite, never a bool)
        if integer and not float(number).is_integer():
            raise ValueError(value)
    except ValueError:
        issues.append(ValidationIssue(name, f"must be {kind}", "type"))
        return None
    number = float(number)
    if number < 0 or (positive and number == 0):
        issues.append(ValidationIssue(name, f"must be {kind} {'>' if positive else '>='} 0",
                                      "range"))
        return None
    return number


def _text(value: object) -> str:
    return value.reveal() if isinstance(value, Secret) else str(value)


def _checked_result(value: object, start: Callable[..., Any]) -> Result[Any]:
    if isinstance(value, (Ok, Err)):
        return value
    raise TypeError(f"{getattr(start, '__qualname__', start)!r} returned "
                    f"{type(value).__name__}, not a Result")


def immediately(result: Result[T]) -> Generator[Any, Any, Result[T]]:
    """An operation (or flow) that ends at once with ``result``, sending nothing."""
    return result
    yield  # a generator function: the unreachable yield makes this an operation


class Connector(Generic[S]):
    """The base class of every provider connector.

    Subclasses set the class variables ``provider``, ``connector_type``, ``default_schema`` and
    ``presets`` and implement the hooks for the capabilities their schema declares
    (``send_message_flow`` for SEND_MESSAGES, ...; see :data:`CAPABILITY_METHODS` and
    ``docs/connectors.md``). Users construct a connector with a schema (default:
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

    Typed settings: a subclass names an attrs class both as its type parameter and as
    ``settings_type`` (``class MyConnector(Connector[MySettings])``, ``settings_type =
    MySettings``); :attr:`config` is then that class, built from :attr:`parameters`.
    """

    __ratatosk_connector__: ClassVar[bool] = True
    provider: ClassVar[str] = ""
    connector_type: ClassVar[str] = ""
    default_schema: ClassVar[ChannelSchema]
    presets: ClassVar[Mapping[str, ChannelSchema]] = MappingProxyType({})
    settings_type: ClassVar[type[Any] | None] = None
    """The attrs class :attr:`config` is built as (``class MyConnector(Connector[MySettings])``
    with ``settings_type = MySettings``); None: :attr:`config` is :attr:`parameters`."""
    suppressions: SuppressionStore | None
    """Opt-outs (docs/opt-outs.md): a send to a suppressed recipient is refused with
    ``RECIPIENT_OPTED_OUT`` before any request; STOP/START replies and the provider's opt-out
    errors are recorded here. None (the default): only ``ratatosk_is_suppressed`` hooks gate."""
    rate_limiter: RateLimiter | None
    """A limit on sends shared beyond this connector (docs/scale.md): every send is charged
    :meth:`message_cost` units (segments) before its request leaves, waiting (``Sleep``
    effects, async and blocking alike) until the limiter admits it. A
    :class:`~ratatosk.ratelimit.SharedRateLimiter` shares one budget between every worker
    process through Redis. None (the default): only ``MessagesPerSecond`` applies."""
    dedup_store: DeduplicationStore | None
    """Where webhook de-duplication keys are remembered (docs/webhooks.md): an
    :class:`~ratatosk.InMemoryDeduplicationStore` made on first use unless you assign one before
    the first webhook (a :class:`~ratatosk.RedisDeduplicationStore` when several processes serve
    the endpoint)."""
    status_tracker: StatusTracker | None
    """Statuses that never go back (docs/statuses.md): sends are tracked and status callbacks
    applied through it (``is_stale``, ``message_status``). None (the default): not tracked."""

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
        self._schema: ChannelSchema = self.resolve_schema(schema)
        self._settings, self._settings_problem = _to_settings(settings)
        sensitive = [p.name for p in self._schema.parameters if p.sensitive]
        self._settings.mark_sensitive(*sensitive)
        self._secrets = self._secret_values()
        self._parameters: Parameters = Parameters(sensitive=sensitive)
        self._config: Any = None
        self._state = ConnectorState.UNINITIALIZED
        self._init_error: ErrorInfo | None = None
        self._lock = threading.RLock()
        self._supports = {cap: self._schema.has_capability(cap) for cap in ChannelCapability}
        self._runtime = Runtime(http_transport, async_transport, sync_transport)
        self._pm: pluggy.PluginManager | None = plugin_manager
        self._hook_callers: dict[str, pluggy.HookCaller | None] = {}
        self._retry = RetryPolicy()
        self._throttles = 0
        self._limiter: TokenBucket | None = None
        self._blocking_view: BlockingConnector | None = None
        self.suppressions = None
        self.status_tracker = None
        self.dedup_store = None
        self.rate_limiter = None

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def resolve_schema(cls, schema: ChannelSchema | str | None) -> ChannelSchema:
        """The schema to use: the default, a preset chosen by name (any case), or the one given.

        Raises ``MessagingError`` (INVALID_CONFIGURATION) for an unknown preset name.
        """
        if isinstance(schema, ChannelSchema):
            return schema
        default = getattr(cls, "default_schema", None)
        if not isinstance(default, ChannelSchema):
            raise TypeError(f"{cls.__qualname__} defines no default_schema; pass a schema")
        if schema is None:
            return default
        if not isinstance(schema, str):
            raise TypeError("schema must be a ChannelSchema or a preset name, "
                            f"not {type(schema)!r}")
        folded = {name.lower(): value for name, value in (cls.presets or {}).items()}
        if default.name is not None:
            folded.setdefault(default.name.lower(), default)
        if schema.lower() in folded:
            return folded[schema.lower()]
        names = ", ".join(sorted(cls.presets or {})) or "none"
        raise MessagingError(ErrorInfo(
            MessagingErrorCodes.INVALID_CONFIGURATION,
            f"{cls.provider}/{cls.connector_type} has no preset {schema!r}; presets: {names}"))

    def _secret_values(self) -> tuple[str, ...]:
        """Every secret as it may appear in text (raw and percent-encoded), longest first:
        sensitive settings and the passwords inside URLs (``https://user:token@host``)."""
        settings = self._settings
        values = {_text(settings.get_parameter(name)) for name in settings.sensitive_names}
        for value in settings.parameters.values():
            values.update(url_passwords(value))
        forms = {form for value in values if len(value) >= 4 for form in secret_forms(value)}
        return tuple(sorted(forms, key=len, reverse=True))

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
    def rate_limit_account(self) -> str:
        """Whose throughput limit this connector's sends count against, as a shared rate
        limiter's ``account`` key: ``"<provider>:<principal>"`` (``twilio:AC…``, ``vonage:<api
        key>``), the principal being that of the first authentication configuration whose
        principal is set; just ``"<provider>"`` without one."""
        provider = self._schema.connector_id.split("/", 1)[0]
        for auth in self._schema.authentication:
            name = auth.field_for(AuthenticationFieldRole.PRINCIPAL)
            value = self._settings.get_parameter(name) if name else None
            if value:
                return f"{provider}:{value}"
        return provider

    @property
    def parameters(self) -> dict[str, Any]:
        """The validated parameters: converted to their declared types, defaults applied.

        Empty until the connector is initialized; ``setup`` may rely on it. A ``dict`` (a
        :class:`~ratatosk.Parameters`) whose ``repr`` masks secrets.
        """
        return self._parameters

    @property
    def config(self) -> S:
        """The settings as the provider's typed object (an instance of :attr:`settings_type`),
        built from :attr:`parameters` when the connector initializes; ``setup`` may rely on it.

        Without a ``settings_type`` it is :attr:`parameters`. Raises ``RuntimeError`` before
        the connector is initialized (a programming error).
        """
        config = self._config
        if config is None:
            if self.settings_type is None:
                return cast(S, self._parameters)
            raise RuntimeError(f"{type(self).__qualname__}.config is read before the connector "
                               "is initialized (read it in setup() or later)")
        return cast(S, config)

    @property
    def state(self) -> ConnectorState:
        """The lifecycle state."""
        return self._state

    @property
    def runtime(self) -> Runtime:
        """The transports and timing the drivers use (see :meth:`configure_timing`)."""
        return self._runtime

    def supports(self, capability: ChannelCapability) -> bool:
        """Whether this connector's schema declares ``capability``."""
        return self._supports[capability]

    @classmethod
    def implemented_capabilities(cls) -> ChannelCapability:
        """The capabilities whose hook this class overrides (see CAPABILITY_METHODS).

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
        return (f"<{type(self).__qualname__} {schema.connector_id} schema={label} "
                f"state={self._state}>")

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
        runtime = self._runtime
        if sleep is not None:
            runtime.sleep = sleep
        if blocking_sleep is not None:
            runtime.blocking_sleep = blocking_sleep
        if random is not None:
            runtime.random = random
        if clock is not None:
            runtime.clock = clock
            if self._limiter is not None:
                self._limiter.set_clock(clock)
        return self

    # -- the hooks providers implement -------------------------------------------------------
    def setup(self) -> Result[None] | None:
        """Local set-up from ``self.parameters`` (no I/O). The default does nothing."""
        return None

    def test_connection_flow(self) -> Flow[ConnectorHealth]:
        """HEALTH_CHECK: a flow checking the provider can be reached and the credentials work."""
        return immediately(Err(self._not_implemented("test_connection")))

    def send_message_flow(self, message: Message) -> Flow[SendResult]:
        """SEND_MESSAGES: a flow sending one (already validated) message."""
        return immediately(Err(self._not_implemented("send_message")))

    def get_message_status_flow(self, remote_id: str) -> Flow[StatusUpdate]:
        """MESSAGE_STATUS_QUERY: a flow fetching a sent message's status."""
        return immediately(Err(self._not_implemented("get_message_status")))

    def parse_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        """RECEIVE_MESSAGES: parse an inbound-message webhook (no I/O)."""
        return Err(self._not_implemented("receive_messages"))

    def parse_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        """HANDLE_MESSAGE_STATE: parse a status-callback webhook (no I/O)."""
        return Err(self._not_implemented("receive_message_status"))

    def teardown(self) -> None:
        """Release what ``setup`` set up (the base closes its transports itself)."""

    # -- helpers for providers ---------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """``text`` with every secret of the settings replaced by the mask: raw or
        percent-encoded (``quote``/``quote_plus``), and the password of any URL's userinfo."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return mask_url_passwords(text)

    def check_ready(self, capability: ChannelCapability, operation: str) -> ErrorInfo | None:
        """The gate every operation passes: shut down? -> capability -> lazy initialization.

        None when the operation may go on, else the error to return.
        """
        state = self._state
        if state is not _READY and state in _CLOSED:
            return self._shut_down_error(operation)
        if not self._supports[capability]:
            return self._unsupported(capability, operation)
        if state is _READY:
            return None
        return self._initialize(lazy=True).error

    def validation_failed(self, issues: Iterable[ValidationIssue]) -> ErrorInfo:
        """The ``MESSAGE_VALIDATION_FAILED`` error listing every issue."""
        issues = tuple(issues)
        count = len(issues)
        listing = "; ".join(f"{issue.field}: {issue.message}" for issue in issues)
        return ErrorInfo(
            ConnectorErrorCodes.MESSAGE_VALIDATION_FAILED,
            f"the message is not valid for {self._schema.name or self._schema.identity}: "
            f"{count} problem{'s' if count != 1 else ''} found ({listing})",
            issues=issues,
        )

    def unexpected(self, code: str, operation: str, exc: Exception) -> Result[Any]:
        """An error result for an exception raised by provider or plugin code (logged, masked)."""
        text = self.scrub(f"{type(exc).__name__}: {exc}")
        _log.error("%s on %r raised %s", operation, self, text)
        self._log_traceback(exc)
        if not isinstance(code, ErrorCode) and code in _CONNECTOR_CODES:
            code = ConnectorErrorCodes(code)  # the domain follows from the code
        return Err(ErrorInfo(code, f"{operation} failed unexpectedly: {text}",
                             details={"exception": type(exc).__name__}))

    def run_flow(
        self,
        start: Callable[..., Flow[T]],
        *args: Any,
        operation: str = "operation",
        failure: str = MessagingErrorCodes.MESSAGING_ERROR,
        limited: bool = False,
    ) -> Operation[T]:
        """Run a provider flow with retries (and the rate limiter when ``limited``).

        ``yield from`` it inside an operation. Retryable errors are retried with backoff; a
        transport failure becomes ``CONNECTION_FAILED``/``TIMEOUT`` (``outcome_unknown`` when the
        request may have been received); an exception becomes ``failure``.
        """
        limiter = self._limiter if limited else None
        attempts = 0
        while True:
            attempts += 1
            if limiter is not None:
                wait = limiter.reserve()
                if wait > 0:
                    try:
                        yield Sleep(wait)
                    except BaseException:
                        limiter.refund()
                        raise
            try:
                result = _checked_result((yield from start(*args)), start)
            except TransportError as exc:
                result = Err(self._transport_error(exc))
            except Exception as exc:
                result = self.unexpected(failure, operation, exc)
            error = result.error
            if error is None:
                return result
            if error.code == MessagingErrorCodes.RATE_LIMITED:
                self._throttles += 1  # batches slow down when this moves (BatchPacer)
            if not self._retry.should_retry(error, attempts):
                return self._finish_error(result, error, attempts)
            yield Sleep(self._retry.delay(error, attempts, self._runtime.random))

    def observe(self, hook: str, **kwargs: Any) -> None:
        """Call an observation hook; a plugin's exception is logged, never changes a result."""
        caller = self._hook(hook)
        if caller is None:
            return
        try:
            caller(connector=self, **kwargs)
        except Exception as exc:
            text = self.scrub(f"{type(exc).__name__}: {exc}")
            _log.error("a %s plugin hook raised %s (the result is unchanged)", hook, text)
            self._log_traceback(exc)

    # -- errors ------------------------------------------------------------------------------
    def _not_implemented(self, operation: str) -> ErrorInfo:
        return ErrorInfo(
            ConnectorErrorCodes.CAPABILITY_NOT_SUPPORTED,
            f"{type(self).__qualname__} does not implement {operation}",
            details={"operation": operation},
        )

    def _unsupported(self, capability: ChannelCapability, operation: str) -> ErrorInfo:
        schema = self._schema
        return ErrorInfo(
            ConnectorErrorCodes.CAPABILITY_NOT_SUPPORTED,
            f"{operation} needs the {capability.name} capability, which the schema "
            f"{schema.name or schema.identity} does not declare",
            details={"operation": operation, "capability": capability.name},
        )

    def _shut_down_error(self, operation: str) -> ErrorInfo:
        return ErrorInfo(
            ConnectorErrorCodes.CONNECTOR_SHUT_DOWN,
            f"{operation} was called on a connector that is shut down",
            details={"operation": operation},
        )

    def _log_traceback(self, exc: BaseException) -> None:
        """The traceback at DEBUG, with secrets masked (exception messages may quote them)."""
        if _log.isEnabledFor(logging.DEBUG):
            lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
            _log.debug("%s", self.scrub("".join(lines)))

    def _transport_error(self, exc: TransportError) -> ErrorInfo:
        request = exc.request
        sent = exc.request_sent
        idempotent = request.is_idempotent if request is not None else False
        method = request.method if request is not None else "the"
        code = (MessagingErrorCodes.TIMEOUT if exc.timeout and sent
                else MessagingErrorCodes.CONNECTION_FAILED)
        if not sent:
            summary = "the request could not be sent"
        elif idempotent:
            summary = "no response came back (the request is safe to repeat)"
        else:
            summary = "no response came back; the provider may have received the request"
        return ErrorInfo(
            code,
            f"{method} request failed: {summary} ({self.scrub(str(exc))})",
            retryable=(not sent) or idempotent,
            outcome_unknown=sent and not idempotent,
            details={"request_sent": sent, "timeout": exc.timeout},
        )

    def _finish_error(self, result: Result[T], error: ErrorInfo, attempts: int) -> Result[T]:
        if attempts > 1 or (error.retryable and not error.outcome_unknown):
            details = dict(error.details)
            details["attempts"] = attempts
            return Err(evolve(error, details=details))
        return result

    # -- lifecycle ---------------------------------------------------------------------------
    def _initialize(self, *, lazy: bool) -> Result[None]:
        with self._lock:
            state = self._state
            if state is _READY:
                if lazy:
                    return Ok(None)
                return Err(ErrorInfo(ConnectorErrorCodes.ALREADY_INITIALIZED,
                                     "the connector is already initialized"))
            if state in _CLOSED:
                return Err(self._shut_down_error("initialize"))
            if state is ConnectorState.INITIALIZING:  # re-entered from setup()
                return Err(ErrorInfo(
                    ConnectorErrorCodes.INITIALIZATION_ERROR,
                    "an operation was called while the connector was initializing"))
            if state is ConnectorState.ERROR and lazy:
                assert self._init_error is not None
                return Err(self._init_error)
            self._state = ConnectorState.INITIALIZING
            error = self._resolve_parameters()
            if error is None:
                try:
                    result = self.setup()
                    if result is not None and not isinstance(result, (Ok, Err)):
                        raise TypeError(f"setup returned {type(result).__name__}, not a Result")
                    error = None if result is None else result.error
                except Exception as exc:
                    error = self.unexpected(ConnectorErrorCodes.INITIALIZATION_ERROR,
                                            "initialize", exc).error
            if error is not None:
                self._init_error = error
                self._state = ConnectorState.ERROR
                _log.warning("initializing %r failed: %s", self, error.message)
                return Err(error)
            self._init_error = None
            self._state = _READY
            return Ok(None)

    def _resolve_parameters(self) -> ErrorInfo | None:
        if self._settings_problem is not None:
            return ErrorInfo(
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
            values[name] = number = _number(name, value, issues, integer=name == "MaxRetries",
                                            positive=name == "Timeout")
            if number is not None:
                parameters.setdefault(name, int(number) if name == "MaxRetries" else number)
        if issues:
            return ErrorInfo(
                MessagingErrorCodes.INVALID_CONFIGURATION,
                f"{len(issues)} connection setting{'s are' if len(issues) != 1 else ' is'} "
                "not valid",
                issues=tuple(issues),
            )
        self._runtime.timeout = values["Timeout"]
        self._retry = RetryPolicy(int(values["MaxRetries"] or 0), values["RetryBaseDelay"] or 0.0,
                                  values["RetryMaxDelay"] or 0.0)
        rate = values["MessagesPerSecond"]
        self._limiter = TokenBucket(rate, clock=self._runtime.clock) if rate else None
        sensitive = (*self._settings.sensitive_names, *self._schema.sensitive_parameters)
        self._parameters = Parameters(parameters, sensitive=sensitive)
        return self._build_config()

    def _build_config(self) -> ErrorInfo | None:
        """:attr:`config` from the parameters (when the class declares a ``settings_type``)."""
        settings_type = self.settings_type
        if settings_type is None:
            self._config = None
            return None
        config, problems = structure_settings(settings_type, self._parameters)
        if config is None:
            issues = tuple(ValidationIssue(name, self.scrub(text), "type")
                           for name, text in problems)
            return ErrorInfo(
                MessagingErrorCodes.INVALID_CONFIGURATION,
                f"The connection settings are not valid for {type(self).__qualname__} "
                f"({len(issues)} problem{'s' if len(issues) != 1 else ''}).",
                issues=issues,
            )
        self._config = config
        return None

    def _begin_shutdown(self) -> tuple[bool, bool]:
        """(already shut down, was initialized)."""
        with self._lock:
            if self._state in _CLOSED:
                return True, False
            was_initialized = self._state in (_READY, ConnectorState.ERROR)
            self._state = ConnectorState.SHUTTING_DOWN
            return False, was_initialized

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
            from ._blocking import BlockingConnector  # the view module imports this one

            view = self._blocking_view = BlockingConnector(self)
        return view

    # -- hooks -------------------------------------------------------------------------------
    def _hook(self, name: str) -> pluggy.HookCaller | None:
        """The hook caller when at least one plugin implements ``name``, else None (cheap)."""
        try:
            caller = self._hook_callers[name]
        except KeyError:
            pm = self._pm
            if pm is None:
                pm = self._pm = get_plugin_manager()
            caller = self._hook_callers[name] = getattr(pm.hook, name, None)
        if caller is None or not caller.get_hookimpls():
            return None
        return caller

    def _before_send(self, message: Message) -> Message | ErrorInfo:
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
                return self.validation_failed(issues)
        return replacement

    # -- the operations, each written once ---------------------------------------------------
    @operation
    def initialize(self) -> Operation[None]:
        """Resolve and validate the settings against the schema, then set up the connector.

        Every settings problem is reported at once (``INVALID_CONFIGURATION``). A second call
        returns ``ALREADY_INITIALIZED``; after a failure (state ERROR) calling it again retries.
        Operations initialize lazily when this was not called.
        """
        return (yield from immediately(self._initialize(lazy=False)))

    @operation
    def test_connection(self) -> Operation[ConnectorHealth]:
        """Check the provider can be reached and the credentials work (HEALTH_CHECK)."""
        return (yield from self._test_connection())

    def _test_connection(self) -> Operation[ConnectorHealth]:
        error = self.check_ready(ChannelCapability.HEALTH_CHECK, "test_connection")
        if error is not None:
            return Err(error)
        started = time.perf_counter()
        result = yield from self.run_flow(self.test_connection_flow, operation="test_connection",
                                          failure=MessagingErrorCodes.CONNECTION_FAILED)
        data = result.data
        if data is not None and data.latency_ms is None:
            latency = (time.perf_counter() - started) * 1000.0
            return Ok(evolve(data, latency_ms=latency))
        return result

    @operation
    def send_message(self, message: Message) -> Operation[SendResult]:
        """Validate and send one message (SEND_MESSAGES)."""
        if not isinstance(message, Message):
            raise TypeError(f"send_message takes a Message, not {type(message).__name__}")
        started = time.perf_counter()
        result = yield from self._send(message, MessagingErrorCodes.SEND_MESSAGE_FAILED)
        self._finished("send_message", message, result, started)
        return result

    def _finished(self, operation: str, subject: object, result: Result[Any],
                  started: float) -> None:
        """``ratatosk_operation_finished`` (tracing, metrics), when a plugin implements it."""
        if self._hook("ratatosk_operation_finished") is not None:
            self.observe("ratatosk_operation_finished", operation=operation, subject=subject,
                          result=result, seconds=time.perf_counter() - started)

    def _send(self, message: Message, failure: str) -> Operation[SendResult]:
        try:
            error = self.check_ready(ChannelCapability.SEND_MESSAGES, "send_message")
            if error is None:
                issues = self._schema.validate_message(message)
                if issues:
                    error = self.validation_failed(issues)
                else:
                    error = refuse_if_suppressed(self, message)
        except Exception as exc:
            return self.unexpected(failure, "send_message", exc)
        if error is not None:
            _log.info("send refused before any request", extra={
                "message_id": message.id, "error_code": error.code})
            return Err(error)
        sent = message
        try:
            prepared = self._before_send(message)
            if isinstance(prepared, ErrorInfo):
                result: Result[SendResult] = Err(prepared)
            else:
                sent = prepared
                limiter = self.rate_limiter
                if limiter is not None:  # the shared budget, in segments, before the request
                    cost = max(1, int(self.message_cost(sent)))
                    while (wait := limiter.reserve(cost)) > 0:
                        yield Sleep(wait)
                _log.debug("sending message %s via %s", sent.id, self._schema.connector_id,
                           extra={"message_id": sent.id, "connector": self._schema.connector_id})
                result = yield from self.run_flow(self.send_message_flow, sent, limited=True,
                                                  operation="send_message", failure=failure)
        except Exception as exc:
            result = self.unexpected(failure, "send_message", exc)
        self._log_send(sent, result)
        self._after_send_bookkeeping(sent, result)
        self.observe("ratatosk_after_send", message=sent, result=result)
        return result

    def message_cost(self, message: Message) -> int:
        """The units :attr:`rate_limiter` charges for ``message``: its segments where the
        provider can tell before sending (Twilio's and Vonage's SMS connectors use their
        ``estimate``), else 1. Providers override it; no I/O."""
        return 1

    def _after_send_bookkeeping(self, message: Message, result: Result[SendResult]) -> None:
        """Record a provider's opt-out refusal; track an accepted message's status."""
        try:
            note_send_result(self, message, result)
            tracker, data = self.status_tracker, result.data
            if tracker is not None and data is not None and data.remote_message_id:
                tracker.track(data, connector=self._schema.connector_id,
                              sender=message.sender.address if message.sender else None,
                              recipient=message.receiver.address if message.receiver else None)
        except Exception as exc:  # a failing store never turns a sent message into a failure
            text = self.scrub(f"{type(exc).__name__}: {exc}")
            _log.error("recording the outcome of message %s failed: %s", message.id, text)

    @staticmethod
    def _log_send(message: Message, result: Result[SendResult]) -> None:
        error, data = result.error, result.data
        if error is None and data is not None:
            _log.debug("message %s sent as %s", message.id, data.remote_message_id, extra={
                "message_id": message.id, "remote_message_id": data.remote_message_id,
                "status": str(data.status)})
        elif error is not None:
            _log.info("message %s not sent: %s %s", message.id, error.code,
                         error.provider_code or "", extra={
                             "message_id": message.id, "error_code": error.code,
                             "provider_code": error.provider_code,
                             "outcome_unknown": error.outcome_unknown})

    def batch_item(self, index: int, item: object) -> Generator[Effect, Any, BatchSendResult]:
        """One item of a batch (shared by the async and the thread-pool batch engines)."""
        if not isinstance(item, Message):
            return BatchSendResult(index, "", Err(ErrorInfo(
                ConnectorErrorCodes.SEND_BATCH_ERROR,
                f"batch item {index} is a {type(item).__name__}, not a Message")))
        started = time.perf_counter()
        result = yield from self._send(item, ConnectorErrorCodes.SEND_BATCH_ERROR)
        self._finished("send_message", item, result, started)
        return BatchSendResult(index, item.id, result)

    def batch_refusal(self) -> ErrorInfo | None:
        """Why a batch cannot be sent at all (BULK_MESSAGING gate), or None."""
        return self.check_ready(ChannelCapability.BULK_MESSAGING, "send_batch")

    async def send_batch(
        self,
        messages: Iterable[Message] | AsyncIterable[Message],
        *,
        concurrency: int = 16,
        after_close: Callable[[BatchSendResult], object] | None = None,
        close_timeout: float = 30.0,
    ) -> AsyncGenerator[BatchSendResult, None]:
        """Send many messages, at most ``concurrency`` at a time (BULK_MESSAGING).

        ``messages`` is any iterable or async iterable; it is read lazily. Yields exactly one
        :class:`~ratatosk.BatchSendResult` per input item, in completion order; memory stays
        bounded by ``concurrency``. A message whose hook or flow raises gets a
        ``SEND_BATCH_ERROR`` result; an item that is not a Message too. When the input itself
        raises, the messages already taken are finished and yielded, then the exception is
        re-raised.

        The batch adapts (:class:`~ratatosk.connector.BatchPacer`): it starts with one send in
        flight and opens up to ``concurrency`` as sends succeed; when the provider throttles it
        halves the sends in flight and grows back slowly, and a message that ended
        ``RATE_LIMITED`` is sent again later rather than failed. At the first error that
        concerns every message (bad credentials, a suspended account, an unreachable provider)
        no further request leaves: the other messages get ``NOT_ATTEMPTED``.

        Closing the iterator early (``aclose()``, or leaving an ``async with
        contextlib.aclosing(...)`` block) takes no new message and waits up to
        ``close_timeout`` seconds for the sends already in flight; each of their results is
        passed to ``after_close`` (one not finished by then is cancelled and reported as
        outcome unknown), so no send that left goes unreported.
        """
        source = BatchSource(messages, concurrency)
        error = self.batch_refusal()
        if error is not None:
            while (pulled := await source.next()) is not None:
                yield BatchSendResult(pulled[0], item_id(pulled[1]), Err(error))
            source.raise_error()
            return
        pacer: BatchPacer[BatchSendResult] = BatchPacer(self, concurrency)
        engine = run_paced(self, source, pacer, after_close=after_close,
                           close_timeout=close_timeout)
        async with contextlib.aclosing(engine):  # closed early: the engine closes its sends
            async for result in engine:
                yield result

    @operation
    def get_message_status(self, remote_id: str) -> Operation[StatusUpdate]:
        """Fetch a sent message's status by the provider's id (MESSAGE_STATUS_QUERY)."""
        if not isinstance(remote_id, str):
            raise TypeError(f"remote_id must be a string, not {type(remote_id).__name__}")
        error = self.check_ready(ChannelCapability.MESSAGE_STATUS_QUERY, "get_message_status")
        if error is None and not remote_id.strip():
            error = self.validation_failed(
                [ValidationIssue("remote_id", "must not be empty", "required")])
        if error is not None:
            return Err(error)
        started = time.perf_counter()
        result = yield from self.run_flow(self.get_message_status_flow, remote_id,
                                          operation="get_message_status",
                                          failure=ConnectorErrorCodes.GET_STATUS_ERROR)
        if result.data is not None and self.status_tracker is not None:
            try:  # an answer is applied like a callback: it never undoes a later status
                result = Ok(self.status_tracker.annotate(result.data))
            except Exception as exc:
                result = self.unexpected(ConnectorErrorCodes.GET_STATUS_ERROR,
                                         "get_message_status", exc)
        self._finished("get_message_status", remote_id, result, started)
        return result

    def classify_webhook(self, source: MessageSource) -> WebhookKind | None:
        """Whether a webhook request is an inbound message or a status update; None when the
        connector cannot tell (then the endpoint's route must say which it receives).

        The default: the only one of RECEIVE_MESSAGES / HANDLE_MESSAGE_STATE the schema declares.
        Providers whose messages and status updates share one URL override it (no I/O, no
        signature check: ``receive_*`` does that).
        """
        messages = self._supports[ChannelCapability.RECEIVE_MESSAGES]
        statuses = self._supports[ChannelCapability.HANDLE_MESSAGE_STATE]
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

    @operation
    def receive_messages(self, source: MessageSource) -> Operation[ReceiveResult]:
        """Parse the messages of an inbound webhook (RECEIVE_MESSAGES).

        ``ratatosk_message_received`` is called for each message parsed.
        """
        if not isinstance(source, MessageSource):
            raise TypeError(f"receive_messages takes a MessageSource, not {type(source).__name__}")
        started = time.perf_counter()
        result = self._deduplicated(
            self._parse(ChannelCapability.RECEIVE_MESSAGES, "receive_messages",
                        ConnectorErrorCodes.RECEIVE_MESSAGES_ERROR, self.parse_messages, source),
            ConnectorErrorCodes.RECEIVE_MESSAGES_ERROR, "receive_messages")
        data = result.data
        if data is not None:
            try:  # opt-out keywords first: a store that fails fails the webhook (to be retried)
                opt_outs = [{"action": e.action.value, "keyword": e.keyword, "sender": e.sender,
                             "recipient": e.recipient, "message_id": e.message_id,
                             "changed": e.changed}
                            for e in map(partial(note_inbound, self), data.messages) if e]
            except Exception as exc:
                self.forget_webhook(data)
                return self.unexpected(ConnectorErrorCodes.RECEIVE_MESSAGES_ERROR,
                                       "receive_messages", exc)
            for message in data.messages:
                _log.debug("received message %s", message.id, extra={"message_id": message.id})
                self.observe("ratatosk_message_received", message=message)
            if opt_outs:
                result = Ok(evolve(data, additional_data={**data.additional_data,
                                                          "opt_outs": opt_outs}))
        self._finished("receive_messages", source, result, started)
        return (yield from immediately(result))

    @operation
    def receive_message_status(self, source: MessageSource) -> Operation[StatusUpdate]:
        """Parse a status-callback webhook (HANDLE_MESSAGE_STATE).

        ``ratatosk_status_received`` is called with the update parsed (once: a retried callback
        the provider flags as a duplicate is not observed again).
        """
        if not isinstance(source, MessageSource):
            raise TypeError("receive_message_status takes a MessageSource, "
                            f"not {type(source).__name__}")
        started = time.perf_counter()
        result = self._deduplicated(
            self._parse(ChannelCapability.HANDLE_MESSAGE_STATE, "receive_message_status",
                        ConnectorErrorCodes.RECEIVE_STATUS_ERROR, self.parse_message_status,
                        source),
            ConnectorErrorCodes.RECEIVE_STATUS_ERROR, "receive_message_status")
        update = result.data
        if update is not None and self.status_tracker is not None:
            try:  # a store that fails fails the webhook (the provider retries it)
                update = self.status_tracker.annotate(update)
                note_status(self, update)
            except Exception as exc:
                self.forget_webhook(update)
                return self.unexpected(ConnectorErrorCodes.RECEIVE_STATUS_ERROR,
                                       "receive_message_status", exc)
            result = Ok(update)
        if update is not None and not update.is_duplicate and not update.is_stale:
            _log.debug("status %s for %s", update.status, update.remote_message_id, extra={
                "remote_message_id": update.remote_message_id, "status": str(update.status)})
            self.observe("ratatosk_status_received", update=update)
        self._finished("receive_message_status", source, result, started)
        return (yield from immediately(result))

    # -- webhook de-duplication -------------------------------------------------------------
    def webhook_dedup_store(self) -> DeduplicationStore:
        """:attr:`dedup_store`, made (in memory) on first use when none was assigned."""
        store = self.dedup_store
        if store is None:
            with self._lock:
                store = self.dedup_store
                if store is None:
                    store = self.dedup_store = InMemoryDeduplicationStore()
        return store

    def _deduplicated(self, result: Result[T], failure: str, operation: str) -> Result[T]:
        """A parsed webhook checked against :attr:`dedup_store` (one atomic check-and-record).

        The provider's part is the key: ``additional_data["dedup_key"]``, derived only from what
        the webhook's signature covers (Twilio: account, message and status fields; Vonage: the
        signed body's message id and status), never from an unsigned header, so a replayed
        request is a duplicate whatever its headers say. A duplicate inbound webhook carries no
        messages; a duplicate status update has ``is_duplicate``. A store that fails fails the
        webhook (the provider retries it)."""
        data = result.data
        if data is None or getattr(data, "is_duplicate", False):
            return result
        key = data.additional_data.get("dedup_key")  # type: ignore[attr-defined]
        if not isinstance(key, str) or not key:
            return result
        try:
            seen = self.webhook_dedup_store().seen(key)
        except Exception as exc:
            return self.unexpected(failure, operation, exc)
        if not seen:
            return result
        _log.info("duplicate webhook ignored", extra={"dedup_key": key, "operation": operation})
        duplicate: Any = (evolve(data, messages=(), is_duplicate=True)
                          if isinstance(data, ReceiveResult) else
                          evolve(cast(StatusUpdate, data), is_duplicate=True))
        return Ok(duplicate)

    def forget_webhook(self, data: ReceiveResult | StatusUpdate) -> None:
        """Forget a received webhook's de-duplication key, so that the provider's retry of it is
        processed rather than taken for a duplicate: when recording it failed, or when the
        application's handler failed (the web endpoints call this before answering 500)."""
        key = data.additional_data.get("dedup_key")
        forget = getattr(self.dedup_store, "forget", None)
        if isinstance(key, str) and callable(forget):
            try:
                forget(key)
            except Exception as exc:
                _log.error("could not forget a webhook's de-duplication key: %s",
                           self.scrub(f"{type(exc).__name__}: {exc}"))

    def _parse(
        self, capability: ChannelCapability, operation: str, failure: str,
        parse: Callable[[MessageSource], Result[T]], source: MessageSource,
    ) -> Result[T]:
        error = self.check_ready(capability, operation)
        if error is not None:
            result: Result[T] = Err(error)
        else:
            try:
                result = _checked_result(parse(source), parse)
            except Exception as exc:
                result = self.unexpected(failure, operation, exc)
        if result.error is not None:
            url = self.scrub(source.url or "")
            _log.warning("%s refused a webhook: %s", operation, result.error.code,
                         extra={"error_code": result.error.code, "url": url})
        return result

    @operation
    def get_status(self) -> Operation[StatusInfo]:
        """The connector's state, a description and details (never initializes, never fails)."""
        return (yield from immediately(Ok(self._status_info())))

    @operation
    def get_health(self) -> Operation[ConnectorHealth]:
        """Whether the connector can work now.

        With HEALTH_CHECK declared this runs :meth:`test_connection`; otherwise it is decided by
        the state (initializing lazily). An unhealthy connector is a successful result with
        ``is_healthy`` false and the problem in ``issues``.
        """
        if self._state in _CLOSED or not self._supports[ChannelCapability.HEALTH_CHECK]:
            return self._state_health()
        result = yield from self._test_connection()
        error = result.error
        if error is None:
            return result
        return Ok(ConnectorHealth(
            is_healthy=False, state=self._state.value, issues=(str(error),),
            details={"error_code": error.code}))

    @operation
    def shutdown(self) -> Operation[None]:
        """Release everything: provider resources, then the transports this connector created.

        Idempotent; afterwards operations return ``CONNECTOR_SHUT_DOWN`` (``get_status`` and
        ``get_health`` still report the state). The blocking view cannot close an async
        transport (only an event loop can): ``await connector.shutdown()`` closes both.
        """
        done, was_initialized = self._begin_shutdown()
        if done:
            return Ok(None)
        problems: list[str] = []
        if was_initialized:
            try:
                self.teardown()
            except Exception as exc:
                problems.append(f"teardown raised {type(exc).__name__}: {exc}")
        problems += (yield CloseTransports())
        self._state = ConnectorState.SHUTDOWN
        if problems:
            return Err(ErrorInfo(
                MessagingErrorCodes.MESSAGING_ERROR,
                "the connector shut down, with problems: " + self.scrub("; ".join(problems))))
        return Ok(None)

    # -- state reports -----------------------------------------------------------------------
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
        if state is not _READY and state not in _CLOSED:
            self._initialize(lazy=True)
            state = self._state
        issues: tuple[str, ...] = ()
        if state is ConnectorState.ERROR and self._init_error is not None:
            issues = (str(self._init_error),)
        elif state is not _READY:
            issues = (f"the connector is {state.value.replace('_', ' ')}",)
        return Ok(ConnectorHealth(is_healthy=state is _READY, state=state.value,
                                           issues=issues))
