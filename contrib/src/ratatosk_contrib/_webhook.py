"""The framework-neutral core of the webhook endpoints (Starlette/FastAPI, Flask, Django).

It works for any connector and never branches on the provider. An adapter turns the framework's
request into a :class:`~ratatosk.MessageSource` (the full URL as requested, query included, every
header, the raw body, capped), and hands it to a :class:`WebhookProcessor`, which

1. asks ``connector.classify_webhook(source)`` whether it is an inbound message or a status
   update (unless the endpoint's ``kind`` fixes it),
2. calls ``connector.receive_messages(source)`` / ``connector.receive_message_status(source)``
   (the connector checks the signature, parses, de-duplicates and fires the plugin hooks),
3. calls the application's handler (sync or async) once per new message / status update; a
   retried webhook (a duplicate) is answered without calling it again,
4. answers with ``connector.webhook_reply(kind, reply)`` (the provider decides the body; an
   empty 200 by default), or with a neutral plain-text error: 403 for a bad
   signature, 400 for malformed data, 413 for an oversized body, 500 when the handler raised
   (logged; the webhook's de-duplication key is forgotten so the provider's retry is processed
   again) or the connector failed.

The steps are written once, as a generator of calls (:meth:`WebhookProcessor._steps`); the async
and the blocking driver only differ in how they make a call.

Logging (logger ``ratatosk_contrib._webhook``): every outcome is one record with structured
fields in ``extra`` (``webhook_kind``, ``provider``, ``message_id``, ``remote_message_id``,
``message_status``, ``provider_status``, ``http_status``, ``error_code``, ``provider_code``; for a
403 also ``url``, ``url_from``, ``forwarded_headers``, ``forwarded_headers_ignored``). Bodies,
headers, form fields and settings are never logged.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, Literal, TypeVar

from attrs import define, field, frozen

from ratatosk import (
    ErrorInfo,
    Message,
    MessageSource,
    MessagingErrorCodes,
    Result,
    StatusUpdate,
    WebhookKind,
    WebhookReply,
    parse_int,
)

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_READ_TIMEOUT",
    "BodyTooLarge",
    "MessageHandler",
    "StatusHandler",
    "WebhookKindOption",
    "WebhookProcessor",
    "check_content_length",
    "read_timed_out",
    "too_large",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_BODY_SIZE = 64 * 1024
"""Bodies larger than this are answered 413 without being read to the end."""

DEFAULT_READ_TIMEOUT = 10.0
"""Seconds an ASGI endpoint waits for the whole body before answering 408 (a client that
trickles its body cannot hold the endpoint open)."""

MessageHandler = Callable[[Message], Any]
"""Called with each new inbound message; may be async; its return value is handed to
``connector.webhook_reply`` (e.g. the reply text the provider should send back)."""
StatusHandler = Callable[[StatusUpdate], Any]
"""Called with each new status update; may be async; its return value is handed to
``connector.webhook_reply``."""
WebhookKindOption = Literal["auto", "message", "status"] | WebhookKind
"""``"auto"`` (ask the connector) or the kind an endpoint receives."""

# details of a refused webhook that the connector may give and that are worth logging
_DETAIL_FIELDS = ("url", "url_from", "forwarded_headers", "forwarded_headers_ignored")


class BodyTooLarge(Exception):
    """The request body is larger than the adapter accepts (answered 413)."""


def check_content_length(value: str | None, limit: int) -> WebhookReply | None:
    """413 when a ``Content-Length`` header announces more than ``limit`` bytes, 400 when it is
    not a number, None when the body may be read (up to ``limit`` + 1 bytes)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        logger.warning("webhook refused (400): malformed Content-Length",
                       extra={"http_status": 400})
        return WebhookReply.text(400, "malformed Content-Length")
    if int(text) > limit:
        return too_large(limit)
    return None


def read_timed_out(seconds: float) -> WebhookReply:
    """The 408 answer to a body that did not arrive in time (logged)."""
    logger.warning("webhook refused (408): the body did not arrive within %g s", seconds,
                   extra={"http_status": 408})
    return WebhookReply.text(408, f"the body did not arrive within {seconds:g} seconds")


