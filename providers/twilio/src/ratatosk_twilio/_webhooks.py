"""Twilio webhooks: inbound messages and status callbacks, signed, parsed and de-duplicated.

:class:`TwilioWebhookMixin` gives both Twilio connectors their ``_do_receive_messages`` and
``_do_receive_message_status``. Each call goes through the same steps, in this order, and stops at
the first failure with an error result (nothing raised, nothing recorded, nothing half-processed):

1. the body size (``MaxWebhookBodySize``, default 64 KiB) -> ``INVALID_WEBHOOK_DATA``;
2. the signature, before any field is interpreted: a URL to validate and an ``X-Twilio-Signature``
   header must be present, and the signature must match one of the auth tokens
   (``AuthToken`` and ``SecondaryAuthTokens``) -> ``INVALID_WEBHOOK_SIGNATURE``; a body that cannot
   even be read as a form (not UTF-8, not ``name=value&...``) -> ``INVALID_WEBHOOK_DATA``;
   ``ValidateSignatures=false`` skips this step;
3. the fields: content type, required fields, repeated fields, numbers -> ``INVALID_WEBHOOK_DATA``
   with every problem found;
4. de-duplication: the webhook's key (``I-Twilio-Idempotency-Token``, else MessageSid plus status)
   is recorded in the connector's :class:`~ratatosk.DeduplicationStore` only now, so a rejected
   request never poisons the store. A retry yields ``ReceiveResult(is_duplicate=True)`` /
   a ``StatusUpdate`` with ``additional_data["duplicate"] = True``.

An unexpected failure inside these steps (a bug, a de-duplication store that is down) is reported
as ``RECEIVE_MESSAGE_FAILED`` / ``RECEIVE_STATUS_FAILED`` (domain ``Twilio``) and logged.

The URL validated is the one Twilio requested; see :func:`resolve_public_url` for the rule.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import attrs

from ratatosk import (
    ButtonContent,
    Content,
    Endpoint,
    EndpointType,
    ErrorInfo,
    InvalidSourceData,
    LocationContent,
    MediaContent,
    MediaType,
    Message,
    MessageSource,
    MessagingErrorCodes,
    MultipartContent,
    ReceiveResult,
    Result,
    StatusUpdate,
    TextContent,
    ValidationIssue,
)
from ratatosk._dedup import DeduplicationStore, InMemoryDeduplicationStore
from ratatosk._errors import messaging_error

from ._error_catalog import describe_twilio_error
from ._errors import API_ERROR_MAP, TwilioErrorCodes, twilio_error
from ._status import map_twilio_status
from .signature import validate_signature

__all__ = [
    "DEFAULT_MAX_WEBHOOK_BODY_SIZE",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TwilioWebhookMixin",
    "WebhookKind",
    "classify_webhook",
    "parse_inbound_message",
    "parse_status_callback",
    "resolve_public_url",
    "webhook_dedup_key",
]

logger = logging.getLogger("ratatosk_twilio.webhooks")

DEFAULT_MAX_WEBHOOK_BODY_SIZE = 64 * 1024
"""Bodies larger than this (bytes) are refused; Twilio's largest webhooks are a few KiB."""

SIGNATURE_HEADER = "X-Twilio-Signature"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
JSON_MEDIA_TYPE = "application/json"

WebhookKind = Literal["message", "status"]

MAX_MEDIA = 100
"""More than this many media items in one webhook is not data Twilio sends."""

_MAX_KEY_LENGTH = 200
_MAX_SID_LENGTH = 128

# Fields Twilio sends at most once: a repeated one makes the request malformed.
_SINGULAR = frozenset(
    {
        "MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "MessagingServiceSid", "From", "To",
        "Body", "NumMedia", "NumSegments", "ApiVersion", "SmsStatus", "MessageStatus", "ErrorCode",
        "ErrorMessage", "RawDlrDoneDate", "EventType", "Price", "PriceUnit", "ProfileName", "WaId",
        "MessageType", "ButtonText", "ButtonPayload", "Latitude", "Longitude", "Address", "Label",
        "OriginalRepliedMessageSid", "ChannelPrefix", "ChannelToAddress", "ChannelInstallSid",
    }
)
_MEDIA_FIELD = re.compile(r"^Media(?:Url|ContentType)(\d+)$")
_CHANNEL_PREFIX = re.compile(r"^([a-z][a-z0-9_-]*):(.*)$", re.IGNORECASE | re.DOTALL)
_PHONE = re.compile(r"^\+?[0-9]{3,20}$")
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?$")
_DLR_DATE = re.compile(r"^[0-9]{10}$")
_DOCUMENT_TYPES = (
    "application/pdf", "application/msword", "application/rtf", "application/vnd.ms-",
    "application/vnd.openxmlformats-officedocument", "application/vnd.oasis.opendocument",
    "text/plain", "text/csv", "text/rtf",
)
# Delivery errors of status callbacks (30xxx) whose meaning is the recipient.
_RECIPIENT_ERRORS = frozenset({30003, 30005, 30006, 63003, 63024})
_STORE_LOCK = threading.Lock()


