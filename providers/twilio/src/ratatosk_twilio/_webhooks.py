"""Twilio webhooks: inbound messages and status callbacks, signed, parsed and de-duplicated.

:class:`TwilioWebhookMixin` gives both Twilio connectors their ``parse_messages`` and
``parse_message_status``. Each call goes through the same steps, in this order, and stops at
the first failure with an error result (nothing raised, nothing recorded, nothing half-processed):

1. the body size (``MaxWebhookBodySize``, default 64 KiB) -> ``INVALID_WEBHOOK_DATA``;
2. the signature, before any field is interpreted: a URL to validate and an ``X-Twilio-Signature``
   header must be present, and the signature must match one of the auth tokens
   (``AuthToken`` and ``SecondaryAuthTokens``) -> ``INVALID_WEBHOOK_SIGNATURE``; a body that cannot
   even be read as a form (not UTF-8, not ``name=value&...``) -> ``INVALID_WEBHOOK_DATA``;
   ``ValidateSignatures=false`` skips this step;
3. the fields: content type, required fields, repeated fields, numbers -> ``INVALID_WEBHOOK_DATA``
   with every problem found;
4. the de-duplication key, from fields the signature covers (AccountSid, MessageSid and the
   status; never the unsigned ``I-Twilio-Idempotency-Token`` header, so a replay with another
   token is the same webhook), in ``additional_data["dedup_key"]``: the connector base records it
   in ``connector.dedup_store`` after the parse succeeded (a rejected request never poisons the
   store); a retry or a replay yields ``ReceiveResult(is_duplicate=True)`` /
   ``StatusUpdate(is_duplicate=True)``.

An unexpected failure inside these steps (a bug, a de-duplication store that is down) is reported
as ``RECEIVE_MESSAGE_FAILED`` / ``RECEIVE_STATUS_FAILED`` (domain ``Twilio``) and logged.

The URL validated is the one Twilio requested; see :func:`resolve_public_url` for the rule.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import SplitResult, urlsplit, urlunsplit

import attrs

from ratatosk import (
    ButtonContent,
    Content,
    Endpoint,
    EndpointType,
    Err,
    ErrorCode,
    ErrorInfo,
    InvalidSourceData,
    LocationContent,
    MediaContent,
    MediaType,
    Message,
    MessageSource,
    MessagingErrorCodes,
    MultipartContent,
    Ok,
    ReceiveResult,
    Result,
    Secret,
    StatusUpdate,
    TextContent,
    ValidationIssue,
    WebhookKind,
    WebhookReply,
    parse_bool,
    parse_int,
)

from ._errors import API_ERROR_MAP, TwilioErrorCodes
from ._status import map_twilio_status

if TYPE_CHECKING:
    # Loaded on first use, not when the connectors' module imports this one (cold start of
    # `ratatosk providers`): the signature code (hashlib, hmac) with the first webhook
    # configuration, the de-duplication store with the first webhook, the error catalogue with
    # the first ErrorCode.
    from .signature import _Keyring

__all__ = [
    "DEFAULT_MAX_WEBHOOK_BODY_SIZE",
    "EMPTY_TWIML",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TwilioWebhookMixin",
    "WebhookKindName",
    "classify_webhook",
    "parse_inbound_message",
    "parse_status_callback",
    "resolve_public_url",
    "twiml_reply",
    "webhook_dedup_key",
]

logger = logging.getLogger("ratatosk_twilio.webhooks")

DEFAULT_MAX_WEBHOOK_BODY_SIZE = 64 * 1024
"""Bodies larger than this (bytes) are refused; Twilio's largest webhooks are a few KiB."""

SIGNATURE_HEADER = "X-Twilio-Signature"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
JSON_MEDIA_TYPE = "application/json"

WebhookKindName = Literal["message", "status"]
"""The kinds as the module's functions take them (:class:`ratatosk.WebhookKind` is a str enum
with these values, so its members are accepted too)."""

