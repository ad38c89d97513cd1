"""Vonage webhooks: inbound messages and status updates, signed, parsed and de-duplicated.

:class:`VonageWebhookMixin` gives the Vonage connectors their ``parse_messages`` and
``parse_message_status``. Two families of webhook arrive:

* **Messages API** (JSON POST): inbound messages (``message_type`` text, image, audio, video,
  file, location, reply, button, ...) and status updates (``status`` submitted, delivered,
  rejected, undeliverable, read), signed with ``Authorization: Bearer <JWT>`` (HS256);
* **SMS API** (GET query string, or POST form or JSON): inbound SMS (``msisdn``, ``text``, ...)
  and delivery receipts (``status`` delivered, expired, failed, rejected, accepted, buffered,
  unknown), signed with a ``sig`` parameter and ``timestamp``.

Each call goes through the same steps, in this order, and stops at the first failure with an
error result (nothing raised, nothing recorded):

1. the body size (``MaxWebhookBodySize``, default 64 KiB) and method -> ``INVALID_WEBHOOK_DATA``;
2. the signature, before any field is interpreted (``ValidateSignatures``, default true): a
   Bearer JWT is checked with :func:`~ratatosk_vonage.signature.verify_jwt` (HMAC, payload_hash
   against the raw body, ``iat`` freshness), a ``sig`` parameter with
   :func:`~ratatosk_vonage.signature.verify_sms_signature` (``SignatureMethod``, ``timestamp``
   freshness); the secrets are ``SignatureSecret`` and ``SecondarySignatureSecrets`` (a list or
   a comma-separated string, for rotation) -> ``INVALID_WEBHOOK_SIGNATURE`` (no secret
   configured: ``INVALID_CONFIGURATION``);
3. the fields -> ``INVALID_WEBHOOK_DATA`` with every problem found;
4. de-duplication on what the signature covers: the message UUID / messageId plus the status
   (a retry or a replay of the same webhook carries the same ones), in
   ``additional_data["dedup_key"]``; the connector base records it in ``connector.dedup_store``
   once the webhook parsed -> ``is_duplicate=True``.

Neither signature covers the URL, so ``WebhookUrl`` is not needed to check one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from ratatosk import (
    ButtonContent,
    ConnectorErrorCodes,
    Content,
    Endpoint,
    EndpointType,
    Err,
    ErrorInfo,
    JsonContent,
    LocationContent,
    MediaContent,
    MediaType,
    Message,
    MessageSource,
    MessageStatus,
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

from .signature import (
    DEFAULT_MAX_AGE,
    SIGNATURE_METHODS,
    SignatureProblem,
    verify_jwt,
    verify_sms_signature,
)

__all__ = [
    "DEFAULT_MAX_WEBHOOK_BODY_SIZE",
    "MESSAGES_STATUS_MAP",
    "SMS_STATUS_MAP",
    "VonageWebhookMixin",
    "classify_fields",
]

logger = logging.getLogger("ratatosk_vonage.webhooks")

DEFAULT_MAX_WEBHOOK_BODY_SIZE = 64 * 1024
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
JSON_MEDIA_TYPE = "application/json"

MESSAGES_STATUS_MAP: Mapping[str, MessageStatus] = {
    "submitted": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "rejected": MessageStatus.ROUTE_FAILED,
    "undeliverable": MessageStatus.DELIVERY_FAILED,
    "read": MessageStatus.READ,
}
"""Messages API status -> framework status (anything else: UNKNOWN)."""

SMS_STATUS_MAP: Mapping[str, MessageStatus] = {
    "delivered": MessageStatus.DELIVERED,
    "expired": MessageStatus.DELIVERY_FAILED,
    "failed": MessageStatus.DELIVERY_FAILED,
    "rejected": MessageStatus.ROUTE_FAILED,
    "accepted": MessageStatus.SENT,
    "buffered": MessageStatus.SENT,
    "unknown": MessageStatus.UNKNOWN,
}
"""SMS API delivery-receipt status -> framework status (anything else: UNKNOWN)."""

_MEDIA_TYPES = {"image": MediaType.IMAGE, "audio": MediaType.AUDIO, "video": MediaType.VIDEO,
                "file": MediaType.FILE}
_CONCAT_FIELDS = ("concat", "concat-ref", "concat-total", "concat-part")
_MAX_KEY_LENGTH = 200


class _DataError(Exception):
    def __init__(self, message: str, issues: list[ValidationIssue] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.issues = tuple(issues or ())


def _data_error(message: str, issues: tuple[ValidationIssue, ...] = (),
                **details: Any) -> ErrorInfo:
    return ErrorInfo(MessagingErrorCodes.INVALID_WEBHOOK_DATA, message, issues=issues,
                     details=details)


def _signature_error(problem: SignatureProblem, scheme: str) -> ErrorInfo:
    return ErrorInfo(MessagingErrorCodes.INVALID_WEBHOOK_SIGNATURE,
                     f"the webhook's signature was refused: {problem.message}",
                     details={"reason": problem.reason, "scheme": scheme})


# -- reading ----------------------------------------------------------------------------------


@attrs.frozen
class _Read:
    """A webhook that passed the size, signature and format checks."""

    api: str  # "messages" (JSON, JWT) or "sms" (sig)
    fields: dict[str, Any]
    jti: str | None = None


def _fields_of(source: MessageSource) -> tuple[str, dict[str, Any]]:
    """``(api, fields)``: the Messages API's JSON object, or the SMS API's parameters (a GET's
    query string, a form, or a JSON object carrying ``sig`` / ``msisdn`` / ``messageId``).
    Raises _DataError for a body that cannot be read."""
    method = source.method.upper()
    try:
        if method == "GET":
            return "sms", _unique(source.query_items())
        if source.media_type == FORM_MEDIA_TYPE:
            return "sms", _unique(source.form_items())
        if source.media_type == JSON_MEDIA_TYPE:
            data = source.json_body()
            if not isinstance(data, dict):
                raise _DataError("the webhook body is not a JSON object")
            is_sms = source.header("Authorization") is None and (
                "sig" in data or "msisdn" in data or "messageId" in data)
            return ("sms" if is_sms else "messages"), data
    except ValueError as exc:  # InvalidSourceData, bad percent-escapes
        raise _DataError(f"the webhook cannot be read: {exc}") from None
    raise _DataError(f"Vonage webhooks are JSON, form or query-string requests, not "
                     f"{source.media_type or 'untyped'}")


def _unique(pairs: list[tuple[str, str]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    repeated = []
    for key, value in pairs:
        if key in fields:
            repeated.append(ValidationIssue(key, "appears more than once", "repeated"))
        fields[key] = value
    if repeated:
        raise _DataError("the webhook repeats parameters", repeated)
    return fields


def _bearer(source: MessageSource) -> str | None:
    value = (source.header("Authorization") or "").strip()
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _jti(token: str | None) -> str | None:
    """The ``jti`` claim of a token already verified (for the result's details)."""
    if token is None:
        return None
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, IndexError):
        return None
    jti = claims.get("jti") if isinstance(claims, dict) else None
    return jti if isinstance(jti, str) else None


