"""The framework-neutral core of the webhook adapters (Starlette/FastAPI, Flask, Django).

An adapter turns the framework's request into a :class:`~ratatosk.MessageSource` (the full URL as
requested, query included, every header, the raw body, capped), and hands it to a
:class:`WebhookProcessor`, which

1. decides whether it is an inbound message or a status callback (:func:`classify_source`),
2. calls ``connector.receive_messages(source)`` / ``connector.receive_message_status(source)``
   (the connector validates the signature, parses, de-duplicates and fires the plugin hooks),
3. calls the application's handler (sync or async) once per new message / status update; a
   retried webhook (a duplicate) is answered without calling it again,
4. answers with a :class:`WebhookResponse`: TwiML 200 (the handler's reply, or the empty
   ``<Response/>``), 403 for a bad signature, 400 for malformed data, 413 for an oversized body,
   500 when the handler raised (logged; the webhook's de-duplication key is forgotten so the
   provider's retry is processed again) or the connector failed unexpectedly.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypeVar

from attrs import define, field, frozen

from ratatosk import ErrorInfo, Message, MessageSource, MessagingErrorCodes, Result, StatusUpdate

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "EMPTY_TWIML",
    "BodyTooLarge",
    "MessageHandler",
    "StatusHandler",
    "WebhookKindOption",
    "WebhookProcessor",
    "WebhookResponse",
    "check_content_length",
    "classify_source",
]

logger = logging.getLogger("ratatosk_contrib.webhook")

T = TypeVar("T")

DEFAULT_MAX_BODY_SIZE = 64 * 1024
"""Bodies larger than this are answered 413 without being read to the end."""

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
TWIML_CONTENT_TYPE = "text/xml"

MessageHandler = Callable[[Message], Any]
"""Called with each new inbound message; may be async; may return a TwiML reply (or None)."""
StatusHandler = Callable[[StatusUpdate], Any]
"""Called with each new status update; may be async; its return value is ignored unless TwiML."""
WebhookKindOption = Literal["auto", "message", "status"]


class BodyTooLarge(Exception):
    """The request body is larger than the adapter accepts (answered 413)."""


@frozen
class WebhookResponse:
    """What an adapter sends back: status code, body and content type."""

    status_code: int
    body: bytes
    content_type: str = TWIML_CONTENT_TYPE

    @classmethod
    def twiml(cls, body: str | bytes = EMPTY_TWIML, status_code: int = 200) -> WebhookResponse:
        """A TwiML answer (``text/xml``)."""
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        return cls(status_code, raw, TWIML_CONTENT_TYPE)

    @classmethod
    def text(cls, status_code: int, message: str) -> WebhookResponse:
        """A short plain-text answer for an error."""
        return cls(status_code, message.encode("utf-8"), "text/plain")


def check_content_length(value: str | None, limit: int) -> WebhookResponse | None:
    """413 when a ``Content-Length`` header announces more than ``limit`` bytes, 400 when it is
    not a number, None when the body may be read (up to ``limit`` + 1 bytes)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        return WebhookResponse.text(400, "malformed Content-Length")
    if int(text) > limit:
        return WebhookResponse.text(413, f"the body is larger than {limit} bytes")
    return None


def too_large(limit: int) -> WebhookResponse:
    """The 413 answer."""
    return WebhookResponse.text(413, f"the body is larger than {limit} bytes")


def classify_source(source: MessageSource) -> Literal["message", "status"]:
    """Inbound message or status callback, from the form fields' names.

    A status callback has MessageStatus or SmsStatus and neither Body nor NumMedia (Twilio's
    inbound messages carry ``SmsStatus=received`` together with Body and NumMedia). A body that
    is not a readable form counts as a message: the connector then answers with the right error
    (after checking the signature).
    """
    try:
        keys = {key for key, _ in source.form_items()}
    except ValueError:
        return "message"
    if keys & {"MessageStatus", "SmsStatus"} and not keys & {"Body", "NumMedia"}:
        return "status"
    return "message"


def _error_response(error: ErrorInfo) -> WebhookResponse:
    if error.code == MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE:
        logger.warning("webhook rejected (403): %s", error.message)
        return WebhookResponse.text(403, "invalid webhook signature")
    if error.code == MessagingErrorCodes.INVALID_WEBHOOK_DATA:
        if error.details.get("reason") == "too_large":
            logger.warning("webhook rejected (413): %s", error.message)
            return WebhookResponse.text(413, "webhook body too large")
        logger.warning("webhook rejected (400): %s", error.message)
        return WebhookResponse.text(400, "invalid webhook data")
    logger.error("webhook failed (500): [%s:%s] %s", error.domain, error.code, error.message)
    return WebhookResponse.text(500, "webhook processing failed")


def _reply_response(reply: Any) -> WebhookResponse | None:
    """A handler's return value as an answer: a TwiMLResponse-like object, str/bytes, or None."""
    if reply is None:
        return None
    if isinstance(reply, (str, bytes)):
        return WebhookResponse.twiml(reply)
    body = getattr(reply, "body", None)
    if isinstance(body, (str, bytes)):
        raw = body.encode("utf-8") if isinstance(body, str) else body
        content_type = getattr(reply, "content_type", None) or TWIML_CONTENT_TYPE
        status_code = getattr(reply, "status_code", None) or 200
        return WebhookResponse(int(status_code), raw, str(content_type))
    raise TypeError(
        f"a webhook handler returns None, TwiML text or a TwiMLResponse, "
        f"not {type(reply).__name__}"
    )


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


def _blocking_twin(connector: Any) -> Any:
    """The connector's blocking twin when given an async connector, else the connector itself."""
    blocking = getattr(connector, "blocking", None)
    if callable(blocking):
        return blocking()
    return connector