def too_large(limit: int) -> WebhookReply:
    """The 413 answer (logged)."""
    logger.warning("webhook refused (413): the body is larger than %d bytes", limit,
                   extra={"http_status": 413})
    return WebhookReply.text(413, f"the body is larger than {limit} bytes")


def _run_coroutine(awaitable: Awaitable[T]) -> T:
    """Run an async handler from synchronous code (Flask, Django), with no loop of ours."""

    async def wrap() -> T:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wrap())
    # a loop runs in this thread (unusual for a sync view): run the coroutine in another thread
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(wrap())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="ratatosk-webhook-handler")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


async def _to_thread(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(function, *args)


def _blocking_view(connector: Any) -> Any:
    """The connector's blocking view when given an async connector, else the connector itself."""
    blocking = getattr(connector, "blocking", None)
    if callable(blocking):
        return blocking()
    return connector


def _webhook_api(connector: Any) -> Any:
    """The object that has ``classify_webhook``/``webhook_reply``: the connector, or the
    connector behind a blocking view; None for an object that has neither."""
    for owner in (connector, getattr(connector, "connector", None)):
        if owner is not None and callable(getattr(owner, "webhook_reply", None)):
            return owner
    return None


def _positive_int(value: Any) -> int | None:
    """A positive whole number (the framework's one value parser), else None."""
    try:
        number = parse_int(value)
    except ValueError:
        return None
    return number if number > 0 else None


def _limit_from(connector: Any) -> int:
    """The connector's MaxWebhookBodySize: its validated parameters once initialized, else its
    settings as given, else the default."""
    parameters = getattr(connector, "parameters", None)
    if isinstance(parameters, Mapping):
        value = _positive_int(parameters.get("MaxWebhookBodySize"))
        if value is not None:
            return value
    settings = getattr(connector, "settings", None)
    get_parameter = getattr(settings, "get_parameter", None)
    if callable(get_parameter):
        try:
            value = _positive_int(get_parameter("MaxWebhookBodySize"))
        except Exception:
            value = None
        if value is not None:
            return value
    return DEFAULT_MAX_BODY_SIZE


def _kind_option(kind: Any) -> WebhookKind | None:
    if isinstance(kind, WebhookKind):
        return kind
    if kind == "auto":
        return None
    if kind in ("message", "status"):
        return WebhookKind(kind)
    raise ValueError(f"kind must be 'auto', 'message' or 'status', not {kind!r}")


class _CallKind(enum.Enum):
    RECEIVE = "receive"
    HANDLER = "handler"


@frozen
class _Call:
    """One call the steps need made: a connector's receive operation or an application handler
    (either may be sync or async; the driver knows how to make it)."""

    kind: _CallKind
    function: Callable[[Any], Any]
    argument: Any


_Steps = Generator[_Call, Any, WebhookReply]


@define
class WebhookProcessor:
    """Processes one webhook request for an adapter (see the module's docstring).

    ``connector`` is any connector: an async one (``await connector.receive_messages(...)``) for
    async frameworks; for synchronous ones pass ``blocking=True`` and the connector (its blocking
    view is used) or its blocking view. ``kind`` fixes the webhook kind when an endpoint receives
    only one kind; ``"auto"`` (the default) asks ``connector.classify_webhook``.
    """

    connector: Any
    on_message: MessageHandler | None = None
    on_status: StatusHandler | None = None
    kind: WebhookKindOption = "auto"
    max_body_size: int | None = None
    blocking: bool = False
    _target: Any = field(init=False, default=None)
    _api: Any = field(init=False, default=None)
    _fixed: WebhookKind | None = field(init=False, default=None)
    _provider: str = field(init=False, default="")

    def __attrs_post_init__(self) -> None:
        self._fixed = _kind_option(self.kind)
        if self.max_body_size is not None and self.max_body_size <= 0:
            raise ValueError("max_body_size must be positive")
        self._target = _blocking_view(self.connector) if self.blocking else self.connector
        self._api = _webhook_api(self.connector)
        self._provider = str(getattr(self._api, "provider", "") or "")

    @property
    def limit(self) -> int:
        """The largest body accepted, in bytes: ``max_body_size`` when given, else the
        connector's MaxWebhookBodySize (read on every request), else 64 KiB."""
        if self.max_body_size is not None:
            return self.max_body_size
        return _limit_from(self.connector)

    # -- the steps, written once ------------------------------------------------------------
    def _classify(self, source: MessageSource) -> WebhookKind | None:
        if self._fixed is not None:
            return self._fixed
        classify = getattr(self._api, "classify_webhook", None)
        if not callable(classify):
            return None
        kind = classify(source)
        return kind if isinstance(kind, WebhookKind) else None

    def _reply(self, kind: WebhookKind, reply: Any) -> WebhookReply:
        if self._api is None:
            return reply if isinstance(reply, WebhookReply) else WebhookReply.empty()
        answer = self._api.webhook_reply(kind, reply)
        if not isinstance(answer, WebhookReply):
            raise TypeError(f"webhook_reply returned {type(answer).__name__}, not a WebhookReply")
        return answer

    def _steps(self, source: MessageSource) -> _Steps:
        """Classify, receive, call the handler, answer (see the module's docstring)."""
        limit = self.limit
        if len(source.body) > limit:
            return too_large(limit)
        kind = self._classify(source)
        if kind is None:
            logger.error(
                "webhook failed (500): the connector cannot tell whether this webhook is a "
                "message or a status update; give the endpoint kind='message' or kind='status'",
                extra=self._fields(None, http_status=500))
            return WebhookReply.text(500, "webhook kind unknown")
        if kind is WebhookKind.STATUS:
            status: Result[StatusUpdate] = yield _Call(
                _CallKind.RECEIVE, self._target.receive_message_status, source)
            if status.error is not None:
                return self._refused(kind, status.error)
            update = status.data
            duplicate = update is not None and update.is_duplicate
            self._log_received(kind, update, duplicate)
            reply = None
            if self.on_status is not None and not duplicate:
                try:
                    reply = yield _Call(_CallKind.HANDLER, self.on_status, update)
                    return self._reply(kind, reply)
                except Exception:
                    return self._handler_failed(kind, update)
            return self._reply(kind, None)

        received: Result[Any] = yield _Call(
            _CallKind.RECEIVE, self._target.receive_messages, source)
        if received.error is not None:
            return self._refused(kind, received.error)
        data: Any = received.data
        duplicate = bool(getattr(data, "is_duplicate", False))
        self._log_received(kind, data, duplicate)
        reply = None
        if self.on_message is not None and not duplicate:
            try:
                for message in data.messages:
                    answer = yield _Call(_CallKind.HANDLER, self.on_message, message)
                    reply = answer if answer is not None else reply
                return self._reply(kind, reply)
            except Exception:
                return self._handler_failed(kind, data)
        return self._reply(kind, None)

    # -- the two drivers --------------------------------------------------------------------
    async def handle_async(
        self,
        source: MessageSource,
        *,
        run_sync: Callable[..., Awaitable[Any]] | None = None,
    ) -> WebhookReply:
        """Process ``source`` with an async connector; sync handlers run via ``run_sync``
        (default: a worker thread)."""
        run = run_sync or _to_thread

        async def make(call: _Call) -> Any:
            if call.kind is _CallKind.HANDLER and not inspect.iscoroutinefunction(call.function):
                value = await run(call.function, call.argument)
            else:
                value = call.function(call.argument)
            if inspect.isawaitable(value):
                value = await value
            return value

        steps = self._steps(source)
        value: Any = None
        error: Exception | None = None
        while True:
            try:
                call = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = await make(call)
            except Exception as exc:
                error = exc

    def handle_sync(self, source: MessageSource) -> WebhookReply:
        """Process ``source`` with a blocking connector; async handlers are run to completion."""
        steps = self._steps(source)
        value: Any = None
        error: Exception | None = None
        while True:
            try:
                call = steps.throw(error) if error is not None else steps.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                value = call.function(call.argument)
                if inspect.isawaitable(value):
                    value = _run_coroutine(value)
            except Exception as exc:
                error = exc

    # -- outcomes ---------------------------------------------------------------------------
    def _fields(self, kind: WebhookKind | None, **more: Any) -> dict[str, Any]:
        return {"webhook_kind": kind.value if kind is not None else None,
                "provider": self._provider, **more}

    def _log_received(self, kind: WebhookKind, data: Any, duplicate: bool) -> None:
        if kind is WebhookKind.STATUS:
            status = getattr(data, "status", None)
            fields = self._fields(
                kind, http_status=200, duplicate=duplicate,
                remote_message_id=getattr(data, "remote_message_id", None),
                message_status=getattr(status, "name", None),
                provider_status=getattr(data, "provider_status", None))
            error = getattr(data, "error", None)
            if isinstance(error, ErrorInfo):
                fields.update(error_code=str(error.code), provider_code=error.provider_code)
            if duplicate:
                logger.info("duplicate status update %s answered without calling the handler",
                            fields["remote_message_id"], extra=fields)
            else:
                logger.debug("status update %s received: %s", fields["remote_message_id"],
                             fields["message_status"], extra=fields)
            return
        if duplicate:
            logger.info("duplicate inbound message webhook answered without calling the handler",
                        extra=self._fields(kind, http_status=200, duplicate=True))
            return
        for message in getattr(data, "messages", ()):
            logger.debug("inbound message %s received", message.id,
                         extra=self._fields(kind, http_status=200, duplicate=False,
                                            message_id=message.id))

    def _refused(self, kind: WebhookKind, error: ErrorInfo) -> WebhookReply:
        fields = self._fields(kind, error_code=str(error.code),
                              provider_code=error.provider_code)
        if error.code == MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE:
            details = {name: error.details[name] for name in _DETAIL_FIELDS
                       if name in error.details}
            fields.update(details, http_status=403)
            logger.warning(
                "webhook refused (403): %s; signature checked against %s (from %s); "
                "forwarded headers honoured: %s; present but not honoured: %s",
                error.message, details.get("url", "(unknown)"), details.get("url_from", "?"),
                ", ".join(details.get("forwarded_headers") or ()) or "none",
                ", ".join(details.get("forwarded_headers_ignored") or ()) or "none",
                extra=fields)
            return WebhookReply.text(403, "invalid webhook signature")
        if error.code == MessagingErrorCodes.INVALID_WEBHOOK_DATA:
            if error.details.get("reason") == "too_large":
                logger.warning("webhook refused (413): %s", error.message,
                               extra={**fields, "http_status": 413})
                return WebhookReply.text(413, "webhook body too large")
            logger.warning("webhook refused (400): %s", error.message,
                           extra={**fields, "http_status": 400})
            return WebhookReply.text(400, "invalid webhook data")
        logger.error("webhook failed (500): [%s:%s] %s", error.domain, error.code, error.message,
                     extra={**fields, "http_status": 500})
        return WebhookReply.text(500, "webhook processing failed")

    def _forget(self, data: Any) -> None:
        """After a handler failed: let the provider's retry of this webhook be processed."""
        # the connector, or the connector behind a blocking view
        connector = getattr(self.connector, "connector", self.connector)
        forget = getattr(connector, "forget_webhook", None)
        if data is not None and callable(forget):
            try:
                forget(data)
            except Exception:
                logger.exception("could not forget the webhook's de-duplication key",
                                 extra=self._fields(None))

    def _handler_failed(self, kind: WebhookKind, data: Any) -> WebhookReply:
        logger.exception("the webhook handler raised (or its reply cannot be sent); "
                         "answering 500", extra=self._fields(kind, http_status=500))
        self._forget(data)
        return WebhookReply.text(500, "webhook handler failed")