TWIML_CONTENT_TYPE = "text/xml"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
_EMPTY_TWIML_REPLY = WebhookReply(200, EMPTY_TWIML.encode("ascii"), TWIML_CONTENT_TYPE)
_FORWARDED_HEADERS = ("Forwarded", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port")

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
    return ErrorInfo(MessagingErrorCodes.INVALID_WEBHOOK_DATA, message,
                     issues=tuple(issues), details=dict(details or {}))


def _signature_error(message: str, reason: str,
                     context: Mapping[str, Any] | None = None) -> ErrorInfo:
    return ErrorInfo(MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE, message,
                     details={"reason": reason, **(context or {})})


# -- URL --------------------------------------------------------------------------------------


def _first(value: str | None) -> str | None:
    """The first value of a comma-separated header, stripped; None when empty."""
    if value is None:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None


def _forwarded(url: str, source: MessageSource) -> tuple[str, list[str]]:
    """The URL with scheme, host and port from the X-Forwarded-* headers, and the names of the
    headers that were used (present and valid)."""
    used: list[str] = []
    parts = urlsplit(url)
    scheme = parts.scheme
    proto = _first(source.header("X-Forwarded-Proto"))
    if proto and proto.lower() in ("http", "https"):
        scheme = proto.lower()
        used.append("X-Forwarded-Proto")
    netloc = parts.netloc
    host = _first(source.header("X-Forwarded-Host"))
    if host and _HOST.match(host):
        netloc = host
        used.append("X-Forwarded-Host")
    port = _first(source.header("X-Forwarded-Port"))
    if port and port.isascii() and port.isdigit() and 0 < int(port) < 65536:
        match = _HOST.match(netloc)
        hostname = match.group(1) if match else netloc
        default = 443 if scheme == "https" else 80
        netloc = hostname if int(port) == default else f"{hostname}:{port}"
        used.append("X-Forwarded-Port")
    return urlunsplit((scheme, netloc, parts.path, parts.query, "")), used


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
            return _forwarded(source.url, source)[0]
    except ValueError:  # not a URL at all (e.g. a broken IPv6 literal): nothing to validate
        return None
    return source.url


def _candidate_urls(url: str) -> list[str]:
    """The URL, and without its fragment when it has one (a fragment is never sent over HTTP)."""
    head, _, fragment = url.partition("#")
    return [url, head] if fragment else [url]


# -- fields -----------------------------------------------------------------------------------


# A webhook's fields are held as two dicts: ``first`` maps every name to its first value (in the
# order the names first appear), ``repeated`` maps the names that appear more than once to all
# their values (same order). Twilio sends almost every field once, so ``repeated`` is usually
# empty and reading a field is one dict lookup.
_First = Mapping[str, str]
_Repeated = Mapping[str, list[str]]


def _group(items: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``(first, repeated)`` for the fields in order (see above)."""
    pairs = items if isinstance(items, list) else list(items)
    first = dict(pairs)
    if len(first) == len(pairs):  # no name repeats: dict() kept every value
        return first, {}
    first = {}
    repeated: dict[str, list[str]] = {}
    for key, value in pairs:
        if key in first:
            values = repeated.get(key)
            if values is None:
                repeated[key] = [first[key], value]
            else:
                values.append(value)
        else:
            first[key] = value
    return first, {key: repeated[key] for key in first if key in repeated}


def _check_repeats(repeated: _Repeated, issues: list[ValidationIssue]) -> None:
    for key, values in repeated.items():
        if key in _SINGULAR or _MEDIA_FIELD.match(key):
            issues.append(ValidationIssue(key, f"appears {len(values)} times; Twilio sends it once",
                                          "repeated"))


def _raw(first: _First, repeated: _Repeated, skip: frozenset[str] | set[str] = frozenset()
         ) -> dict[str, Any]:
    """Fields verbatim: a string per field, a list of strings for a repeated unknown field."""
    raw: dict[str, Any] = dict(first)
    for name in skip:
        raw.pop(name, None)
    for name, values in repeated.items():
        if name in raw:
            raw[name] = list(values)
    return raw


def _required(first: _First, key: str, issues: list[ValidationIssue],
              alternatives: tuple[str, ...] = ()) -> str | None:
    """The field's value stripped (else the first alternative's that has one); an issue and
    None when there is none."""
    value = first.get(key)
    if value is not None:
        value = value.strip()
        if value:
            return value
    for name in alternatives:
        value = first.get(name)
        if value is not None:
            value = value.strip()
            if value:
                return value
    issues.append(ValidationIssue(key, "is required", "required"))
    return None


_SID_ALTERNATIVES = ("SmsMessageSid", "SmsSid")


def _sid(first: _First, issues: list[ValidationIssue]) -> str | None:
    sid = _required(first, "MessageSid", issues, _SID_ALTERNATIVES)
    if sid is not None and (len(sid) > _MAX_SID_LENGTH or not sid.isprintable()):
        issues.append(ValidationIssue("MessageSid", "is not a message SID", "invalid"))
        return None
    return sid


def _channel(*addresses: str | None) -> str | None:
    for address in addresses:
        if address:
            channel = _channel_of(address)
            if channel is not None:
                return channel
    return None


@lru_cache(maxsize=512)
def _channel_of(address: str) -> str | None:
    """The channel prefix of an address (``whatsapp`` for ``whatsapp:+1555...``), lower case;
    None for a plain number or sender ID. Cached, like :func:`_endpoint`."""
    match = _CHANNEL_PREFIX.match(address)
    if match and not _PHONE.match(address):
        return match.group(1).lower()
    return None


@lru_cache(maxsize=512)
def _endpoint(address: str) -> Endpoint:
    """An endpoint for an address as Twilio sent it (``+1555...``, ``whatsapp:+1555...``, ``ACME``).

    Phone numbers (also behind a ``whatsapp:`` prefix) and short codes are PHONE_NUMBER,
    alphanumeric sender IDs are LABEL, other channels' addresses (``messenger:...``) are ID. The
    address is kept exactly as Twilio sent it.

    Cached: an Endpoint is immutable, and the same addresses come back all the time (your own
    numbers on every inbound message, a customer's number on every reply).
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


def _media(first: _First, issues: list[ValidationIssue]) -> list[MediaContent]:
    raw = first.get("NumMedia")
    if raw == "0":  # nearly every SMS
        return []
    if raw is None or not raw.strip():
        count = 0
        while f"MediaUrl{count}" in first and count < MAX_MEDIA:
            count += 1
    else:
        text = raw.strip()
        if not (text.isascii() and text.isdigit()) or int(text) > MAX_MEDIA:
            issues.append(ValidationIssue("NumMedia", f"is not a count of media (0..{MAX_MEDIA})"))
            return []
        count = int(text)
    media: list[MediaContent] = []
    for index in range(count):
        url = first.get(f"MediaUrl{index}")
        if url is None or not url.strip():
            issues.append(ValidationIssue(f"MediaUrl{index}", "is required by NumMedia",
                                          "required"))
            continue
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            issues.append(ValidationIssue(f"MediaUrl{index}", "is not an http(s) URL"))
            continue
        content_type = (first.get(f"MediaContentType{index}") or "").strip() or None
        file_name = parts.path.rstrip("/").rsplit("/", 1)[-1] or None
        media.append(MediaContent(_media_type(content_type), file_name, url,
                                  content_type=content_type))
    return media


def _coordinate(first: _First, key: str, limit: float,
                issues: list[ValidationIssue]) -> float | None:
    raw = first.get(key)
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > limit:
        issues.append(ValidationIssue(key, f"is not a number between -{limit:g} and {limit:g}"))
        return None
    return value


def _location(first: _First,
              issues: list[ValidationIssue]) -> LocationContent | None:
    if "Latitude" not in first and "Longitude" not in first:
        return None
    has_lat = bool((first.get("Latitude") or "").strip())
    has_lon = bool((first.get("Longitude") or "").strip())
    if not has_lat and not has_lon:
        return None
    latitude = _coordinate(first, "Latitude", 90.0, issues)
    longitude = _coordinate(first, "Longitude", 180.0, issues)
    if latitude is None or longitude is None:
        return None
    return LocationContent(latitude, longitude, label=first.get("Label") or None,
                           address=first.get("Address") or None)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# (second, "YYYY-MM-DDTHH:MM:SS") of the last stamp; replaced whole, so threads may share it
_stamp_prefix: tuple[int, str] = (-1, "")


def _iso_utc(ns: int) -> str:
    """``datetime.fromtimestamp(ns / 1e9, timezone.utc).isoformat()`` (microseconds truncated).

    The date and time up to the second are formatted once per second, the rest is one
    f-string: stamping every webhook stays cheap.
    """
    global _stamp_prefix
    seconds, rest = divmod(ns, 1_000_000_000)
    cached_seconds, prefix = _stamp_prefix
    if seconds != cached_seconds:
        prefix = datetime.fromtimestamp(seconds, timezone.utc).isoformat()[:19]
        _stamp_prefix = (seconds, prefix)
    micro = rest // 1000
    return f"{prefix}.{micro:06d}+00:00" if micro else f"{prefix}+00:00"


def _now_iso() -> str:
    """The current time in UTC, ISO 8601 (as ``_now().isoformat()``)."""
    return _iso_utc(time.time_ns())


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
    when = received_at or _now()
    return _inbound_message(*_group(items), when.isoformat())


_CONSUMED = frozenset({"MessageSid", "From", "To", "Body"})


def _inbound_message(first: _First, repeated: _Repeated, received_at: str) -> Message:
    """:func:`parse_inbound_message` on fields already grouped, ``ReceivedAt`` already text."""
    issues: list[ValidationIssue] = []
    if repeated:
        _check_repeats(repeated, issues)
    sid = _sid(first, issues)
    sender = _required(first, "From", issues)
    receiver = _required(first, "To", issues)
    media = _media(first, issues)
    location = _location(first, issues)
    if issues:
        raise _WebhookDataError("the inbound message webhook is malformed", issues)
    assert sid is not None and sender is not None and receiver is not None

    consumed: frozenset[str] | set[str] = _CONSUMED
    parts: list[Content] = []
    body = first.get("Body")
    if body:
        parts.append(TextContent(body))
    if media or location is not None:
        consumed = set(consumed)
        parts.extend(media)
        for index in range(len(media)):
            consumed.update({f"MediaUrl{index}", f"MediaContentType{index}"})
        if location is not None:
            parts.append(location)
            consumed.update({"Latitude", "Longitude", "Label", "Address"})
    button_text = first.get("ButtonText")
    if button_text:
        parts.append(ButtonContent(button_text, first.get("ButtonPayload") or None))
        consumed = {*consumed, "ButtonText", "ButtonPayload"}

    content: Content
    if not parts:
        content = TextContent(body or "")
    elif len(parts) == 1:
        content = parts[0]
    else:
        content = MultipartContent(tuple(parts))

    properties = _raw(first, repeated, consumed)
    properties["Channel"] = _channel(sender, receiver) or ("mms" if media else "sms")
    properties["ReceivedAt"] = received_at
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
    from ._error_catalog import describe_twilio_error

    info = describe_twilio_error(code)
    description = (info.message if info else None) or fallback_message or f"Twilio error {code}"
    more_info = info.more_info if info else f"https://www.twilio.com/docs/errors/{code}"
    framework_code: ErrorCode
    if code in API_ERROR_MAP:
        framework_code = API_ERROR_MAP[code]
    elif code in _RECIPIENT_ERRORS:
        framework_code = MessagingErrorCodes.INVALID_RECIPIENT
    elif code == 30001:  # queue overflow
        framework_code = MessagingErrorCodes.RATE_LIMITED
    else:
        framework_code = MessagingErrorCodes.MESSAGE_ROUTING_FAILED
    return ErrorInfo(
        code=framework_code,
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
    WhatsApp, unknown fields), plus ``channel``.

    Raises ``_WebhookDataError`` (internal) with every problem found.
    """
    return _status_callback(*_group(items), received_at)


def _status_callback(first: _First, repeated: _Repeated,
                     received_at: datetime | None) -> StatusUpdate:
    """:func:`parse_status_callback` on fields already grouped."""
    issues: list[ValidationIssue] = []
    if repeated:
        _check_repeats(repeated, issues)
    sid = _sid(first, issues)
    status = _required(first, "MessageStatus", issues, ("SmsStatus",))

    error_code: int | None = None
    raw_code = (first.get("ErrorCode") or "").strip()
    if raw_code:
        if raw_code.isascii() and raw_code.isdigit() and len(raw_code) <= 9:
            error_code = int(raw_code)
        else:
            issues.append(ValidationIssue("ErrorCode", "is not a Twilio error code"))

    price: Decimal | None = None
    raw_price = (first.get("Price") or "").strip()
    if raw_price:
        try:
            price = Decimal(raw_price)
        except InvalidOperation:
            price = None
        if price is None or not price.is_finite():
            issues.append(ValidationIssue("Price", "is not a number"))
            price = None

    segments: int | None = None
    raw_segments = (first.get("NumSegments") or "").strip()
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
        error = callback_error(error_code, status, first.get("ErrorMessage"))
    additional: dict[str, Any] = _raw(first, repeated)
    additional["channel"] = _channel(first.get("From"), first.get("To")) or (
        (first.get("ChannelPrefix") or "sms").lower()
    )
    return StatusUpdate(
        remote_message_id=sid,
        status=map_twilio_status(status),
        provider_status=status,
        timestamp=received_at or _now(),
        error=error,
        price=price,
        price_unit=(first.get("PriceUnit") or "").strip() or None,
        segments=segments,
        date_updated=_parse_dlr_date(first.get("RawDlrDoneDate")),
        additional_data=additional,
    )


def classify_webhook(items: Iterable[tuple[str, str]]) -> WebhookKindName:
    """Whether Twilio's fields are a status callback or an inbound message.

    A status callback has MessageStatus or SmsStatus and neither Body nor NumMedia (an inbound
    message carries ``SmsStatus=received`` together with its Body and NumMedia).
    """
    keys = {key for key, _ in items}
    if keys & {"MessageStatus", "SmsStatus"} and not keys & {"Body", "NumMedia"}:
        return "status"
    return "message"


def webhook_dedup_key(source: MessageSource, kind: WebhookKindName,
                      fields: Mapping[str, list[str]]) -> str:
    """The key that recognises a retried (or replayed) webhook: the AccountSid, MessageSid and,
    for status callbacks, the status: fields the signature covers. Never the unsigned
    ``I-Twilio-Idempotency-Token`` header: a replay with a new token (or none) is the same
    webhook. Long keys are hashed."""
    return _dedup_key(source, kind, {name: values[0] for name, values in fields.items() if values})


def _dedup_key(source: MessageSource, kind: WebhookKindName, first: _First) -> str:
    """:func:`webhook_dedup_key` on the first value of every field."""
    sid = (first.get("MessageSid") or first.get("SmsMessageSid")
           or first.get("SmsSid") or "").strip()
    account = (first.get("AccountSid") or "").strip()
    status = ""
    if kind == "status":
        status = (first.get("MessageStatus") or first.get("SmsStatus") or "").strip()
    key = f"twilio:{kind}:{account}:{sid}:{status.lower()}"
    if len(key) > _MAX_KEY_LENGTH:
        import hashlib

        key = "twilio:sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


# -- the mixin --------------------------------------------------------------------------------


def twiml_reply(reply: object | None = None) -> WebhookReply:
    """A webhook handler's return value as Twilio's answer (see
    :meth:`TwilioWebhookMixin.webhook_reply`)."""
    if reply is None:
        return _EMPTY_TWIML_REPLY
    if isinstance(reply, WebhookReply):
        return reply
    if isinstance(reply, (str, bytes)):
        raw = reply.encode("utf-8") if isinstance(reply, str) else bytes(reply)
        return WebhookReply(200, raw, TWIML_CONTENT_TYPE)
    body = getattr(reply, "body", None)  # a TwiMLResponse (or anything shaped like one)
    if isinstance(body, (str, bytes)):
        raw = body.encode("utf-8") if isinstance(body, str) else body
        content_type = getattr(reply, "content_type", None) or TWIML_CONTENT_TYPE
        status_code = getattr(reply, "status_code", None) or 200
        return WebhookReply(int(status_code), raw, str(content_type))
    raise TypeError(
        "a Twilio webhook handler returns None, TwiML text or a TwiMLResponse, "
        f"not {type(reply).__name__}"
    )


def _as_bool(value: Any, default: bool) -> bool:
    """A setting's boolean (the framework's one parser); anything unrecognised keeps the
    (secure) default."""
    try:
        return parse_bool(value)
    except ValueError:
        return default


def _as_limit(value: Any) -> int:
    """MaxWebhookBodySize as a whole number; unset or unrecognised: the default."""
    try:
        return parse_int(value) if value is not None else DEFAULT_MAX_WEBHOOK_BODY_SIZE
    except ValueError:
        return DEFAULT_MAX_WEBHOOK_BODY_SIZE


def _tokens(parameters: Mapping[str, Any]) -> list[str]:
    tokens: list[str] = []
    primary = _revealed(parameters.get("AuthToken"))
    if isinstance(primary, str) and primary.strip():
        tokens.append(primary.strip())
    secondary = _revealed(parameters.get("SecondaryAuthTokens"))
    if isinstance(secondary, str):
        secondary = secondary.split(",")
    if isinstance(secondary, (list, tuple)):
        secondary = [_revealed(t) for t in secondary]
        tokens.extend(t.strip() for t in secondary if isinstance(t, str) and t.strip())
    return tokens


def _revealed(value: Any) -> Any:
    """A token given as a :class:`~ratatosk.Secret` (e.g. applied in place): its text."""
    return value.reveal() if isinstance(value, Secret) else value


_Read = tuple[list[tuple[str, str]], dict[str, str], dict[str, list[str]]]
"""A webhook that passed size, signature and form checks: its fields in order, then grouped
(``first``, ``repeated``: see :func:`_group`). A plain tuple: it is made for every webhook."""


# The parameters the webhook configuration is derived from (see _WebhookConfig).
_CONFIG_KEYS = ("AuthToken", "SecondaryAuthTokens", "WebhookUrl", "StatusCallback",
                "ValidateSignatures", "TrustForwardedHeaders", "MaxWebhookBodySize")


@attrs.frozen
class _ConfiguredUrl:
    """A configured webhook URL (``WebhookUrl`` / ``StatusCallback``), split once.

    ``parts`` is None when it is not a URL at all (then nothing can be validated).
    """

    parts: SplitResult | None
    joined: str | None

    @classmethod
    def of(cls, configured: str) -> _ConfiguredUrl:
        try:
            parts = urlsplit(configured.strip())
            return cls(parts, urlunsplit(parts))
        except ValueError:
            return cls(None, None)

    def resolve(self, source: MessageSource) -> str | None:
        """:func:`resolve_public_url` with this configured URL (the request's query string is
        used when the configured URL has none)."""
        parts = self.parts
        if parts is None:
            return None
        if not parts.query and source.url:
            try:
                query = urlsplit(source.url).query
                if query:
                    return urlunsplit(parts._replace(query=query))
            except ValueError:
                return None
        return self.joined


def _configured(value: Any) -> _ConfiguredUrl | None:
    return _ConfiguredUrl.of(value) if isinstance(value, str) and value else None


@attrs.frozen
class _WebhookConfig:
    """What the webhook settings mean, derived once from ``self.parameters`` (and again only
    when one of the values in ``key`` changes)."""

    key: tuple[Any, ...] = attrs.field(repr=False)
    limit: int
    validate: bool
    trust_forwarded: bool
    tokens: tuple[str, ...] = attrs.field(repr=False)
    keyring: _Keyring = attrs.field(repr=False)
    message_url: _ConfiguredUrl | None
    status_url: _ConfiguredUrl | None
    status_url_setting: str = "StatusCallback"

    @classmethod
    def of(cls, parameters: Mapping[str, Any], key: tuple[Any, ...]) -> _WebhookConfig:
        webhook_url = parameters.get("WebhookUrl")
        status_url = parameters.get("StatusCallback") or webhook_url
        tokens = tuple(_tokens(parameters))
        from .signature import _Keyring

        return cls(
            key=key,
            limit=_as_limit(parameters.get("MaxWebhookBodySize") or None),
            validate=_as_bool(parameters.get("ValidateSignatures"), True),
            trust_forwarded=_as_bool(parameters.get("TrustForwardedHeaders"), False),
            tokens=tokens,
            keyring=_Keyring.of(tokens),
            message_url=_configured(webhook_url),
            status_url=_configured(status_url),
            status_url_setting="StatusCallback" if parameters.get("StatusCallback")
            else "WebhookUrl",
        )

    def url(self, source: MessageSource, kind: WebhookKindName | WebhookKind) -> str | None:
        """The URL a webhook of this kind is validated against."""
        configured = self.status_url if kind == "status" else self.message_url
        if configured is not None:
            return configured.resolve(source)
        return resolve_public_url(source, trust_forwarded=self.trust_forwarded)

    def explain(self, source: MessageSource, kind: WebhookKindName,
                url: str | None) -> dict[str, Any]:
        """Where the validated URL came from, for a refused webhook's error details (logged by
        the web adapters): the URL (a password in it masked), the setting or "request" it came
        from, the forwarded headers honoured and those present but not honoured."""
        configured = self.status_url if kind == "status" else self.message_url
        honoured: list[str] = []
        if configured is not None:
            origin = self.status_url_setting if kind == "status" else "WebhookUrl"
        else:
            origin = "request"
            if self.trust_forwarded and source.url:
                try:
                    honoured = _forwarded(source.url, source)[1]
                except ValueError:
                    honoured = []
        present = [name for name in _FORWARDED_HEADERS if source.header(name) is not None]
        return {
            "url": _mask_url(url) if url else None,
            "url_from": origin,
            "forwarded_headers": honoured,
            "forwarded_headers_ignored": [name for name in present if name not in honoured],
            "trust_forwarded_headers": self.trust_forwarded,
        }


def _mask_url(url: str) -> str:
    """The URL with a password in its user information replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except ValueError:
        return "(not a URL)"