def _positive_int(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


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


def _dedup_key(result: Result[Any]) -> str | None:
    data = result.data
    additional = getattr(data, "additional_data", None)
    if isinstance(additional, Mapping):
        key = additional.get("dedup_key")
        return key if isinstance(key, str) else None
    return None


@define
class WebhookProcessor:
    """Processes one webhook request for an adapter (see the module's docstring).

    ``connector`` is an async connector (``await connector.receive_messages(...)``) for async
    frameworks; for synchronous ones pass ``blocking=True`` and the connector (its blocking twin
    is used) or its blocking twin. ``kind`` fixes the webhook kind when an endpoint receives only
    one kind; ``"auto"`` (the default) uses :func:`classify_source`.
    """

    connector: Any
    on_message: MessageHandler | None = None
    on_status: StatusHandler | None = None
    kind: WebhookKindOption = "auto"
    max_body_size: int | None = None
    blocking: bool = False
    _target: Any = field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        if self.kind not in ("auto", "message", "status"):
            raise ValueError(f"kind must be 'auto', 'message' or 'status', not {self.kind!r}")
        if self.max_body_size is not None and self.max_body_size <= 0:
            raise ValueError("max_body_size must be positive")
        self._target = _blocking_twin(self.connector) if self.blocking else self.connector

    @property
    def limit(self) -> int:
        """The largest body accepted, in bytes: ``max_body_size`` when given, else the
        connector's MaxWebhookBodySize (read on every request), else 64 KiB."""
        if self.max_body_size is not None:
            return self.max_body_size
        return _limit_from(self.connector)

    def _kind(self, source: MessageSource) -> Literal["message", "status"]:
        return classify_source(source) if self.kind == "auto" else self.kind

    def _forget(self, key: str | None) -> None:
        """After a handler failed: let the provider's retry of this webhook be processed."""
        if key is None:
            return
        # the connector, or the connector behind a blocking twin
        for owner in (self.connector, getattr(self.connector, "connector", None), self._target):
            store = getattr(owner, "dedup_store", None)
            forget = getattr(store, "forget", None)
            if callable(forget):
                try:
                    forget(key)
                except Exception:
                    logger.exception("could not forget the webhook's de-duplication key")
                return

    def _handler_failed(self, result: Result[Any]) -> WebhookResponse:
        logger.exception("the webhook handler raised; answering 500")
        self._forget(_dedup_key(result))
        return WebhookResponse.text(500, "webhook handler failed")

    # -- async frameworks -------------------------------------------------------------------
    async def handle(
        self,
        source: MessageSource,
        *,
        run_sync: Callable[..., Awaitable[Any]] | None = None,
    ) -> WebhookResponse:
        """Process ``source`` with an async connector; sync handlers run via ``run_sync``
        (default: a worker thread)."""
        if len(source.body) > self.limit:
            return too_large(self.limit)
        run = run_sync or _to_thread

        async def call(handler: Callable[[Any], Any], value: Any) -> Any:
            if inspect.iscoroutinefunction(handler):
                return await handler(value)
            reply = await run(handler, value)
            if inspect.isawaitable(reply):
                reply = await reply
            return reply

        async def invoke(method: str) -> Result[Any]:
            outcome = getattr(self._target, method)(source)
            if inspect.isawaitable(outcome):
                outcome = await outcome
            return outcome  # type: ignore[no-any-return]

        if self._kind(source) == "status":
            result: Result[Any] = await invoke("receive_message_status")
            if result.error is not None:
                return _error_response(result.error)
            update = result.data
            reply = None
            if self.on_status is not None and not _is_duplicate_status(update):
                try:
                    reply = _reply_response(await call(self.on_status, update))
                except Exception:
                    return self._handler_failed(result)
            return reply or WebhookResponse.twiml()

        result = await invoke("receive_messages")
        if result.error is not None:
            return _error_response(result.error)
        reply = None
        received: Any = result.data
        if self.on_message is not None and not received.is_duplicate:
            try:
                for message in received.messages:
                    reply = _reply_response(await call(self.on_message, message)) or reply
            except Exception:
                return self._handler_failed(result)
        return reply or WebhookResponse.twiml()

    # -- synchronous frameworks -------------------------------------------------------------
    def handle_blocking(self, source: MessageSource) -> WebhookResponse:
        """Process ``source`` with a blocking connector; async handlers are run to completion."""
        if len(source.body) > self.limit:
            return too_large(self.limit)

        def call(handler: Callable[[Any], Any], value: Any) -> Any:
            reply = handler(value)
            if inspect.isawaitable(reply):
                reply = _run_coroutine(reply)
            return reply

        def invoke(method: str) -> Result[Any]:
            outcome = getattr(self._target, method)(source)
            if inspect.isawaitable(outcome):
                outcome = _run_coroutine(outcome)
            return outcome  # type: ignore[no-any-return]

        if self._kind(source) == "status":
            result: Result[Any] = invoke("receive_message_status")
            if result.error is not None:
                return _error_response(result.error)
            reply = None
            if self.on_status is not None and not _is_duplicate_status(result.data):
                try:
                    reply = _reply_response(call(self.on_status, result.data))
                except Exception:
                    return self._handler_failed(result)
            return reply or WebhookResponse.twiml()

        result = invoke("receive_messages")
        if result.error is not None:
            return _error_response(result.error)
        reply = None
        received: Any = result.data
        if self.on_message is not None and not received.is_duplicate:
            try:
                for message in received.messages:
                    reply = _reply_response(call(self.on_message, message)) or reply
            except Exception:
                return self._handler_failed(result)
        return reply or WebhookResponse.twiml()


def _is_duplicate_status(update: Any) -> bool:
    additional = getattr(update, "additional_data", None)
    return isinstance(additional, Mapping) and additional.get("duplicate") is True