class _WebhookDataError(Exception):
    """Internal: the webhook's fields are malformed; carries every problem found."""

    def __init__(self, message: str, issues: Sequence[ValidationIssue] = (),
                 details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.issues = tuple(issues)
        self.details = dict(details or {})


def _data_error(message: str, *, issues: Iterable[ValidationIssue] = (),
                details: Mapping[str, Any] | None = None) -> ErrorInfo:
    return messaging_error(MessagingErrorCodes.INVALID_WEBHOOK_DATA, message,
                           issues=tuple(issues), details=dict(details or {}))


def _signature_error(message: str, reason: str) -> ErrorInfo:
    return messaging_error(MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE, message,
                           details={"reason": reason})


# -- URL --------------------------------------------------------------------------------------


def _first(value: str | None) -> str | None:
    """The first value of a comma-separated header, stripped; None when empty."""
    if value is None:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None


def _forwarded(url: str, source: MessageSource) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme
    proto = _first(source.header("X-Forwarded-Proto"))
    if proto and proto.lower() in ("http", "https"):
        scheme = proto.lower()
    netloc = parts.netloc
    host = _first(source.header("X-Forwarded-Host"))
    if host and _HOST.match(host):
        netloc = host
    port = _first(source.header("X-Forwarded-Port"))
    if port and port.isascii() and port.isdigit() and 0 < int(port) < 65536:
        match = _HOST.match(netloc)
        hostname = match.group(1) if match else netloc
        default = 443 if scheme == "https" else 80
        netloc = hostname if int(port) == default else f"{hostname}:{port}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, ""))


def resolve_public_url(
    source: MessageSource, *, configured_url: str | None = None, trust_forwarded: bool = False
) -> str | None:
    """The URL Twilio requested, as it signed it, or None when it cannot be known.

    * A configured URL (``WebhookUrl`` / ``StatusCallback``) wins: it is what was given to Twilio.
      When it has no query string but the request has one, the request's query string is used
      with it (Twilio signs the full URL it requested, query included, and a query such as
      ``?tenant=7`` is usually added per number or per message). A configured URL that has a
      query is used exactly as configured.
    * Otherwise the source's own URL (the adapters build it from the real request).
    * With ``trust_forwarded`` the scheme, host and port of the source's URL are taken from
      ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` / ``X-Forwarded-Port`` (the first value of a
      comma-separated list, i.e. the proxy closest to the client). Only turn this on when a proxy
      you control sets these headers: otherwise anyone can choose the URL that is validated.
    """
    try:
        if configured_url:
            parts = urlsplit(configured_url.strip())
            if not parts.query and source.url:
                query = urlsplit(source.url).query
                if query:
                    parts = parts._replace(query=query)
            return urlunsplit(parts)
        if not source.url:
            return None
        if trust_forwarded:
            return _forwarded(source.url, source)
    except ValueError:  # not a URL at all (e.g. a broken IPv6 literal): nothing to validate
        return None
    return source.url


def _candidate_urls(url: str) -> list[str]:
    """The URL, and without its fragment when it has one (a fragment is never sent over HTTP)."""
    head, _, fragment = url.partition("#")
    return [url, head] if fragment else [url]


# -- fields -----------------------------------------------------------------------------------


def _fields(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for key, value in items:
        fields.setdefault(key, []).append(value)
    return fields


def _check_repeats(fields: Mapping[str, list[str]], issues: list[ValidationIssue]) -> None:
    for key, values in fields.items():
        if len(values) > 1 and (key in _SINGULAR or _MEDIA_FIELD.match(key)):
            issues.append(ValidationIssue(key, f"appears {len(values)} times; Twilio sends it once",
                                          "repeated"))


def _one(fields: Mapping[str, list[str]], key: str) -> str | None:
    values = fields.get(key)
    return values[0] if values else None


def _raw(fields: Mapping[str, list[str]], skip: Iterable[str] = ()) -> dict[str, Any]:
    """Fields verbatim: a string per field, a list of strings for a repeated unknown field."""
    skipped = set(skip)
    return {k: (v[0] if len(v) == 1 else list(v)) for k, v in fields.items() if k not in skipped}


def _required(fields: Mapping[str, list[str]], key: str, issues: list[ValidationIssue],
              *alternatives: str) -> str | None:
    for name in (key, *alternatives):
        value = _one(fields, name)
        if value is not None and value.strip():
            return value.strip()
    issues.append(ValidationIssue(key, "is required", "required"))
    return None


def _sid(fields: Mapping[str, list[str]], issues: list[ValidationIssue]) -> str | None:
    sid = _required(fields, "MessageSid", issues, "SmsMessageSid", "SmsSid")
    if sid is not None and (len(sid) > _MAX_SID_LENGTH or not sid.isprintable()):
        issues.append(ValidationIssue("MessageSid", "is not a message SID", "invalid"))
        return None
    return sid


def _channel(*addresses: str | None) -> str | None:
    for address in addresses:
        if address:
            match = _CHANNEL_PREFIX.match(address)
            if match and not _PHONE.match(address):
                return match.group(1).lower()
    return None


def _endpoint(address: str) -> Endpoint:
    """An endpoint for an address as Twilio sent it (``+1555...``, ``whatsapp:+1555...``, ``ACME``).

    Phone numbers (also behind a ``whatsapp:`` prefix) and short codes are PHONE_NUMBER,
    alphanumeric sender IDs are LABEL, other channels' addresses (``messenger:...``) are ID. The
    address is kept exactly as Twilio sent it.
    """
    match = _CHANNEL_PREFIX.match(address)
    if match and not _PHONE.match(address):
        prefix, rest = match.group(1).lower(), match.group(2)
        if prefix == "whatsapp" and _PHONE.match(rest):
            return Endpoint(EndpointType.PHONE_NUMBER, address)
        return Endpoint(EndpointType.ID, address)
    if _PHONE.match(address):
        return Endpoint(EndpointType.PHONE_NUMBER, address)
    if address.replace(" ", "").isalnum():
        return Endpoint(EndpointType.LABEL, address)
    return Endpoint(EndpointType.ID, address)


def _media_type(content_type: str | None) -> MediaType:
    lowered = (content_type or "").split(";", 1)[0].strip().lower()
    if lowered.startswith(_DOCUMENT_TYPES):
        return MediaType.DOCUMENT
    return MediaType.from_content_type(lowered)


def _media(fields: Mapping[str, list[str]], issues: list[ValidationIssue]) -> list[MediaContent]:
    raw = _one(fields, "NumMedia")
    if raw is None or not raw.strip():
        count = 0
        while f"MediaUrl{count}" in fields and count < MAX_MEDIA:
            count += 1
    else:
        text = raw.strip()
        if not (text.isascii() and text.isdigit()) or int(text) > MAX_MEDIA:
            issues.append(ValidationIssue("NumMedia", f"is not a count of media (0..{MAX_MEDIA})"))
            return []
        count = int(text)
    media: list[MediaContent] = []
    for index in range(count):
        url = _one(fields, f"MediaUrl{index}")
        if url is None or not url.strip():
            issues.append(ValidationIssue(f"MediaUrl{index}", "is required by NumMedia",
                                          "required"))
            continue
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            issues.append(ValidationIssue(f"MediaUrl{index}", "is not an http(s) URL"))
            continue
        content_type = (_one(fields, f"MediaContentType{index}") or "").strip() or None
        file_name = parts.path.rstrip("/").rsplit("/", 1)[-1] or None
        media.append(MediaContent(_media_type(content_type), file_name, url,
                                  content_type=content_type))
    return media


def _coordinate(fields: Mapping[str, list[str]], key: str, limit: float,
                issues: list[ValidationIssue]) -> float | None:
    raw = _one(fields, key)
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > limit:
        issues.append(ValidationIssue(key, f"is not a number between -{limit:g} and {limit:g}"))
        return None
    return value


def _location(fields: Mapping[str, list[str]],
              issues: list[ValidationIssue]) -> LocationContent | None:
    has_lat = bool((_one(fields, "Latitude") or "").strip())
    has_lon = bool((_one(fields, "Longitude") or "").strip())
    if not has_lat and not has_lon:
        return None
    latitude = _coordinate(fields, "Latitude", 90.0, issues)
    longitude = _coordinate(fields, "Longitude", 180.0, issues)
    if latitude is None or longitude is None:
        return None
    return LocationContent(latitude, longitude, label=_one(fields, "Label") or None,
                           address=_one(fields, "Address") or None)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def parse_inbound_message(
    items: Iterable[tuple[str, str]], *, received_at: datetime | None = None
) -> Message:
    """A :class:`~ratatosk.Message` from the fields of an inbound-message webhook.

    The message id is the MessageSid; sender and receiver are the From and To addresses as
    Twilio sent them; the content is the text (Body), the media (``MediaUrl{N}`` /
    ``MediaContentType{N}``), a WhatsApp location (LocationContent) and a WhatsApp button reply
    (ButtonContent) — several of them together make a MultipartContent. Every other field
    (ProfileName, WaId, OriginalRepliedMessageSid, Referral*, NumMedia, ...) is kept verbatim in
    ``message.properties``, plus ``Channel`` (``"sms"``, ``"mms"``, ``"whatsapp"``, ...) and
    ``ReceivedAt`` (ISO 8601, UTC).

    Raises ``_WebhookDataError`` (internal) with every problem found.
    """
    fields = _fields(items)
    issues: list[ValidationIssue] = []
    _check_repeats(fields, issues)
    sid = _sid(fields, issues)
    sender = _required(fields, "From", issues)
    receiver = _required(fields, "To", issues)
    media = _media(fields, issues)
    location = _location(fields, issues)
    if issues:
        raise _WebhookDataError("the inbound message webhook is malformed", issues)
    assert sid is not None and sender is not None and receiver is not None

    consumed = {"MessageSid", "From", "To", "Body"}
    parts: list[Content] = []
    body = _one(fields, "Body")
    if body:
        parts.append(TextContent(body))
    parts.extend(media)
    for index in range(len(media)):
        consumed.update({f"MediaUrl{index}", f"MediaContentType{index}"})
    if location is not None:
        parts.append(location)
        consumed.update({"Latitude", "Longitude", "Label", "Address"})
    button_text = _one(fields, "ButtonText")
    if button_text:
        parts.append(ButtonContent(button_text, _one(fields, "ButtonPayload") or None))
        consumed.update({"ButtonText", "ButtonPayload"})

    content: Content
    if not parts:
        content = TextContent(body or "")
    elif len(parts) == 1:
        content = parts[0]
    else:
        content = MultipartContent(tuple(parts))

    properties = _raw(fields, consumed)
    properties["Channel"] = _channel(sender, receiver) or ("mms" if media else "sms")
    properties["ReceivedAt"] = (received_at or _now()).isoformat()
    return Message(id=sid, sender=_endpoint(sender), receiver=_endpoint(receiver),
                   content=content, properties=properties)


def _parse_dlr_date(value: str | None) -> datetime | None:
    """RawDlrDoneDate (``YYMMDDhhmm``, UTC) as a datetime; None when absent or not a date."""
    if value is None or not _DLR_DATE.match(value.strip()):
        return None
    try:
        return datetime.strptime(value.strip(), "%y%m%d%H%M").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def callback_error(code: int, status: str, fallback_message: str | None) -> ErrorInfo:
    """The framework error for a status callback's ErrorCode, with Twilio's description."""
    info = describe_twilio_error(code)
    description = (info.message if info else None) or fallback_message or f"Twilio error {code}"
    more_info = info.more_info if info else f"https://www.twilio.com/docs/errors/{code}"
    if code in API_ERROR_MAP:
        domain, framework_code = API_ERROR_MAP[code]
    elif code in _RECIPIENT_ERRORS:
        domain, framework_code = MessagingErrorCodes.DOMAIN, MessagingErrorCodes.INVALID_RECIPIENT
    elif code == 30001:  # queue overflow
        domain, framework_code = MessagingErrorCodes.DOMAIN, MessagingErrorCodes.RATE_LIMITED
    else:
        domain = MessagingErrorCodes.DOMAIN
        framework_code = MessagingErrorCodes.MESSAGE_ROUTING_FAILED
    return ErrorInfo(
        code=framework_code,
        domain=domain,
        message=f"Twilio reported the message {status}: error {code} ({description})",
        provider_code=str(code),
        details={"twilio_code": code, "twilio_message": description, "more_info": more_info},
    )


def parse_status_callback(
    items: Iterable[tuple[str, str]], *, received_at: datetime | None = None
) -> StatusUpdate:
    """A :class:`~ratatosk.StatusUpdate` from the fields of a status callback.

    ``status`` maps MessageStatus (else SmsStatus) with ``map_twilio_status``; ``provider_status``
    keeps Twilio's word. An ErrorCode becomes ``error`` with Twilio's description of the code;
    Price/PriceUnit and NumSegments are parsed when present; RawDlrDoneDate (``YYMMDDhhmm``, UTC)
    becomes ``date_updated`` (a carrier's malformed date is kept verbatim, not parsed, and does
    not reject the callback). ``additional_data`` holds every field verbatim (EventType for
    WhatsApp, unknown fields), plus ``channel`` and ``duplicate``.

    Raises ``_WebhookDataError`` (internal) with every problem found.
    """
    fields = _fields(items)
    issues: list[ValidationIssue] = []
    _check_repeats(fields, issues)
    sid = _sid(fields, issues)
    status = _required(fields, "MessageStatus", issues, "SmsStatus")

    error_code: int | None = None
    raw_code = (_one(fields, "ErrorCode") or "").strip()
    if raw_code:
        if raw_code.isascii() and raw_code.isdigit() and len(raw_code) <= 9:
            error_code = int(raw_code)
        else:
            issues.append(ValidationIssue("ErrorCode", "is not a Twilio error code"))

    price: Decimal | None = None
    raw_price = (_one(fields, "Price") or "").strip()
    if raw_price:
        try:
            price = Decimal(raw_price)
        except InvalidOperation:
            price = None
        if price is None or not price.is_finite():
            issues.append(ValidationIssue("Price", "is not a number"))
            price = None

    segments: int | None = None
    raw_segments = (_one(fields, "NumSegments") or "").strip()
    if raw_segments:
        if raw_segments.isascii() and raw_segments.isdigit() and len(raw_segments) <= 6:
            segments = int(raw_segments)
        else:
            issues.append(ValidationIssue("NumSegments", "is not a count of segments"))
    if issues:
        raise _WebhookDataError("the status callback is malformed", issues)
    assert sid is not None and status is not None

    error = None
    if error_code is not None and error_code != 0:
        error = callback_error(error_code, status, _one(fields, "ErrorMessage"))
    additional: dict[str, Any] = _raw(fields)
    additional["channel"] = _channel(_one(fields, "From"), _one(fields, "To")) or (
        (_one(fields, "ChannelPrefix") or "sms").lower()
    )
    additional["duplicate"] = False
    return StatusUpdate(
        remote_message_id=sid,
        status=map_twilio_status(status),
        provider_status=status,
        timestamp=received_at or _now(),
        error=error,
        price=price,
        price_unit=(_one(fields, "PriceUnit") or "").strip() or None,
        segments=segments,
        date_updated=_parse_dlr_date(_one(fields, "RawDlrDoneDate")),
        additional_data=additional,
    )


def classify_webhook(items: Iterable[tuple[str, str]]) -> WebhookKind:
    """Whether Twilio's fields are a status callback or an inbound message.

    A status callback has MessageStatus or SmsStatus and neither Body nor NumMedia (an inbound
    message carries ``SmsStatus=received`` together with its Body and NumMedia).
    """
    keys = {key for key, _ in items}
    if keys & {"MessageStatus", "SmsStatus"} and not keys & {"Body", "NumMedia"}:
        return "status"
    return "message"


def webhook_dedup_key(source: MessageSource, kind: WebhookKind,
                      fields: Mapping[str, list[str]]) -> str:
    """The key that recognises a retried webhook.

    ``I-Twilio-Idempotency-Token`` (the same on every retry of one request) when present, else
    the AccountSid, MessageSid and (for status callbacks) the status. Long keys are hashed.
    """
    token = (source.header(IDEMPOTENCY_HEADER) or "").strip()
    if token:
        key = f"twilio:{kind}:token:{token}"
    else:
        sid = (_one(fields, "MessageSid") or _one(fields, "SmsMessageSid")
               or _one(fields, "SmsSid") or "").strip()
        account = (_one(fields, "AccountSid") or "").strip()
        status = ""
        if kind == "status":
            status = (_one(fields, "MessageStatus") or _one(fields, "SmsStatus") or "").strip()
        key = f"twilio:{kind}:{account}:{sid}:{status.lower()}"
    if len(key) > _MAX_KEY_LENGTH:
        key = "twilio:sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


# -- the mixin --------------------------------------------------------------------------------


def _as_bool(value: Any, default: bool) -> bool:
    """A setting's boolean; anything unrecognised keeps the (secure) default."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    return default


def _tokens(parameters: Mapping[str, Any]) -> list[str]:
    tokens: list[str] = []
    primary = parameters.get("AuthToken")
    if isinstance(primary, str) and primary.strip():
        tokens.append(primary.strip())
    secondary = parameters.get("SecondaryAuthTokens")
    if isinstance(secondary, str):
        secondary = secondary.split(",")
    if isinstance(secondary, (list, tuple)):
        tokens.extend(t.strip() for t in secondary if isinstance(t, str) and t.strip())
    return tokens


@attrs.frozen
class _Read:
    """A webhook that passed size, signature and form checks: its fields, in order."""

    items: list[tuple[str, str]]


class TwilioWebhookMixin:
    """Webhook handling for the Twilio connectors (inbound messages and status callbacks).

    Reads ``self.parameters``: AuthToken, SecondaryAuthTokens, WebhookUrl, StatusCallback,
    ValidateSignatures (default true), TrustForwardedHeaders (default false) and
    MaxWebhookBodySize (default 64 KiB). Retries are recognised through ``dedup_store``: an
    :class:`~ratatosk.InMemoryDeduplicationStore` made on first use unless you assign your own
    (``connector.dedup_store = RedisStore(...)``) before the first webhook.
    """

    dedup_store: DeduplicationStore | None = None

    # -- what the connector base calls ------------------------------------------------------
    def _do_receive_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        """Validate, parse and de-duplicate an inbound-message webhook (pure: no I/O)."""
        try:
            read = self._read_webhook(source, "message")
            if isinstance(read, ErrorInfo):
                return Result.fail(read)
            received_at = _now()
            try:
                message = parse_inbound_message(read.items, received_at=received_at)
            except _WebhookDataError as exc:
                return Result.fail(_data_error(exc.message, issues=exc.issues))
            key = webhook_dedup_key(source, "message", _fields(read.items))
            info = {"dedup_key": key, "received_at": received_at.isoformat(),
                    "webhook": "message"}
            if self._webhook_store().seen(key):
                logger.info("duplicate inbound message webhook %s ignored", message.id)
                return Result.ok(ReceiveResult(messages=(), is_duplicate=True,
                                               additional_data=info))
            # (ReceiveResult's converter=tuple leaves mypy without an element type: pass Any)
            batch: Any = (message,)
            return Result.ok(ReceiveResult(messages=batch, additional_data=info))
        except Exception as exc:  # a bug or a failing store: an error result, never a traceback
            logger.exception("inbound message webhook processing failed")
            return Result.fail(twilio_error(
                TwilioErrorCodes.RECEIVE_MESSAGE_FAILED,
                f"the inbound message webhook could not be processed ({type(exc).__name__})",
            ))

    def _do_receive_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        """Validate, parse and de-duplicate a status callback (pure: no I/O)."""
        try:
            read = self._read_webhook(source, "status")
            if isinstance(read, ErrorInfo):
                return Result.fail(read)
            try:
                update = parse_status_callback(read.items)
            except _WebhookDataError as exc:
                return Result.fail(_data_error(exc.message, issues=exc.issues))
            key = webhook_dedup_key(source, "status", _fields(read.items))
            duplicate = self._webhook_store().seen(key)
            if duplicate:
                logger.info("duplicate status callback %s/%s ignored",
                            update.remote_message_id, update.provider_status)
            data = {**update.additional_data, "duplicate": duplicate, "dedup_key": key}
            return Result.ok(attrs.evolve(update, additional_data=data))
        except Exception as exc:
            logger.exception("status callback processing failed")
            return Result.fail(twilio_error(
                TwilioErrorCodes.RECEIVE_STATUS_FAILED,
                f"the status callback could not be processed ({type(exc).__name__})",
            ))

    # -- helpers ----------------------------------------------------------------------------
    def _webhook_parameters(self) -> Mapping[str, Any]:
        parameters = getattr(self, "parameters", None)
        return parameters if isinstance(parameters, Mapping) else {}

    def _webhook_store(self) -> DeduplicationStore:
        store = self.dedup_store
        if store is None:
            with _STORE_LOCK:
                store = self.dedup_store
                if store is None:
                    store = self.dedup_store = InMemoryDeduplicationStore()
        return store

    def webhook_url(self, source: MessageSource, kind: WebhookKind) -> str | None:
        """The URL a webhook of this kind is validated against (see :func:`resolve_public_url`).

        Inbound messages use ``WebhookUrl``; status callbacks ``StatusCallback``, else
        ``WebhookUrl`` (the seed's "URL for inbound SMS and status callbacks"); without one, the
        request's own URL.
        """
        parameters = self._webhook_parameters()
        configured = parameters.get("WebhookUrl")
        if kind == "status":
            configured = parameters.get("StatusCallback") or configured
        return resolve_public_url(
            source,
            configured_url=configured if isinstance(configured, str) and configured else None,
            trust_forwarded=_as_bool(parameters.get("TrustForwardedHeaders"), False),
        )

    def _read_webhook(self, source: MessageSource, kind: WebhookKind) -> _Read | ErrorInfo:
        """Size, signature and form checks, in that order; the fields or the error."""
        if not isinstance(source, MessageSource):
            raise TypeError(f"expected a MessageSource, not {type(source).__name__}")
        parameters = self._webhook_parameters()
        limit = parameters.get("MaxWebhookBodySize") or DEFAULT_MAX_WEBHOOK_BODY_SIZE
        if len(source.body) > int(limit):
            return _data_error(f"the webhook body is larger than {int(limit)} bytes",
                               details={"reason": "too_large", "limit": int(limit)})
        method = source.method.upper()
        if method not in ("POST", "GET"):
            return _data_error(f"Twilio webhooks are POST (or GET) requests, not {method}")

        validate = _as_bool(parameters.get("ValidateSignatures"), True)
        url = self.webhook_url(source, kind)
        signature = (source.header(SIGNATURE_HEADER) or "").strip()
        if validate:
            if not url:
                return _signature_error(
                    "the webhook URL is unknown, so its signature cannot be checked "
                    "(set WebhookUrl/StatusCallback or give the MessageSource its url)", "no_url")
            if not signature:
                return _signature_error(f"the request has no {SIGNATURE_HEADER} header",
                                        "missing")

        media_type = source.media_type
        try:
            if method == "GET":
                query = (source.url or "").partition("?")[2].partition("#")[0]
                items = parse_qsl(query, keep_blank_values=True)
                signed_params: list[tuple[str, str]] = []
            elif media_type == FORM_MEDIA_TYPE:
                items = source.form_items()
                signed_params = items
            else:
                source.text_body()  # not UTF-8 is malformed whatever the type
                items, signed_params = [], []
        except InvalidSourceData as exc:
            return _data_error(f"the webhook body cannot be read: {exc}")

        if validate:
            tokens = _tokens(parameters)
            if not tokens:
                return messaging_error(
                    MessagingErrorCodes.INVALID_CONFIGURATION,
                    "webhook signatures cannot be checked without AuthToken "
                    "(or set ValidateSignatures=false)")
            body = source.body if media_type == JSON_MEDIA_TYPE else None
            assert url is not None
            if not any(validate_signature(tokens, candidate, signed_params, signature, body=body)
                       for candidate in _candidate_urls(url)):
                return _signature_error(
                    "the X-Twilio-Signature does not match the request (check the auth token and "
                    "that the URL Twilio called is the configured one)", "mismatch")

        if method == "POST" and media_type != FORM_MEDIA_TYPE:
            return _data_error(
                f"Twilio message webhooks are form-encoded ({FORM_MEDIA_TYPE}), "
                f"not {media_type or 'untyped'}")
        return _Read(items)