def _signature_matches(keyring: _Keyring, url: str, pairs: list[tuple[str, str]],
                       signature: str, body: bytes | None) -> bool:
    """``validate_signature`` for the URL (and the URL without its fragment) on fields that are
    known to be well-formed ``(str, str)`` pairs, with the tokens' keyring."""
    try:
        expected = signature.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    for candidate in _candidate_urls(url):
        if keyring.verify(candidate, pairs, expected, body):
            return True
    return False


class TwilioWebhookMixin:
    """Webhook handling for the Twilio connectors (inbound messages and status callbacks).

    Reads ``self.parameters``: AuthToken, SecondaryAuthTokens, WebhookUrl, StatusCallback,
    ValidateSignatures (default true), TrustForwardedHeaders (default false) and
    MaxWebhookBodySize (default 64 KiB). Retries and replays are recognised by the connector
    base through ``connector.dedup_store`` (see :class:`ratatosk.Connector`).
    """

    _webhook_config_cache: _WebhookConfig | None = None

    # -- what the connector base calls ------------------------------------------------------
    def parse_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        """Validate and parse an inbound-message webhook, with its de-duplication key (no I/O)."""
        try:
            read = self._read_webhook(source, "message")
            if isinstance(read, ErrorInfo):
                return Err(read)
            _, first, repeated = read
            received_at = _now_iso()
            try:
                message = _inbound_message(first, repeated, received_at)
            except _WebhookDataError as exc:
                return Err(_data_error(exc.message, issues=exc.issues))
            key = _dedup_key(source, "message", first)
            info = {"dedup_key": key, "received_at": received_at, "webhook": "message"}
            # (ReceiveResult's converter=tuple leaves mypy without an element type: pass Any)
            batch: Any = (message,)
            return Ok(ReceiveResult(messages=batch, additional_data=info))
        except Exception as exc:  # a bug or a failing store: an error result, never a traceback
            logger.exception("inbound message webhook processing failed")
            return Err(ErrorInfo(
                TwilioErrorCodes.RECEIVE_MESSAGE_FAILED,
                f"the inbound message webhook could not be processed ({type(exc).__name__})",
            ))

    def parse_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        """Validate and parse a status callback, with its de-duplication key (no I/O)."""
        try:
            read = self._read_webhook(source, "status")
            if isinstance(read, ErrorInfo):
                return Err(read)
            _, first, repeated = read
            try:
                update = _status_callback(first, repeated, None)
            except _WebhookDataError as exc:
                return Err(_data_error(exc.message, issues=exc.issues))
            data = {**update.additional_data, "dedup_key": _dedup_key(source, "status", first)}
            return Ok(attrs.evolve(update, additional_data=data))
        except Exception as exc:
            logger.exception("status callback processing failed")
            return Err(ErrorInfo(
                TwilioErrorCodes.RECEIVE_STATUS_FAILED,
                f"the status callback could not be processed ({type(exc).__name__})",
            ))

    # -- what the web adapters call (ratatosk.Connector's provider-neutral webhook API) -------
    def classify_webhook(self, source: MessageSource) -> WebhookKind | None:
        """Status callback or inbound message, from the fields' names (see
        :func:`classify_webhook`; a GET webhook's fields are its query string). A body that is
        not a readable form counts as a message: ``receive_messages`` then answers with the
        right error, after checking the signature."""
        try:
            items = source.query_items() if source.method.upper() == "GET" else source.form_items()
        except ValueError:
            return WebhookKind.MESSAGE
        if classify_webhook(items) == "status":
            return WebhookKind.STATUS
        return WebhookKind.MESSAGE

    def webhook_reply(self, kind: WebhookKind, reply: object | None = None) -> WebhookReply:
        """TwiML: the handler's reply (a :class:`~ratatosk_twilio.TwiMLResponse`, TwiML text or
        bytes, or a :class:`~ratatosk.WebhookReply`), else the empty ``<Response />``
        (``text/xml``, 200). Anything else raises TypeError."""
        return twiml_reply(reply)

    # -- helpers ----------------------------------------------------------------------------
    def _webhook_config(self) -> _WebhookConfig:
        """The webhook settings' meaning, derived again only when one of them changed."""
        parameters = getattr(self, "parameters", None)
        if type(parameters) is not dict and not isinstance(parameters, Mapping):
            parameters = {}
        key = tuple(map(parameters.get, _CONFIG_KEYS))
        if isinstance(key[1], list):  # a list can change in place: keep a snapshot
            key = (key[0], tuple(key[1]), *key[2:])
        config = self._webhook_config_cache
        if config is None or config.key != key:
            config = self._webhook_config_cache = _WebhookConfig.of(parameters, key)
        return config

    def webhook_url(self, source: MessageSource,
                    kind: WebhookKindName | WebhookKind) -> str | None:
        """The URL a webhook of this kind is validated against (see :func:`resolve_public_url`).

        Inbound messages use ``WebhookUrl``; status callbacks ``StatusCallback``, else
        ``WebhookUrl`` (the seed's "URL for inbound SMS and status callbacks"); without one, the
        request's own URL.
        """
        return self._webhook_config().url(source, kind)

    def _read_webhook(self, source: MessageSource, kind: WebhookKindName) -> _Read | ErrorInfo:
        """Size, signature and form checks, in that order; the fields or the error."""
        if not isinstance(source, MessageSource):
            raise TypeError(f"expected a MessageSource, not {type(source).__name__}")
        config = self._webhook_config()
        limit = config.limit
        if len(source.body) > limit:
            return _data_error(f"the webhook body is larger than {limit} bytes",
                               details={"reason": "too_large", "limit": limit})
        method = source.method.upper()
        if method not in ("POST", "GET"):
            return _data_error(f"Twilio webhooks are POST (or GET) requests, not {method}")

        validate = config.validate
        url = config.url(source, kind)
        signature = (source.header(SIGNATURE_HEADER) or "").strip()
        if validate:
            if not url:
                return _signature_error(
                    "the webhook URL is unknown, so its signature cannot be checked "
                    "(set WebhookUrl/StatusCallback or give the MessageSource its url)", "no_url",
                    config.explain(source, kind, url))
            if not signature:
                return _signature_error(f"the request has no {SIGNATURE_HEADER} header",
                                        "missing", config.explain(source, kind, url))

        media_type = source.media_type
        try:
            if method == "GET":
                items = source.query_items()
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
            tokens = config.tokens
            if not tokens:
                return ErrorInfo(
                    MessagingErrorCodes.INVALID_CONFIGURATION,
                    "webhook signatures cannot be checked without AuthToken "
                    "(or set ValidateSignatures=false)")
            body = source.body if media_type == JSON_MEDIA_TYPE else None
            assert url is not None
            if not _signature_matches(config.keyring, url, signed_params, signature, body):
                return _signature_error(
                    "the X-Twilio-Signature does not match the request (check the auth token and "
                    "that the URL Twilio called is the configured one)", "mismatch",
                    config.explain(source, kind, url))

        if method == "POST" and media_type != FORM_MEDIA_TYPE:
            return _data_error(
                f"Twilio message webhooks are form-encoded ({FORM_MEDIA_TYPE}), "
                f"not {media_type or 'untyped'}")
        first, repeated = _group(items)
        return items, first, repeated