# -- settings ---------------------------------------------------------------------------------


def _revealed(value: Any) -> Any:
    return value.reveal() if isinstance(value, Secret) else value


def _secrets(parameters: Mapping[str, Any]) -> list[str]:
    secrets: list[str] = []
    primary = _revealed(parameters.get("SignatureSecret"))
    if isinstance(primary, str) and primary.strip():
        secrets.append(primary.strip())
    secondary = _revealed(parameters.get("SecondarySignatureSecrets"))
    if isinstance(secondary, str):
        secondary = secondary.split(",")
    if isinstance(secondary, (list, tuple)):
        for item in map(_revealed, secondary):
            if isinstance(item, str) and item.strip():
                secrets.append(item.strip())
    return secrets


def _setting_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    try:
        return parse_bool(value)
    except ValueError:
        return default  # unrecognised: keep the secure default


def _setting_int(value: Any, default: int) -> int:
    try:
        return parse_int(value) if value is not None else default
    except ValueError:
        return default


# -- values -----------------------------------------------------------------------------------


def _text(fields: Mapping[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _required(fields: Mapping[str, Any], key: str, issues: list[ValidationIssue]) -> str:
    value = _text(fields, key)
    if value is None:
        issues.append(ValidationIssue(key, "is required", "required"))
        return ""
    return value


def _address(value: Any) -> str | None:
    """An address as Vonage sends it: a string, or (webhook v0.1) ``{"number": ...}`` /
    ``{"id": ...}``."""
    if isinstance(value, dict):
        value = value.get("number") or value.get("id")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _endpoint(address: str) -> Endpoint:
    """Vonage sends numbers as E.164 digits without ``+``; they become ``+<digits>`` phone
    numbers, as other providers give them. Alphanumeric senders are labels, the rest ids."""
    bare = address[1:] if address.startswith("+") else address
    if bare.isascii() and bare.isdigit() and 3 <= len(bare) <= 20:
        return Endpoint(EndpointType.PHONE_NUMBER, "+" + bare if len(bare) > 6 else bare)
    if address.replace(" ", "").isalnum():
        return Endpoint(EndpointType.LABEL, address)
    return Endpoint(EndpointType.ID, address)


def _decimal(value: Any, key: str, issues: list[ValidationIssue]) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or isinstance(value, bool):
        issues.append(ValidationIssue(key, "is not a number", "invalid"))
        return None
    return number


def _iso_time(value: Any) -> datetime | None:
    """ISO 8601 (Messages API) or ``YYYY-MM-DD hh:mm:ss`` UTC (SMS API); None when neither."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _provider_code(error_type: str) -> str:
    """Vonage's numeric code: the last path segment or fragment of the problem ``type`` URL."""
    tail = error_type.rstrip("/").rpartition("#")[2].rpartition("/")[2]
    return tail or error_type


# -- Messages API -----------------------------------------------------------------------------


def _messages_content(fields: Mapping[str, Any], message_type: str,
                      issues: list[ValidationIssue]) -> tuple[Content, set[str]]:
    """The content of a Messages API inbound webhook and the field names it consumed."""
    if message_type == "text":
        return TextContent(_required(fields, "text", issues)), {"text"}
    obj = fields.get(message_type)
    if message_type in _MEDIA_TYPES:
        url = _text(obj, "url") if isinstance(obj, dict) else None
        if url is None:
            issues.append(ValidationIssue(f"{message_type}.url", "is required", "required"))
            return TextContent(""), set()
        assert isinstance(obj, dict)
        media = MediaContent(_MEDIA_TYPES[message_type], file_name=_text(obj, "name"),
                             file_url=url)
        caption = _text(obj, "caption")
        content: Content = MultipartContent((TextContent(caption), media)) if caption else media
        return content, {message_type}
    if message_type == "location":
        if not isinstance(obj, dict):
            issues.append(ValidationIssue("location", "is required", "required"))
            return TextContent(""), set()
        lat, long = obj.get("lat"), obj.get("long")
        try:
            latitude, longitude = float(lat), float(long)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            latitude = longitude = math.nan
        if not (math.isfinite(latitude) and math.isfinite(longitude)
                and abs(latitude) <= 90 and abs(longitude) <= 180):
            issues.append(ValidationIssue("location", "has no valid lat/long", "invalid"))
            return TextContent(""), set()
        return LocationContent(latitude, longitude, label=_text(obj, "name"),
                               address=_text(obj, "address")), {"location"}
    if message_type == "reply":  # WhatsApp interactive reply (list or button): id, title
        if not isinstance(obj, dict) or _text(obj, "title") is None:
            issues.append(ValidationIssue("reply.title", "is required", "required"))
            return TextContent(""), set()
        return ButtonContent(_text(obj, "title") or "", _text(obj, "id")), {"reply"}
    if message_type == "button":  # WhatsApp quick-reply button of a template: text, payload
        if not isinstance(obj, dict) or _text(obj, "text") is None:
            issues.append(ValidationIssue("button.text", "is required", "required"))
            return TextContent(""), set()
        return ButtonContent(_text(obj, "text") or "", _text(obj, "payload")), {"button"}
    # sticker, vcard, custom, unsupported, ...: the raw object, kept as it came
    return JsonContent(obj), ({message_type} if message_type in fields else set())


def _messages_inbound(fields: Mapping[str, Any], received_at: str) -> Message:
    issues: list[ValidationIssue] = []
    uuid = _required(fields, "message_uuid", issues)
    sender = _address(fields.get("from"))
    receiver = _address(fields.get("to"))
    if sender is None:
        issues.append(ValidationIssue("from", "is required", "required"))
    if receiver is None:
        issues.append(ValidationIssue("to", "is required", "required"))
    message_type = _required(fields, "message_type", issues)
    content: Content = TextContent("")
    consumed: set[str] = set()
    if message_type:
        content, consumed = _messages_content(fields, message_type, issues)
    if issues:
        raise _DataError("the inbound message webhook is malformed", issues)
    assert sender is not None and receiver is not None
    consumed |= {"message_uuid", "from", "to"}
    properties = {key: value for key, value in fields.items() if key not in consumed}
    properties["Channel"] = _text(fields, "channel") or "sms"
    properties["ReceivedAt"] = received_at
    profile = fields.get("profile")
    if isinstance(profile, dict) and _text(profile, "name"):
        properties["ProfileName"] = _text(profile, "name")
    return Message(id=uuid, sender=_endpoint(sender), receiver=_endpoint(receiver),
                   content=content, properties=properties)


def _messages_status(fields: Mapping[str, Any]) -> StatusUpdate:
    issues: list[ValidationIssue] = []
    uuid = _required(fields, "message_uuid", issues)
    status = _required(fields, "status", issues)
    usage = fields.get("usage")
    price = None
    currency = None
    if isinstance(usage, dict):
        price = _decimal(usage.get("price"), "usage.price", issues)
        currency = _text(usage, "currency")
    elif usage is not None:
        issues.append(ValidationIssue("usage", "is not an object", "invalid"))
    raw_error = fields.get("error")
    if raw_error is not None and not isinstance(raw_error, dict):
        issues.append(ValidationIssue("error", "is not an object", "invalid"))
    if issues:
        raise _DataError("the status webhook is malformed", issues)
    error = None
    if isinstance(raw_error, dict) and raw_error:
        error_type = _text(raw_error, "type") or ""
        title = _text(raw_error, "title") or "error"
        detail = _text(raw_error, "detail")
        error = ErrorInfo(
            MessagingErrorCodes.MESSAGE_ROUTING_FAILED,
            f"Vonage reported the message {status}: {title}" + (f" ({detail})" if detail else ""),
            provider_code=_provider_code(error_type) if error_type else None,
            details={"vonage_error": dict(raw_error)},
        )
    additional = dict(fields)
    additional["channel"] = _text(fields, "channel") or "sms"
    return StatusUpdate(
        remote_message_id=uuid,
        status=MESSAGES_STATUS_MAP.get(status.lower(), MessageStatus.UNKNOWN),
        provider_status=status,
        error=error,
        price=price,
        price_unit=currency,
        date_updated=_iso_time(fields.get("timestamp")),
        additional_data=additional,
    )


# -- SMS API ----------------------------------------------------------------------------------


def _sms_inbound(fields: Mapping[str, Any], received_at: str) -> Message:
    issues: list[ValidationIssue] = []
    message_id = _required(fields, "messageId", issues)
    sender = _required(fields, "msisdn", issues)
    receiver = _required(fields, "to", issues)
    if issues:
        raise _DataError("the inbound SMS webhook is malformed", issues)
    text = fields.get("text")
    properties = {key: value for key, value in fields.items()
                  if key not in ("messageId", "msisdn", "to", "text", "sig")}
    properties["Channel"] = "sms"
    properties["ReceivedAt"] = received_at
    return Message(id=message_id, sender=_endpoint(sender), receiver=_endpoint(receiver),
                   content=TextContent(text if isinstance(text, str) else ""),
                   properties=properties)


def _sms_receipt(fields: Mapping[str, Any]) -> StatusUpdate:
    issues: list[ValidationIssue] = []
    message_id = _required(fields, "messageId", issues)
    status = _required(fields, "status", issues)
    price = _decimal(fields.get("price"), "price", issues)
    code = _text(fields, "err-code")
    if code is not None and not (code.isascii() and code.isdigit()):
        issues.append(ValidationIssue("err-code", "is not a Vonage error code", "invalid"))
    if issues:
        raise _DataError("the delivery receipt is malformed", issues)
    error = None
    if code is not None and int(code) != 0:
        error = ErrorInfo(MessagingErrorCodes.MESSAGE_ROUTING_FAILED,
                          f"Vonage reported the message {status}: error {code}",
                          provider_code=code, details={"vonage_err_code": int(code)})
    additional = {key: value for key, value in fields.items() if key != "sig"}
    additional["channel"] = "sms"
    return StatusUpdate(
        remote_message_id=message_id,
        status=SMS_STATUS_MAP.get(status.lower(), MessageStatus.UNKNOWN),
        provider_status=status,
        error=error,
        price=price,
        date_updated=_iso_time(fields.get("message-timestamp")),
        additional_data=additional,
    )


def classify_fields(fields: Mapping[str, Any]) -> WebhookKind:
    """STATUS for a Messages API status (``status`` without ``message_type``) or an SMS API
    delivery receipt (``status`` without ``text``); MESSAGE otherwise."""
    if "status" in fields and "message_type" not in fields and "text" not in fields:
        return WebhookKind.STATUS
    return WebhookKind.MESSAGE


def _dedup_key(read: _Read, kind: WebhookKind) -> str:
    fields = read.fields
    ident = _text(fields, "message_uuid") or _text(fields, "messageId") or ""
    status = (_text(fields, "status") or "").lower() if kind == WebhookKind.STATUS else ""
    key = f"vonage:{read.api}:{kind.value}:{ident}:{status}"
    if not ident:  # nothing to recognise a retry by but the token itself
        key = f"vonage:{read.api}:{kind.value}:jti:{read.jti or ''}"
    if len(key) > _MAX_KEY_LENGTH:
        key = "vonage:sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


# -- the mixin --------------------------------------------------------------------------------


class VonageWebhookMixin:
    """Webhook handling for the Vonage connectors (inbound messages and status updates).

    Reads ``self.parameters``: SignatureSecret, SecondarySignatureSecrets (rotation),
    SignatureMethod (md5, sha1, sha256 or sha512; SMS API ``sig``; default md5),
    ValidateSignatures (default true), MaxWebhookAge (seconds, default 300) and
    MaxWebhookBodySize (default 64 KiB). Retries and replays are recognised by the connector
    base through ``connector.dedup_store``.
    """

    def parse_messages(self, source: MessageSource) -> Result[ReceiveResult]:
        """Verify and parse an inbound-message webhook, with its de-duplication key (no I/O)."""
        try:
            read = self._read_vonage_webhook(source)
            if isinstance(read, ErrorInfo):
                return Err(read)
            received_at = _now().isoformat()
            try:
                if read.api == "messages":
                    message = _messages_inbound(read.fields, received_at)
                else:
                    message = _sms_inbound(read.fields, received_at)
            except _DataError as exc:
                return Err(_data_error(exc.message, exc.issues))
            key = _dedup_key(read, WebhookKind.MESSAGE)
            info: dict[str, Any] = {"dedup_key": key, "received_at": received_at,
                                    "webhook": "message", "api": read.api}
            if read.jti:
                info["jti"] = read.jti
            concat = {name: read.fields[name] for name in _CONCAT_FIELDS if name in read.fields}
            if concat:
                info["concat"] = concat
            return Ok(ReceiveResult(messages=(message,), additional_data=info))
        except Exception as exc:  # a bug or a failing store: an error result, never a traceback
            logger.exception("inbound message webhook processing failed")
            return Err(ErrorInfo(
                ConnectorErrorCodes.RECEIVE_MESSAGES_ERROR,
                f"the inbound message webhook could not be processed ({type(exc).__name__})"))

    def parse_message_status(self, source: MessageSource) -> Result[StatusUpdate]:
        """Verify and parse a status webhook or delivery receipt, with its de-duplication key."""
        try:
            read = self._read_vonage_webhook(source)
            if isinstance(read, ErrorInfo):
                return Err(read)
            try:
                if read.api == "messages":
                    update = _messages_status(read.fields)
                else:
                    update = _sms_receipt(read.fields)
            except _DataError as exc:
                return Err(_data_error(exc.message, exc.issues))
            data = {**update.additional_data, "dedup_key": _dedup_key(read, WebhookKind.STATUS),
                    "api": read.api}
            if read.jti:
                data["jti"] = read.jti
            return Ok(attrs.evolve(update, additional_data=data))
        except Exception as exc:
            logger.exception("status webhook processing failed")
            return Err(ErrorInfo(
                ConnectorErrorCodes.RECEIVE_STATUS_ERROR,
                f"the status webhook could not be processed ({type(exc).__name__})"))

    def classify_webhook(self, source: MessageSource) -> WebhookKind | None:
        """Status update or inbound message, from the fields' names (see
        :func:`classify_fields`); a request that cannot be read counts as a message (receiving
        it then answers with the right error, after the signature check)."""
        try:
            _, fields = _fields_of(source)
        except (_DataError, ValueError):
            return WebhookKind.MESSAGE
        return classify_fields(fields)

    def webhook_reply(self, kind: WebhookKind, reply: object | None = None) -> WebhookReply:
        """Vonage expects an empty 200 (anything else makes it retry); a
        :class:`~ratatosk.WebhookReply` given by the handler is used as it is."""
        if isinstance(reply, WebhookReply):
            return reply
        return WebhookReply.empty(200)

    def _read_vonage_webhook(self, source: MessageSource) -> _Read | ErrorInfo:
        """Size, method, signature and format checks, in that order."""
        if not isinstance(source, MessageSource):
            raise TypeError(f"expected a MessageSource, not {type(source).__name__}")
        parameters = getattr(self, "parameters", None)
        if not isinstance(parameters, Mapping):
            parameters = {}
        limit = _setting_int(parameters.get("MaxWebhookBodySize"), DEFAULT_MAX_WEBHOOK_BODY_SIZE)
        if len(source.body) > limit:
            return _data_error(f"the webhook body is larger than {limit} bytes",
                               reason="too_large", limit=limit)
        method = source.method.upper()
        if method not in ("POST", "GET"):
            return _data_error(f"Vonage webhooks are POST (or GET) requests, not {method}")
        try:
            api, fields = _fields_of(source)
        except _DataError as exc:
            return _data_error(exc.message, exc.issues)
        token = _bearer(source) if api == "messages" else None
        if not _setting_bool(parameters.get("ValidateSignatures"), True):
            return _Read(api, fields, _jti(token))

        secrets = _secrets(parameters)
        if not secrets:
            return ErrorInfo(MessagingErrorCodes.INVALID_CONFIGURATION,
                             "webhook signatures cannot be checked without SignatureSecret "
                             "(or set ValidateSignatures=false)")
        max_age = _setting_int(parameters.get("MaxWebhookAge"), DEFAULT_MAX_AGE)
        if api == "messages":
            problem = verify_jwt(token, secrets, body=source.body, max_age=max_age)
            if problem is not None:
                return _signature_error(problem, "jwt")
            return _Read(api, fields, _jti(token))
        method_name = parameters.get("SignatureMethod") or "md5"
        if not isinstance(method_name, str) or method_name.strip().lower() not in \
                SIGNATURE_METHODS:
            return ErrorInfo(MessagingErrorCodes.INVALID_CONFIGURATION,
                             f"SignatureMethod must be one of {', '.join(SIGNATURE_METHODS)}")
        if any(isinstance(value, (dict, list)) for value in fields.values()):
            return _data_error("an SMS API webhook's parameters are not flat values")
        problem = verify_sms_signature(fields, secrets, method=method_name, max_age=max_age)
        if problem is not None:
            return _signature_error(problem, "sig")
        return _Read(api, fields)
